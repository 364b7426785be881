//! Writing directory trees as tars the way Docker's `pkg/archive` does: lexical walk order, names
//! without `./`, directories with a trailing `/`, the mode with its file type bits
//! (`fillGo18FileTypeBits`: 0o100644, 0o40755), uid/gid with the names the host gives them
//! (Go's `tar.FileInfoHeader` looks them up), mtimes in seconds, hard links as link entries,
//! and optionally overlay whiteouts converted to their `.wh.` tar form. The archive ends with
//! exactly two zero blocks.

use super::whiteout::{self, WHITEOUT_OPAQUE_DIR, WHITEOUT_PREFIX};
use crate::error::{IoContext, Result};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Whiteouts {
    /// Convert 0:0 char devices and opaque dirs (an overlay upper/diff dir) to `.wh.` entries.
    FromOverlay,
    /// Write everything as is (a merged view, for export).
    None,
}

pub struct TreeWriter<W: Write> {
    b: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
    conv: Whiteouts,
    /// The host's user and group names, as looked up once per id for this archive.
    names: HashMap<(bool, u32), String>,
}

fn base_header(m: &fs::Metadata, names: &mut HashMap<(bool, u32), String>) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    // Permission, setuid/setgid/sticky and file type bits: st_mode as it is.
    h.set_mode(m.mode());
    h.set_uid(m.uid() as u64);
    h.set_gid(m.gid() as u64);
    let user = names.entry((true, m.uid())).or_insert_with(|| super::host_names::user_name(m.uid()));
    let _ = h.set_username(user);
    let group = names.entry((false, m.gid())).or_insert_with(|| super::host_names::group_name(m.gid()));
    let _ = h.set_groupname(group);
    h.set_mtime(m.mtime().max(0) as u64);
    h.set_size(0);
    h
}

impl<W: Write> TreeWriter<W> {
    pub fn new(w: W, conv: Whiteouts) -> Self {
        let mut b = tar::Builder::new(w);
        b.mode(tar::HeaderMode::Complete);
        TreeWriter { b, links: HashMap::new(), conv, names: HashMap::new() }
    }

    /// Write one entry `rel` (relative to `root`), no recursion.
    pub fn add(&mut self, root: &Path, rel: &str) -> Result<()> {
        let p = root.join(rel);
        let m = fs::symlink_metadata(&p).at(&p)?;
        let ft = m.file_type();
        let mut h = base_header(&m, &mut self.names);
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            self.append(&mut h, &format!("{rel}/"), std::io::empty(), &p)?;
            if self.conv == Whiteouts::FromOverlay && whiteout::is_opaque(&p) {
                let mut o = base_header(&m, &mut self.names);
                o.set_entry_type(tar::EntryType::Regular);
                o.set_mode(m.mode() & 0o777);
                o.set_mtime(0);
                self.append(&mut o, &format!("{rel}/{WHITEOUT_OPAQUE_DIR}"), std::io::empty(), &p)?;
            }
        } else if ft.is_symlink() {
            let target = fs::read_link(&p).at(&p)?;
            h.set_entry_type(tar::EntryType::Symlink);
            self.b.append_link(&mut h, rel, &target).at(&p)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                    let first = first.clone();
                    h.set_entry_type(tar::EntryType::Link);
                    self.b.append_link(&mut h, rel, &first).at(&p)?;
                    return Ok(());
                }
                self.links.insert((m.dev(), m.ino()), rel.to_string());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(m.size());
            let f = fs::File::open(&p).at(&p)?;
            self.append(&mut h, rel, f, &p)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            if self.conv == Whiteouts::FromOverlay && whiteout::is_whiteout(&m) {
                let (dir, base) = match rel.rsplit_once('/') {
                    Some((d, b)) => (format!("{d}/"), b),
                    None => (String::new(), rel),
                };
                // Overlayfs (Linux ≥ 5.8) makes a layer's whiteouts hard links of one inode.
                // Docker's hard link check runs before its whiteout conversion: the later
                // whiteouts keep the first one's original name as their (meaningless) link
                // name, and Docker's layers carry it.
                if m.nlink() > 1 {
                    match self.links.get(&(m.dev(), m.ino())) {
                        Some(first) => {
                            let first = first.clone();
                            h.set_link_name(&first).at(&p)?;
                        }
                        None => {
                            self.links.insert((m.dev(), m.ino()), rel.to_string());
                        }
                    }
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o600);
                self.append(&mut h, &format!("{dir}{WHITEOUT_PREFIX}{base}"), std::io::empty(), &p)?;
                return Ok(());
            }
            let rdev = m.rdev();
            h.set_entry_type(if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            });
            if !ft.is_fifo() {
                h.set_device_major(nix::sys::stat::major(rdev) as u32).at(&p)?;
                h.set_device_minor(nix::sys::stat::minor(rdev) as u32).at(&p)?;
            }
            self.append(&mut h, rel, std::io::empty(), &p)?;
        }
        // sockets are skipped, as Docker does
        Ok(())
    }

    /// A whiteout entry for a path that no longer exists (naive diffs).
    pub fn add_whiteout(&mut self, rel: &str) -> Result<()> {
        let (dir, base) = match rel.rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b),
            None => (String::new(), rel),
        };
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(0);
        h.set_mtime(0);
        let _ = h.set_username(&super::host_names::user_name(0));
        let _ = h.set_groupname(&super::host_names::group_name(0));
        self.append(&mut h, &format!("{dir}{WHITEOUT_PREFIX}{base}"), std::io::empty(), Path::new(rel))
    }

    fn append<R: std::io::Read>(&mut self, h: &mut tar::Header, name: &str, data: R, p: &Path) -> Result<()> {
        if name.len() <= 100 {
            // Keep a directory's trailing slash (tar's path setter normalises it away).
            let raw = &mut h.as_old_mut().name;
            raw.fill(0);
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            self.b.append(h, data).at(p)
        } else {
            self.b.append_data(h, name, data).at(p)
        }
    }

    /// Walk `root` (lexically, depth first) and write every entry below it.
    pub fn add_tree(&mut self, root: &Path) -> Result<()> {
        self.walk(root, "")
    }

    fn walk(&mut self, root: &Path, rel: &str) -> Result<()> {
        let dir = if rel.is_empty() { root.to_path_buf() } else { root.join(rel) };
        let mut names: Vec<String> = fs::read_dir(&dir)
            .at(&dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()
            .at(&dir)?;
        names.sort();
        for n in names {
            let r = if rel.is_empty() { n } else { format!("{rel}/{n}") };
            self.add(root, &r)?;
            let p = root.join(&r);
            if fs::symlink_metadata(&p).at(&p)?.is_dir() {
                self.walk(root, &r)?;
            }
        }
        Ok(())
    }

    /// Write the two end blocks and return the writer.
    pub fn finish(self) -> Result<W> {
        self.b.into_inner().at(Path::new("<tar stream>"))
    }
}

/// Tar a whole tree.
pub fn write_tree<W: Write>(root: &Path, w: W, conv: Whiteouts) -> Result<W> {
    let mut t = TreeWriter::new(w, conv);
    t.add_tree(root)?;
    t.finish()
}
