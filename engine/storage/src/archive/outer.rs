//! The outer tar of an image archive, written by hand so layer tars can be streamed straight
//! from tar-split + `diff/` (their size is known up front) without a temporary copy.

use crate::error::{IoContext, Result, StorageError};
use std::io::Write;
use std::path::Path;

pub struct OuterTar<W: Write> {
    w: W,
    mtime: u64,
}

impl<W: Write> OuterTar<W> {
    pub fn new(w: W, mtime: u64) -> Self {
        OuterTar { w, mtime }
    }

    fn header(&mut self, name: &str, size: u64, dir: bool) -> Result<()> {
        if name.len() > 100 {
            return Err(StorageError::Corrupt(format!("archive entry name too long: {name}")));
        }
        let mut h = tar::Header::new_ustar();
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_size(size);
        h.set_mtime(self.mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        self.w.write_all(h.as_bytes()).at(Path::new(name))
    }

    pub fn dir(&mut self, name: &str) -> Result<()> {
        self.header(name, 0, true)
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.stream(name, data.len() as u64, |w| w.write_all(data).at(Path::new(name)).map(|_| data.len() as u64))
    }

    /// An entry of `size` bytes produced by `f` (which must write exactly that much).
    pub fn stream(&mut self, name: &str, size: u64, f: impl FnOnce(&mut dyn Write) -> Result<u64>) -> Result<()> {
        self.header(name, size, false)?;
        let n = f(&mut self.w)?;
        if n != size {
            return Err(StorageError::Corrupt(format!("{name}: wrote {n} bytes, announced {size}")));
        }
        let pad = ((512 - size % 512) % 512) as usize;
        self.w.write_all(&vec![0u8; pad]).at(Path::new(name))
    }

    pub fn finish(mut self) -> Result<W> {
        self.w.write_all(&[0u8; 1024]).at(Path::new("<archive>"))?;
        self.w.flush().at(Path::new("<archive>"))?;
        Ok(self.w)
    }
}
