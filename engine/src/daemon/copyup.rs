//! Copy-up: a volume takes the image's content at its mount path, as Docker's
//! `copyExistingContents` does. Only volumes (never bind mounts), only while the volume's
//! `_data` is empty (so a volume is never copied over), and not with the `nocopy` option.
//! Files, directories, symlinks, hard links and device nodes are copied with their ownership,
//! modes, times and xattrs; symlinks are copied as links, never followed.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::archive::View;

#[derive(Debug, thiserror::Error)]
pub enum CopyUpError {
    #[error("copying image content to volume: {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("copying image content to volume: {0}")]
    Resolve(String),
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> CopyUpError + '_ {
    move |source| CopyUpError::Io { path: path.to_path_buf(), source }
}

/// Populate the volume directory `data` from container path `cpath` of `rootfs` if `data` is
/// empty (or absent) and the image has a directory there. Returns whether it copied.
pub fn populate(rootfs: &Path, cpath: &str, data: &Path) -> Result<bool, CopyUpError> {
    std::fs::create_dir_all(data).map_err(at(data))?;
    if std::fs::read_dir(data).map_err(at(data))?.next().is_some() {
        return Ok(false);
    }
    // Symlinks on the way resolve inside the rootfs, as the container would see them.
    let view = View::new(rootfs.to_path_buf(), vec![], false);
    let resolved = view.resolve(cpath, true).map_err(|e| CopyUpError::Resolve(e.to_string()))?;
    let src = view.host_path(&resolved);
    let meta = match std::fs::symlink_metadata(&src) {
        Ok(m) if m.is_dir() => m,
        // Nothing (or no directory) in the image there: the volume starts empty.
        _ => return Ok(false),
    };
    let mut links = HashMap::new();
    copy_children(&src, data, &mut links)?;
    // The volume root takes the image directory's owner and mode (moby `copyOwnership`).
    copy_attrs(&src, data, &meta)?;
    Ok(true)
}

/// (dev, ino) of multiply-linked files already copied, so hard links stay links.
type Links = HashMap<(u64, u64), PathBuf>;

fn copy_children(src: &Path, dst: &Path, links: &mut Links) -> Result<(), CopyUpError> {
    for entry in std::fs::read_dir(src).map_err(at(src))? {
        let entry = entry.map_err(at(src))?;
        let (s, d) = (entry.path(), dst.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&s).map_err(at(&s))?;
        copy_entry(&s, &d, &meta, links)?;
    }
    Ok(())
}

fn copy_entry(s: &Path, d: &Path, meta: &std::fs::Metadata, links: &mut Links) -> Result<(), CopyUpError> {
    let ft = meta.file_type();
    if !ft.is_dir() && meta.nlink() > 1 {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            return std::fs::hard_link(first, d).map_err(at(d));
        }
        links.insert((meta.dev(), meta.ino()), d.to_path_buf());
    }
    if ft.is_dir() {
        std::fs::create_dir(d).map_err(at(d))?;
        copy_children(s, d, links)?;
    } else if ft.is_file() {
        std::fs::copy(s, d).map_err(at(d))?;
    } else if ft.is_symlink() {
        let target = std::fs::read_link(s).map_err(at(s))?;
        std::os::unix::fs::symlink(target, d).map_err(at(d))?;
    } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() || ft.is_socket() {
        let c = cstr(d)?;
        // SAFETY: c is a valid NUL-terminated path.
        if unsafe { libc::mknod(c.as_ptr(), meta.mode() as libc::mode_t, meta.rdev() as libc::dev_t) } != 0 {
            return Err(CopyUpError::Io { path: d.to_path_buf(), source: io::Error::last_os_error() });
        }
    }
    copy_attrs(s, d, meta)
}

fn cstr(p: &Path) -> Result<CString, CopyUpError> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| CopyUpError::Resolve(format!("{}: NUL in path", p.display())))
}

/// Owner, then mode (chown clears set-id bits), xattrs, and last the times (writing the
/// children and xattrs would otherwise bump them).
fn copy_attrs(s: &Path, d: &Path, meta: &std::fs::Metadata) -> Result<(), CopyUpError> {
    std::os::unix::fs::lchown(d, Some(meta.uid()), Some(meta.gid())).map_err(at(d))?;
    let symlink = meta.file_type().is_symlink();
    if !symlink {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(at(d))?;
    }
    copy_xattrs(s, d)?;
    let dc = cstr(d)?;
    let times = [
        libc::timespec { tv_sec: meta.atime() as libc::time_t, tv_nsec: meta.atime_nsec() as _ },
        libc::timespec { tv_sec: meta.mtime() as libc::time_t, tv_nsec: meta.mtime_nsec() as _ },
    ];
    // SAFETY: dc is a valid path, times points at two timespecs.
    if unsafe { libc::utimensat(libc::AT_FDCWD, dc.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) } != 0 {
        return Err(CopyUpError::Io { path: d.to_path_buf(), source: io::Error::last_os_error() });
    }
    Ok(())
}

fn copy_xattrs(s: &Path, d: &Path) -> Result<(), CopyUpError> {
    let (sc, dc) = (cstr(s)?, cstr(d)?);
    let mut names = vec![0u8; 4096];
    // SAFETY: sc is a valid path; the buffer is writable for its length.
    let n = unsafe { libc::llistxattr(sc.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        // A source filesystem without xattrs has none to copy.
        return if e.raw_os_error() == Some(libc::ENOTSUP) { Ok(()) } else { Err(CopyUpError::Io { path: s.to_path_buf(), source: e }) };
    }
    names.truncate(n as usize);
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = CString::new(name).expect("split at NUL");
        let mut value = vec![0u8; 65536];
        // SAFETY: valid path and name; the buffer is writable for its length.
        let len = unsafe { libc::lgetxattr(sc.as_ptr(), name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if len < 0 {
            continue;
        }
        // SAFETY: valid path and name; value holds len bytes.
        let r = unsafe { libc::lsetxattr(dc.as_ptr(), name.as_ptr(), value.as_ptr().cast(), len as usize, 0) };
        if r != 0 {
            let e = io::Error::last_os_error();
            // File capabilities matter to the programs (moby copies exactly this one); other
            // namespaces (trusted.*, user.* on symlinks) may be refused by the volume's
            // filesystem, which must not fail the container's start.
            if name.as_bytes() == b"security.capability" {
                return Err(CopyUpError::Io { path: d.to_path_buf(), source: e });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_tree_once_and_follows_links_in_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc/sub")).unwrap();
        std::fs::write(r.join("etc/f"), "x").unwrap();
        std::fs::set_permissions(r.join("etc/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::hard_link(r.join("etc/f"), r.join("etc/sub/h")).unwrap();
        std::os::unix::fs::symlink("/etc/f", r.join("etc/l")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("link")).unwrap();
        let vol = tempfile::tempdir().unwrap();
        let data = vol.path().join("_data");
        assert!(populate(r, "/link", &data).unwrap());
        assert_eq!(std::fs::read_to_string(data.join("f")).unwrap(), "x");
        assert_eq!(std::fs::metadata(data.join("f")).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(std::fs::metadata(data.join("sub/h")).unwrap().ino(), std::fs::metadata(data.join("f")).unwrap().ino());
        assert_eq!(std::fs::read_link(data.join("l")).unwrap(), PathBuf::from("/etc/f"));
        // not empty any more: never copied over
        std::fs::remove_file(data.join("f")).unwrap();
        assert!(!populate(r, "/etc", &data).unwrap());
        assert!(!data.join("f").exists());
        // no such directory in the image: stays empty
        let other = vol.path().join("other");
        assert!(!populate(r, "/nonexistent", &other).unwrap());
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    }
}
