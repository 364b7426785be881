//! Whiteouts: overlayfs's on-disk form (0:0 char devices, `trusted.overlay.opaque=y`) and the
//! AUFS-style tar form (`.wh.<name>`, `.wh..wh..opq`) used in image layers.

use super::beneath::DirFd;
use crate::error::{IoContext, Result, StorageError};
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
pub const WHITEOUT_OPAQUE_DIR: &str = ".wh..wh..opq";
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// An overlay whiteout: character device 0:0.
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

pub fn is_opaque(dir: &Path) -> bool {
    get_xattr(dir, OPAQUE_XATTR).map(|v| v == b"y").unwrap_or(false)
}

pub fn set_opaque(dir: &Path) -> Result<()> {
    set_xattr(dir, OPAQUE_XATTR, b"y")
}

/// The name a `.wh.<name>` entry (`entry`, whose last component is `base`) whites out. A name
/// that is no file name — empty, `.` (the directory itself), `..` (its parent: with vfs the
/// directory holding every layer), or one with `/` or NUL — is refused: deleting it would reach
/// beyond the file the whiteout stands for.
pub fn whiteout_target<'a>(entry: &str, base: &'a str) -> Result<&'a str> {
    let t = base.strip_prefix(WHITEOUT_PREFIX).expect("a whiteout name");
    let reason = match t {
        "" => "whiteout names no file (nothing after \".wh.\")",
        "." => "whiteout of \".\" would delete its own directory",
        ".." => "whiteout of \"..\" would delete outside its directory",
        _ if t.contains('/') || t.contains('\0') => "whiteout name contains '/' or NUL",
        _ => return Ok(t),
    };
    Err(StorageError::UnsafePath { path: entry.to_string(), reason })
}

/// [`set_opaque`] on an open directory.
pub fn set_opaque_at(dir: &DirFd) -> Result<()> {
    let n = CString::new(OPAQUE_XATTR).expect("xattr name");
    // SAFETY: a valid descriptor, C string and buffer.
    let r = unsafe { libc::fsetxattr(dir.raw(), n.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).at(dir.path());
    }
    Ok(())
}

/// [`make_whiteout`] for `name` (one plain component) in the open directory `dir`.
pub fn make_whiteout_at(dir: &DirFd, name: &OsStr, uid: u32, gid: u32) -> Result<()> {
    use nix::sys::stat::{mknodat, Mode, SFlag};
    let path = dir.path().join(name);
    mknodat(Some(dir.raw()), name, SFlag::S_IFCHR, Mode::empty(), 0).at(&path)?;
    nix::unistd::fchownat(Some(dir.raw()), name, Some(uid.into()), Some(gid.into()), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .at(&path)
}

pub fn make_whiteout(path: &Path, uid: u32, gid: u32) -> Result<()> {
    nix::sys::stat::mknod(path, nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0).at(path)?;
    nix::unistd::fchownat(None, path, Some(uid.into()), Some(gid.into()), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .at(path)
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

pub fn set_xattr(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    let (p, n) = (cpath(path), CString::new(name).expect("xattr name"));
    // SAFETY: valid C strings and a valid buffer.
    let r = unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).at(path);
    }
    Ok(())
}

pub fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let (p, n) = (cpath(path), CString::new(name).ok()?);
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and buffer of the given length.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteout_targets() {
        assert_eq!(whiteout_target("a/.wh.b", ".wh.b").unwrap(), "b");
        assert_eq!(whiteout_target(".wh....", ".wh....").unwrap(), "...");
        for (entry, base) in [(".wh.", ".wh."), ("d/.wh..", ".wh.."), (".wh...", ".wh..."), ("x", ".wh.a/b"), ("y", ".wh.a\0")] {
            let e = whiteout_target(entry, base).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("unsafe path in archive: {entry:?}: whiteout")), "{msg}");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        }
    }
}
