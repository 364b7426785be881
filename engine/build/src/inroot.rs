//! Paths inside a container's root filesystem, resolved by the kernel as if that root were `/`
//! (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`): an image's absolute symlink
//! (`/var/run -> /run`, or a hostile `/x -> /`) resolves inside the root, and `..` stops at it.
//! Builder steps write into a rootfs only through this module (CVE-2018-15664's class).

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// Normal components of `p` (a path inside the root, absolute or relative): `.` dropped,
/// `..` kept for the kernel to clamp at the root.
fn rel(p: &str) -> String {
    let t = p.trim_start_matches('/');
    if t.is_empty() {
        ".".into()
    } else {
        t.to_string()
    }
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        // SAFETY: open returned a new descriptor nothing else owns.
        Ok(Root { fd: unsafe { OwnedFd::from_raw_fd(fd) }, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_in(&self, p: &str, flags: OFlag, mode: u32) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .mode(Mode::from_bits_truncate(mode))
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = nix::fcntl::openat2(self.fd.as_raw_fd(), rel(p).as_str(), how)?;
        // SAFETY: openat2 returned a new descriptor nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Metadata of `p`, following symlinks inside the root.
    pub fn stat(&self, p: &str) -> io::Result<std::fs::Metadata> {
        let fd = self.open_in(p, OFlag::O_PATH, 0)?;
        File::from(fd).metadata()
    }

    /// Metadata of `p` itself (a final symlink is not followed; its parents are, in the root).
    pub fn lstat(&self, p: &str) -> io::Result<std::fs::Metadata> {
        let fd = self.open_in(p, OFlag::O_PATH | OFlag::O_NOFOLLOW, 0)?;
        File::from(fd).metadata()
    }

    /// Open a file for reading (symlinks followed in the root).
    pub fn open_read(&self, p: &str) -> io::Result<File> {
        Ok(File::from(self.open_in(p, OFlag::O_RDONLY, 0)?))
    }

    /// The host path `p` resolves to, every symlink resolved inside the root. Only for handing
    /// a directory we are about to fill to code that walks beneath it by fd.
    pub fn real_path(&self, p: &str) -> io::Result<PathBuf> {
        let fd = self.open_in(p, OFlag::O_PATH, 0)?;
        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    /// `mkdir -p` inside the root; directories created get `mode` and `owner`. Each prefix is
    /// resolved from the root again, so a symlink on the way is followed inside the root.
    pub fn mkdir_all(&self, p: &str, mode: u32, owner: (u32, u32)) -> io::Result<()> {
        let mut prefix = String::new();
        for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
            let parent = if prefix.is_empty() { ".".to_string() } else { prefix.clone() };
            prefix = if prefix.is_empty() { c.to_string() } else { format!("{prefix}/{c}") };
            match self.open_in(&prefix, OFlag::O_PATH | OFlag::O_DIRECTORY, 0) {
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && c != ".." => {}
                Err(e) => return Err(e),
            }
            let dir = self.open_in(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)?;
            let name = CString::new(OsStr::new(c).as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            // SAFETY: plain syscalls on a valid fd and a NUL-terminated name.
            let r = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) };
            if r != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(e);
                }
                continue;
            }
            let r = unsafe { libc::fchownat(dir.as_raw_fd(), name.as_ptr(), owner.0, owner.1, libc::AT_SYMLINK_NOFOLLOW) };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
            // mkdirat applied the umask.
            let r = unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Read a small file (`/etc/passwd`) inside the root; `None` when it does not exist.
    pub fn read_small(&self, p: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        match self.open_read(p) {
            Ok(f) => {
                let mut v = Vec::new();
                f.take(limit).read_to_end(&mut v)?;
                Ok(Some(v))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_symlinks_and_dotdot_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/hostname"), "inside").unwrap();
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        std::fs::write(t.path().join("outside"), "host").unwrap();
        let r = Root::open(&root).unwrap();
        assert_eq!(r.read_small("/escape/etc/hostname", 100).unwrap().unwrap(), b"inside");
        assert_eq!(r.read_small("up/etc/hostname", 100).unwrap().unwrap(), b"inside");
        assert!(r.read_small("/escape/../outside", 100).unwrap().is_none());
        r.mkdir_all("/escape/new/dir", 0o755, (0, 0)).unwrap_or_else(|e| {
            // Not root: chown fails, but the directory must be inside.
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        });
        assert!(root.join("new").is_dir());
        assert!(!t.path().join("new").exists());
        assert_eq!(r.real_path("/up/etc").unwrap(), root.join("etc"));
    }
}
