//! Safe extraction of tar streams into a directory, hand-written: every entry name is cleaned and
//! checked (no absolute paths, no `..`, no walking through a symlink — not even one this archive
//! created), files are created with `O_NOFOLLOW|O_EXCL` after removing what was there, and hard
//! links may only point inside the target. Whiteouts are applied per [`Mode`]; one that names no
//! file (`.wh.`, `.wh..`, `.wh...`) is refused. Parents are walked and everything is deleted by
//! file descriptor, beneath the target ([`super::beneath`]).

use super::beneath::DirFd;
use super::tar_reader::{Entry, Kind, TarReader};
use super::whiteout::{self, WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE_DIR, WHITEOUT_PREFIX};
use crate::error::{IoContext, Result, StorageError};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How whiteout entries are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// overlay2 layer: `.wh.x` → 0:0 char device, `.wh..wh..opq` → `trusted.overlay.opaque=y`.
    Overlay,
    /// vfs layer (a full copy of the parent): whiteouts delete what they name.
    Naive,
    /// Plain unpack (image archives): `.wh.` names are ordinary files; no ownership changes.
    Plain,
    /// A builder's COPY/ADD into a container root: `.wh.` names are ordinary files (a build
    /// context may hold one), ownership and device nodes as the archive says.
    Copy,
}

/// Clean a tar entry name into a relative path; refuse absolute names and `..`.
pub fn clean_relative(name: &str) -> Result<PathBuf> {
    if name.starts_with('/') {
        return Err(StorageError::UnsafePath { path: name.to_string(), reason: "absolute path" });
    }
    let mut out = PathBuf::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(StorageError::UnsafePath { path: name.to_string(), reason: "path escapes the target (..)" }),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Make sure every parent of `rel` inside `root` is a real directory (creating missing ones, 0755);
/// refuse symlinks and non-directories on the way. Returns the parent directory, open.
fn ensure_parents(root: &DirFd, rel: &Path, name: &str) -> Result<DirFd> {
    root.walk(rel.parent().unwrap_or(Path::new("")), true, name)
}

/// Statistics of one extraction.
#[derive(Default, Debug)]
pub struct Applied {
    /// Sum of sizes of non-directory entries (regular file sizes, symlink target lengths).
    pub size: u64,
    pub entries: u64,
}

/// Extract every entry of `tr` below `root`.
pub fn apply<R: Read>(tr: &mut TarReader<R>, root: &Path, mode: Mode) -> Result<Applied> {
    let mut stats = Applied::default();
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    let mut created: HashSet<PathBuf> = HashSet::new();
    let root_dir = DirFd::open_root(root)?;
    while let Some(e) = tr.next_entry()? {
        let rel = clean_relative(&e.path)?;
        if rel.as_os_str().is_empty() {
            continue; // the root itself ("./")
        }
        let name = rel.file_name().expect("a cleaned, non-empty path ends in a name");
        let base = name.to_string_lossy().into_owned();
        let is_whiteout = !matches!(mode, Mode::Plain | Mode::Copy) && base.starts_with(WHITEOUT_PREFIX);
        // What a `.wh.<name>` deletes: checked before anything is touched.
        let victim = if is_whiteout && !base.starts_with(WHITEOUT_META_PREFIX) {
            Some(whiteout::whiteout_target(&e.path, &base)?)
        } else {
            None
        };
        let parent = ensure_parents(&root_dir, &rel, &e.path)?;
        let target = root.join(&rel);
        stats.entries += 1;
        if is_whiteout {
            if base == WHITEOUT_OPAQUE_DIR {
                match mode {
                    Mode::Overlay => whiteout::set_opaque_at(&parent)?,
                    _ => {
                        for child in parent.list()? {
                            if !created.contains(&parent.path().join(&child)) {
                                parent.remove_all(&child)?;
                            }
                        }
                    }
                }
            } else if let Some(victim) = victim {
                parent.remove_all(OsStr::new(victim))?;
                if mode == Mode::Overlay {
                    whiteout::make_whiteout_at(&parent, OsStr::new(victim), e.uid as u32, e.gid as u32)?;
                }
            }
            continue;
        }
        if let Kind::Other(_) = e.kind {
            continue;
        }
        // Replace whatever is there, except a directory replaced by a directory.
        let existing = fs::symlink_metadata(&target).ok();
        if let Some(m) = &existing {
            if !(m.is_dir() && e.kind == Kind::Dir) {
                parent.remove_all(name)?;
            }
        }
        create_entry(tr, &e, &root_dir, &target, mode, &mut stats)?;
        created.insert(target.clone());
        if e.kind == Kind::Hardlink {
            continue;
        }
        if mode != Mode::Plain {
            set_metadata(&target, &e)?;
        }
        if e.kind == Kind::Dir {
            dir_times.push((rel, e.mtime));
        } else {
            set_mtime(&target, e.mtime)?;
        }
    }
    // Directory times last: creating children changed them. Each directory is reached beneath the
    // root again, as a later entry may have replaced one on its way with a symlink.
    for (rel, t) in dir_times.iter().rev() {
        set_dir_mtime_beneath(&root_dir, rel, *t)?;
    }
    Ok(stats)
}

fn create_entry<R: Read>(tr: &mut TarReader<R>, e: &Entry, root: &DirFd, target: &Path, mode: Mode, stats: &mut Applied) -> Result<()> {
    let perm = e.mode & 0o7777;
    match e.kind {
        Kind::File => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(target)
                .at(target)?;
            let n = tr.read_content(&mut f)?;
            stats.size += n;
            f.set_permissions(fs::Permissions::from_mode(perm)).at(target)?;
        }
        Kind::Dir => {
            if !target.is_dir() {
                fs::create_dir(target).at(target)?;
            }
            fs::set_permissions(target, fs::Permissions::from_mode(perm)).at(target)?;
        }
        Kind::Symlink => {
            let link = e.link.clone().unwrap_or_default();
            std::os::unix::fs::symlink(&link, target).at(target)?;
            stats.size += link.len() as u64;
        }
        Kind::Hardlink => {
            let name = e.link.clone().unwrap_or_default();
            let rel = clean_relative(&name)?;
            if rel.as_os_str().is_empty() {
                return Err(StorageError::UnsafePath { path: e.path.clone(), reason: "hard link to the root" });
            }
            ensure_parents(root, &rel, &name)?;
            let src = root.path().join(&rel);
            match fs::symlink_metadata(&src) {
                Ok(m) if m.is_dir() => {
                    return Err(StorageError::UnsafePath { path: e.path.clone(), reason: "hard link to a directory" })
                }
                Ok(_) => {}
                Err(_) => {
                    return Err(StorageError::InvalidArchive(format!("hard link {:?} points to missing {:?}", e.path, name)))
                }
            }
            // link(2) does not follow a symlink source: the new name is a link to the symlink itself.
            fs::hard_link(&src, target).at(target)?;
        }
        Kind::Char | Kind::Block | Kind::Fifo => {
            if mode == Mode::Plain {
                return Ok(()); // device nodes have no business in an image archive's outer tar
            }
            use nix::sys::stat::{makedev, mknod, Mode as M, SFlag};
            let kind = match e.kind {
                Kind::Char => SFlag::S_IFCHR,
                Kind::Block => SFlag::S_IFBLK,
                _ => SFlag::S_IFIFO,
            };
            let dev = makedev(e.dev_major as u64, e.dev_minor as u64);
            mknod(target, kind, M::from_bits_truncate(perm), dev).at(target)?;
        }
        Kind::Other(_) => {}
    }
    Ok(())
}

fn set_metadata(target: &Path, e: &Entry) -> Result<()> {
    nix::unistd::fchownat(
        None,
        target,
        Some((e.uid as u32).into()),
        Some((e.gid as u32).into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .at(target)?;
    if e.kind != Kind::Symlink {
        // chown cleared setuid/setgid bits: set the mode again.
        fs::set_permissions(target, fs::Permissions::from_mode(e.mode & 0o7777)).at(target)?;
    }
    for (k, v) in &e.xattrs {
        // Ignore what the filesystem refuses (as Docker does for unsupported xattrs).
        let _ = whiteout::set_xattr(target, k, v);
    }
    Ok(())
}

fn set_mtime(target: &Path, mtime: i64) -> Result<()> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let t = TimeSpec::new(mtime, 0);
    utimensat(None, target, &t, &t, UtimensatFlags::NoFollowSymlink).at(target)
}

/// Set the mtime of the directory `rel` below `root`, if it is still a directory reached without
/// symlinks (a later entry may have removed or replaced it, or a directory above it).
fn set_dir_mtime_beneath(root: &DirFd, rel: &Path, mtime: i64) -> Result<()> {
    use nix::sys::stat::{fstatat, utimensat, SFlag, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let Some(name) = rel.file_name() else { return Ok(()) };
    let dir = match root.walk(rel.parent().unwrap_or(Path::new("")), false, &rel.to_string_lossy()) {
        Ok(d) => d,
        Err(StorageError::UnsafePath { .. }) => return Ok(()),
        Err(StorageError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    match fstatat(Some(dir.raw()), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {}
        _ => return Ok(()),
    }
    let t = TimeSpec::new(mtime, 0);
    utimensat(Some(dir.raw()), name, &t, &t, UtimensatFlags::NoFollowSymlink).at(&dir.path().join(name))
}

/// Sum of lstat sizes of all non-directories below `dir`, hard links counted once (Docker's `size`).
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in fs::read_dir(&d).at(&d)? {
            let p = ent.at(&d)?.path();
            let m = fs::symlink_metadata(&p).at(&p)?;
            if m.is_dir() {
                stack.push(p);
            } else if m.nlink() <= 1 || seen.insert((m.dev(), m.ino())) {
                total += m.size();
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_relative_rules() {
        assert_eq!(clean_relative("./etc/passwd").unwrap(), PathBuf::from("etc/passwd"));
        assert_eq!(clean_relative("etc//x/").unwrap(), PathBuf::from("etc/x"));
        assert!(clean_relative("/etc/passwd").is_err());
        assert!(clean_relative("../x").is_err());
        assert!(clean_relative("a/../../x").is_err());
        assert_eq!(clean_relative("./").unwrap(), PathBuf::new());
    }
}
