//! vfs: every layer is a full copy of its parent plus its own changes (`vfs/dir/<id>`). Slow and
//! big, but it needs nothing from the kernel, which is why Docker (and berth) fall back to it.

use super::Driver;
use crate::error::{IoContext, Result};
use crate::fsutil;
use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct Vfs {
    home: PathBuf,
}

impl Vfs {
    pub fn new(home: &Path) -> Result<Vfs> {
        fsutil::mkdir_all_mode(&home.join("dir"), 0o700)?;
        Ok(Vfs { home: home.to_path_buf() })
    }
}

impl Driver for Vfs {
    fn name(&self) -> &'static str {
        "vfs"
    }
    fn home(&self) -> &Path {
        &self.home
    }
    fn create(&self, id: &str, parent: Option<&str>) -> Result<()> {
        let dir = self.diff_dir(id);
        fsutil::mkdir_mode(&dir, 0o755)?;
        if let Some(p) = parent {
            if let Err(e) = copy_tree(&self.diff_dir(p), &dir) {
                let _ = fsutil::remove_all(&dir);
                return Err(e);
            }
        }
        Ok(())
    }
    fn set_parent(&self, _id: &str, _parent: &str) -> Result<()> {
        Err(crate::error::StorageError::Corrupt("vfs layers cannot be re-parented (they are full copies)".into()))
    }
    fn remove(&self, id: &str) -> Result<()> {
        fsutil::remove_all(&self.diff_dir(id))
    }
    fn diff_dir(&self, id: &str) -> PathBuf {
        self.home.join("dir").join(id)
    }
    fn get(&self, id: &str) -> Result<PathBuf> {
        Ok(self.diff_dir(id))
    }
    fn put(&self, _id: &str) -> Result<()> {
        Ok(())
    }
    fn diff_is_native(&self) -> bool {
        false
    }
    fn metadata(&self, _id: &str) -> Result<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
    fn lower_dirs(&self, _id: &str) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
    fn list(&self) -> Result<Vec<String>> {
        super::list_dir(&self.home.join("dir"), &[])
    }
}

/// `cp -a`: contents of `src` into the existing dir `dst`, keeping owners, modes, times, xattrs,
/// symlinks, devices and hard links.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    copy_dir_contents(src, dst, &mut links)?;
    copy_meta(src, dst, &fs::symlink_metadata(src).at(src)?)
}

fn copy_dir_contents(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    for ent in fs::read_dir(src).at(src)? {
        let ent = ent.at(src)?;
        let (s, d) = (ent.path(), dst.join(ent.file_name()));
        let m = fs::symlink_metadata(&s).at(&s)?;
        let ft = m.file_type();
        if ft.is_dir() {
            fs::create_dir(&d).at(&d)?;
            copy_dir_contents(&s, &d, links)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&s).at(&s)?, &d).at(&d)?;
        } else if ft.is_file() {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    fs::hard_link(first, &d).at(&d)?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), d.clone());
            }
            fs::copy(&s, &d).at(&d)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            use nix::sys::stat::{mknod, Mode, SFlag};
            let kind = if ft.is_char_device() {
                SFlag::S_IFCHR
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFIFO
            };
            mknod(&d, kind, Mode::from_bits_truncate(m.mode() & 0o7777), m.rdev()).at(&d)?;
        } else {
            continue; // sockets
        }
        copy_meta(&s, &d, &m)?;
    }
    Ok(())
}

fn copy_meta(src: &Path, dst: &Path, m: &fs::Metadata) -> Result<()> {
    nix::unistd::fchownat(None, dst, Some(m.uid().into()), Some(m.gid().into()), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .at(dst)?;
    if !m.file_type().is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777)).at(dst)?;
    }
    copy_xattrs(src, dst);
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let at = TimeSpec::new(m.atime(), m.atime_nsec());
    let mt = TimeSpec::new(m.mtime(), m.mtime_nsec());
    utimensat(None, dst, &at, &mt, UtimensatFlags::NoFollowSymlink).at(dst)
}

fn copy_xattrs(src: &Path, dst: &Path) {
    let c = CString::new(src.as_os_str().as_bytes()).expect("path");
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C string and buffer.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return;
    }
    for name in buf[..n as usize].split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name);
        if let Some(v) = crate::archive::whiteout::get_xattr(src, &name) {
            let _ = crate::archive::whiteout::set_xattr(dst, &name, &v);
        }
    }
}
