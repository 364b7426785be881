//! Whiteouts: overlayfs's on-disk form (0:0 char devices, `trusted.overlay.opaque=y`) and the
//! AUFS-style tar form (`.wh.<name>`, `.wh..wh..opq`) used in image layers.

use crate::error::{IoContext, Result};
use std::ffi::CString;
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
