//! A streaming tar reader (USTAR, PAX, GNU long names) that can record a tar-split as it goes.
//! Hand-written so that the bytes hashed for the diffID, the bytes recorded for re-export and the
//! entries we extract are provably the same stream; the `tar` crate is used for header fields only.

use super::tarsplit::{Crc64Iso, Recorder};
use crate::error::{Result, StorageError};
use std::io::{Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
    /// Unknown type flag: skipped by the extractor (Docker logs and skips too).
    Other(u8),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Name as written in the archive (after PAX / GNU long-name overrides).
    pub path: String,
    pub link: Option<String>,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

pub struct TarReader<R: Read> {
    r: R,
    rec: Option<Recorder>,
    remaining: u64,
    pad: u64,
    crc: Crc64Iso,
    cur_name: String,
    cur_size: u64,
    done: bool,
    any_block: bool,
}

fn invalid(msg: &str) -> StorageError {
    StorageError::InvalidArchive(msg.to_string())
}

impl<R: Read> TarReader<R> {
    pub fn new(r: R, record: bool) -> Self {
        TarReader {
            r,
            rec: if record { Some(Recorder::default()) } else { None },
            remaining: 0,
            pad: 0,
            crc: Crc64Iso::default(),
            cur_name: String::new(),
            cur_size: 0,
            done: false,
            any_block: false,
        }
    }

    /// Read exactly `buf.len()` bytes; Ok(false) on a clean EOF before the first byte.
    fn read_block(&mut self, buf: &mut [u8]) -> Result<bool> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => {
                    if n == 0 {
                        return Ok(false);
                    }
                    return Err(invalid("unexpected EOF in tar stream (truncated archive?)"));
                }
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(invalid(&format!("reading tar stream: {e}"))),
            }
        }
        Ok(true)
    }

    fn read_exact_or_truncated(&mut self, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if !self.read_block(buf)? {
            return Err(invalid("unexpected EOF in tar stream (truncated archive?)"));
        }
        Ok(())
    }

    fn raw(&mut self, b: &[u8]) {
        if let Some(r) = &mut self.rec {
            r.raw(b);
        }
    }

    /// Read a meta entry's content (PAX, GNU long name) into memory; recorded as raw bytes.
    fn read_meta(&mut self, size: u64) -> Result<Vec<u8>> {
        if size > 16 << 20 {
            return Err(invalid("tar meta header too large"));
        }
        let padded = size.div_ceil(512) * 512;
        let mut buf = vec![0u8; padded as usize];
        self.read_exact_or_truncated(&mut buf)?;
        self.raw(&buf.clone());
        buf.truncate(size as usize);
        Ok(buf)
    }

    fn finish_current(&mut self) -> Result<()> {
        if self.remaining > 0 {
            self.read_content(&mut std::io::sink())?;
        }
        if self.pad > 0 {
            let mut p = vec![0u8; self.pad as usize];
            self.read_exact_or_truncated(&mut p)?;
            self.raw(&p);
            self.pad = 0;
        }
        Ok(())
    }

    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        if self.done {
            return Ok(None);
        }
        self.finish_current()?;
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        let mut first = true;
        loop {
            let mut block = [0u8; 512];
            if !self.read_block(&mut block)? {
                if first && !self.any_block {
                    // An empty stream is an empty archive (Go's reader says io.EOF too).
                    self.done = true;
                    return Ok(None);
                }
                return Err(invalid("unexpected EOF in tar stream (truncated archive?)"));
            }
            first = false;
            self.any_block = true;
            self.raw(&block);
            if block.iter().all(|&b| b == 0) {
                // End of archive: consume the rest (second zero block, any padding) so it is hashed.
                let mut rest = Vec::new();
                self.r.read_to_end(&mut rest).map_err(|e| invalid(&format!("reading tar stream: {e}")))?;
                self.raw(&rest);
                self.done = true;
                return Ok(None);
            }
            let h = tar::Header::from_byte_slice(&block);
            check_checksum(&block)?;
            let size = h.entry_size().map_err(|_| invalid("invalid tar header: bad size field"))?;
            let flag = block[156];
            match flag {
                b'x' => {
                    let data = self.read_meta(size)?;
                    pax.extend(parse_pax(&data)?);
                    continue;
                }
                b'g' => {
                    self.read_meta(size)?;
                    continue;
                }
                b'L' => {
                    long_name = Some(cstr(&self.read_meta(size)?));
                    continue;
                }
                b'K' => {
                    long_link = Some(cstr(&self.read_meta(size)?));
                    continue;
                }
                _ => {}
            }
            let kind = match flag {
                b'0' | 0 | b'7' => Kind::File,
                b'5' => Kind::Dir,
                b'2' => Kind::Symlink,
                b'1' => Kind::Hardlink,
                b'3' => Kind::Char,
                b'4' => Kind::Block,
                b'6' => Kind::Fifo,
                o => Kind::Other(o),
            };
            let mut e = Entry {
                path: long_name.take().unwrap_or_else(|| String::from_utf8_lossy(&h.path_bytes()).into_owned()),
                link: None,
                kind,
                size,
                mode: h.mode().unwrap_or(0o644),
                uid: h.uid().unwrap_or(0),
                gid: h.gid().unwrap_or(0),
                mtime: h.mtime().unwrap_or(0) as i64,
                dev_major: h.device_major().ok().flatten().unwrap_or(0),
                dev_minor: h.device_minor().ok().flatten().unwrap_or(0),
                xattrs: Vec::new(),
            };
            if matches!(kind, Kind::Symlink | Kind::Hardlink) {
                e.link = Some(long_link.take().unwrap_or_else(|| {
                    String::from_utf8_lossy(&h.link_name_bytes().unwrap_or_default()).into_owned()
                }));
            }
            for (k, v) in pax.drain(..) {
                let s = String::from_utf8_lossy(&v).into_owned();
                match k.as_str() {
                    "path" => e.path = s,
                    "linkpath" => e.link = Some(s),
                    "size" => e.size = s.parse().map_err(|_| invalid("invalid PAX size"))?,
                    "uid" => e.uid = s.parse().unwrap_or(e.uid),
                    "gid" => e.gid = s.parse().unwrap_or(e.gid),
                    "mtime" => e.mtime = s.split('.').next().unwrap_or("0").parse().unwrap_or(e.mtime),
                    _ => {
                        if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
                            e.xattrs.push((x.to_string(), v));
                        }
                    }
                }
            }
            // Hard links, dirs, symlinks and devices carry no data even if a size is set.
            let data = match e.kind {
                Kind::File | Kind::Other(_) => e.size,
                _ => 0,
            };
            self.remaining = data;
            self.pad = (512 - data % 512) % 512;
            self.cur_name = e.path.clone();
            self.cur_size = data;
            self.crc = Crc64Iso::default();
            if data == 0 {
                let name = self.cur_name.clone();
                if let Some(r) = &mut self.rec {
                    r.file(&name, 0, None);
                }
            }
            return Ok(Some(e));
        }
    }

    /// Copy the current entry's content to `w`.
    pub fn read_content(&mut self, w: &mut dyn Write) -> Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        while self.remaining > 0 {
            let want = self.remaining.min(buf.len() as u64) as usize;
            let n = self.r.read(&mut buf[..want]).map_err(|e| invalid(&format!("reading tar stream: {e}")))?;
            if n == 0 {
                return Err(invalid("unexpected EOF in tar stream (truncated archive?)"));
            }
            self.crc.update(&buf[..n]);
            w.write_all(&buf[..n]).map_err(|e| StorageError::Io { path: self.cur_name.clone().into(), source: e })?;
            self.remaining -= n as u64;
            total += n as u64;
            if self.remaining == 0 {
                let (name, size, crc) = (self.cur_name.clone(), self.cur_size, self.crc.value());
                if let Some(r) = &mut self.rec {
                    r.file(&name, size, Some(crc));
                }
            }
        }
        Ok(total)
    }

    /// The current entry's content as a reader (same bookkeeping as [`Self::read_content`]).
    pub fn content(&mut self) -> ContentReader<'_, R> {
        ContentReader { tr: self }
    }

    /// Read everything that is left (used after the caller stopped early) and return the parts.
    pub fn into_parts(mut self) -> Result<(R, Option<Recorder>)> {
        while self.next_entry()?.is_some() {}
        Ok((self.r, self.rec))
    }
}

pub struct ContentReader<'a, R: Read> {
    tr: &'a mut TarReader<R>,
}

impl<R: Read> Read for ContentReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let t = &mut *self.tr;
        if t.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = t.remaining.min(buf.len() as u64) as usize;
        let n = t.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "unexpected EOF in tar stream (truncated archive?)"));
        }
        t.crc.update(&buf[..n]);
        t.remaining -= n as u64;
        if t.remaining == 0 {
            let (name, size, crc) = (t.cur_name.clone(), t.cur_size, t.crc.value());
            if let Some(r) = &mut t.rec {
                r.file(&name, size, Some(crc));
            }
        }
        Ok(n)
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

pub(crate) fn check_checksum(block: &[u8; 512]) -> Result<()> {
    let field = &block[148..156];
    let s: String = field.iter().take_while(|&&c| c != 0).map(|&c| c as char).collect();
    let want = u64::from_str_radix(s.trim(), 8).map_err(|_| invalid("invalid tar header (not a tar archive?)"))?;
    let mut sum: u64 = 0;
    let mut ssum: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        sum += b as u64;
        ssum += (b as i8) as i64;
    }
    if want != sum && want as i64 != ssum {
        return Err(invalid("invalid tar header: checksum mismatch (not a tar archive?)"));
    }
    Ok(())
}

fn parse_pax(mut data: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let sp = data.iter().position(|&c| c == b' ').ok_or_else(|| invalid("invalid PAX record"))?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("invalid PAX record length"))?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(invalid("invalid PAX record"));
        }
        let rec = &data[sp + 1..len - 1];
        let eq = rec.iter().position(|&c| c == b'=').ok_or_else(|| invalid("invalid PAX record"))?;
        out.push((String::from_utf8_lossy(&rec[..eq]).into_owned(), rec[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// Detect gzip and return a decompressing reader (plain tar passes through).
pub fn decompress<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>> {
    let mut br = std::io::BufReader::with_capacity(256 * 1024, r);
    let head = std::io::BufRead::fill_buf(&mut br).map_err(|e| invalid(&format!("reading archive: {e}")))?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(br)))
    } else if head.len() >= 3 && &head[..3] == b"BZh" {
        Err(invalid("bzip2-compressed archives are not supported (use gzip or plain tar)"))
    } else if head.len() >= 6 && head[..6] == [0xFD, b'7', b'z', b'X', b'Z', 0] {
        Err(invalid("xz-compressed archives are not supported (use gzip or plain tar)"))
    } else if head.len() >= 4 && head[..4] == [0x28, 0xB5, 0x2F, 0xFD] {
        Err(invalid("zstd-compressed archives are not supported (use gzip or plain tar)"))
    } else {
        Ok(Box::new(br))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "etc/", std::io::empty()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(3);
        let long = format!("etc/{}", "x".repeat(150));
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn reads_entries_and_records_exactly() {
        let data = sample();
        let mut r = TarReader::new(&data[..], true);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_str(), e.kind), ("etc/", Kind::Dir));
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.path.len(), 154);
        let mut c = Vec::new();
        r.read_content(&mut c).unwrap();
        assert_eq!(c, b"abc");
        assert!(r.next_entry().unwrap().is_none());
        let (_, rec) = r.into_parts().unwrap();
        assert_eq!(rec.unwrap().total, data.len() as u64);
    }

    #[test]
    fn junk_and_truncation_are_errors() {
        let junk = vec![b'j'; 2000];
        assert!(TarReader::new(&junk[..], false).next_entry().is_err());
        let data = sample();
        let cut = &data[..700];
        let mut r = TarReader::new(cut, false);
        let res = (|| -> Result<()> {
            while r.next_entry()?.is_some() {}
            Ok(())
        })();
        assert!(res.unwrap_err().to_string().contains("truncated"));
    }
}
