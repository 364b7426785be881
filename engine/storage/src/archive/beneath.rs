//! File operations resolved strictly beneath a root directory, by file descriptor: the root is
//! opened once, every further component is opened with `openat(O_NOFOLLOW|O_DIRECTORY)` relative
//! to the previous one, and deletions are `unlinkat` of one plain name relative to the directory
//! fd that holds it. No host path is ever joined and handed to a deleting call, so neither a `..`
//! nor a symlink (from the archive, from a vfs parent copy, or swapped in meanwhile) can make a
//! whiteout or a replaced entry remove anything outside the layer.

use crate::error::{IoContext, Result, StorageError};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY).union(OFlag::O_NOFOLLOW).union(OFlag::O_CLOEXEC);

/// A directory below the root, open, with the host path it had when opened (for messages only).
pub struct DirFd {
    fd: OwnedFd,
    path: PathBuf,
}

impl DirFd {
    /// Open `root` itself (it must be a real directory, not a symlink).
    pub fn open_root(root: &Path) -> Result<DirFd> {
        let fd = openat(None, root, DIR_FLAGS, Mode::empty()).at(root)?;
        // SAFETY: openat returned a new descriptor that nothing else owns.
        Ok(DirFd { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path: root.to_path_buf() })
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Walk the normal components of `rel` (a cleaned relative path) down from this directory;
    /// each must be a real directory. Missing ones are created (0755) when `create` is set. A
    /// symlink or a non-directory on the way is refused as [`StorageError::UnsafePath`] naming
    /// `entry` (the archive entry being applied).
    pub fn walk(&self, rel: &Path, create: bool, entry: &str) -> Result<DirFd> {
        let mut cur: Option<DirFd> = None;
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(StorageError::UnsafePath { path: entry.to_string(), reason: "path escapes the target (..)" });
            };
            let at = cur.as_ref().unwrap_or(self);
            let next = at.open_subdir(name, create, entry)?;
            cur = Some(next);
        }
        match cur {
            Some(d) => Ok(d),
            None => self.try_clone(),
        }
    }

    fn try_clone(&self) -> Result<DirFd> {
        Ok(DirFd { fd: self.fd.try_clone().at(&self.path)?, path: self.path.clone() })
    }

    fn open_subdir(&self, name: &OsStr, create: bool, entry: &str) -> Result<DirFd> {
        let path = self.path.join(name);
        let open = || openat(Some(self.raw()), name, DIR_FLAGS, Mode::empty());
        let fd = match open() {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create => {
                match mkdirat(Some(self.raw()), name, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).at(&path),
                }
                let fd = open().map_err(|e| self.classify(name, e, entry, &path))?;
                // mkdirat is subject to the umask: make it exactly 0755.
                nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(0o755)).map_err(|e| {
                    let _ = nix::unistd::close(fd);
                    StorageError::Io { path: path.clone(), source: e.into() }
                })?;
                fd
            }
            Err(e) => return Err(self.classify(name, e, entry, &path)),
        };
        // SAFETY: openat returned a new descriptor that nothing else owns.
        Ok(DirFd { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path })
    }

    /// Why could `name` not be opened as a directory?
    fn classify(&self, name: &OsStr, e: Errno, entry: &str, path: &Path) -> StorageError {
        if matches!(e, Errno::ELOOP | Errno::ENOTDIR) {
            if let Ok(st) = fstatat(Some(self.raw()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
                let reason = if kind == SFlag::S_IFLNK { "path goes through a symlink" } else { "a parent is not a directory" };
                return StorageError::UnsafePath { path: entry.to_string(), reason };
            }
        }
        StorageError::Io { path: path.to_path_buf(), source: e.into() }
    }

    /// Remove `name` in this directory — file, symlink (never followed), device or whole tree;
    /// missing is fine. `name` must be one plain component (not empty, `.`, `..`, no `/`).
    pub fn remove_all(&self, name: &OsStr) -> Result<()> {
        let path = self.path.join(name);
        if !is_plain_name(name) {
            return Err(StorageError::Io { path, source: std::io::Error::from_raw_os_error(libc::EINVAL) });
        }
        remove_all_at(self.raw(), name, &path)
    }

    /// The names in this directory (without `.` and `..`).
    pub fn list(&self) -> Result<Vec<OsString>> {
        let mut d = nix::dir::Dir::openat(Some(self.raw()), ".", DIR_FLAGS, Mode::empty()).at(&self.path)?;
        let mut out = Vec::new();
        for e in d.iter() {
            let e = e.at(&self.path)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(OsString::from_vec(n.to_vec()));
            }
        }
        Ok(out)
    }
}

/// One path component usable with the `*at` calls: not empty, not `.` or `..`, no `/` or NUL.
pub fn is_plain_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b != b"." && b != b".." && !b.contains(&b'/') && !b.contains(&0)
}

fn remove_all_at(dir: RawFd, name: &OsStr, path: &Path) -> Result<()> {
    let st = match fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).at(path),
    };
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        return match unlinkat(Some(dir), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e).at(path),
        };
    }
    {
        let mut d = match nix::dir::Dir::openat(Some(dir), name, DIR_FLAGS, Mode::empty()) {
            Ok(d) => d,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(e).at(path),
        };
        let mut names = Vec::new();
        for e in d.iter() {
            let e = e.at(path)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsString::from_vec(n.to_vec()));
            }
        }
        let fd = d.as_raw_fd();
        for n in names {
            remove_all_at(fd, &n, &path.join(&n))?;
        }
    }
    match unlinkat(Some(dir), name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).at(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn plain_names() {
        for bad in ["", ".", "..", "a/b", "/", "a\0b"] {
            assert!(!is_plain_name(OsStr::new(bad)), "{bad:?}");
        }
        for good in ["a", "...", ".wh.x", "..a", "a.."] {
            assert!(is_plain_name(OsStr::new(good)), "{good:?}");
        }
    }

    #[test]
    fn remove_all_stays_below_and_never_follows_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        fs::create_dir_all(root.join("d/e")).unwrap();
        fs::create_dir_all(outside.join("sub")).unwrap();
        fs::write(outside.join("sub/x"), "x").unwrap();
        fs::write(root.join("d/e/f"), "f").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d/out")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("lnk")).unwrap();
        let r = DirFd::open_root(&root).unwrap();
        // a symlinked directory on the way is refused, never entered
        let e = r.walk(Path::new("lnk/sub"), false, "lnk/sub/.wh.x").err().unwrap();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert!(r.walk(Path::new("d/e/f"), false, "d/e/f/x").err().unwrap().to_string().contains("not a directory"));
        // a tree containing a symlink to outside: the link goes, the outside stays
        r.remove_all(OsStr::new("d")).unwrap();
        assert!(!root.join("d").exists());
        assert!(outside.join("sub/x").is_file());
        // a symlink itself: removed, its target kept
        r.remove_all(OsStr::new("lnk")).unwrap();
        assert!(fs::symlink_metadata(root.join("lnk")).is_err() && outside.join("sub/x").is_file());
        // missing is fine; names that are no plain component are refused
        r.remove_all(OsStr::new("missing")).unwrap();
        for bad in ["", ".", "..", "a/b"] {
            assert!(r.remove_all(OsStr::new(bad)).is_err(), "{bad:?}");
        }
        assert!(root.is_dir());
        // walk creates missing directories 0755
        let d = r.walk(Path::new("n/m"), true, "n/m/x").unwrap();
        assert_eq!(d.path(), root.join("n/m"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(root.join("n/m")).unwrap().permissions().mode() & 0o7777, 0o755);
    }
}
