//! Safe extraction of tar streams into a directory, hand-written: every entry name is cleaned and
//! checked (no absolute paths, no `..`, no walking through a symlink — not even one this archive
//! created), files are created with `O_NOFOLLOW|O_EXCL` after removing what was there, and hard
//! links may only point inside the target. Whiteouts are applied per [`Mode`].

use super::tar_reader::{Entry, Kind, TarReader};
use super::whiteout::{self, WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE_DIR, WHITEOUT_PREFIX};
use crate::error::{IoContext, Result, StorageError};
use std::collections::HashSet;
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
/// refuse symlinks and non-directories on the way.
fn ensure_parents(root: &Path, rel: &Path, name: &str) -> Result<()> {
    let mut cur = root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StorageError::UnsafePath { path: name.to_string(), reason: "path goes through a symlink" })
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(StorageError::UnsafePath { path: name.to_string(), reason: "a parent is not a directory" }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&cur).at(&cur)?;
                fs::set_permissions(&cur, fs::Permissions::from_mode(0o755)).at(&cur)?;
            }
            Err(e) => return Err(e).at(&cur),
        }
    }
    Ok(())
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
    while let Some(e) = tr.next_entry()? {
        let rel = clean_relative(&e.path)?;
        if rel.as_os_str().is_empty() {
            continue; // the root itself ("./")
        }
        ensure_parents(root, &rel, &e.path)?;
        let base = rel.file_name().unwrap().to_string_lossy().into_owned();
        let parent_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        let target = root.join(&rel);
        stats.entries += 1;
        if mode != Mode::Plain && base.starts_with(WHITEOUT_PREFIX) {
            let parent = root.join(&parent_rel);
            if base == WHITEOUT_OPAQUE_DIR {
                match mode {
                    Mode::Overlay => whiteout::set_opaque(&parent)?,
                    _ => {
                        for child in fs::read_dir(&parent).at(&parent)? {
                            let p = child.at(&parent)?.path();
                            if !created.contains(&p) {
                                crate::fsutil::remove_all(&p)?;
                            }
                        }
                    }
                }
            } else if !base.starts_with(WHITEOUT_META_PREFIX) {
                let victim = parent.join(&base[WHITEOUT_PREFIX.len()..]);
                crate::fsutil::remove_all(&victim)?;
                if mode == Mode::Overlay {
                    whiteout::make_whiteout(&victim, e.uid as u32, e.gid as u32)?;
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
                crate::fsutil::remove_all(&target)?;
            }
        }
        create_entry(tr, &e, root, &target, mode, &mut stats)?;
        created.insert(target.clone());
        if e.kind == Kind::Hardlink {
            continue;
        }
        if mode != Mode::Plain {
            set_metadata(&target, &e)?;
        }
        if e.kind == Kind::Dir {
            dir_times.push((target, e.mtime));
        } else {
            set_mtime(&target, e.mtime)?;
        }
    }
    // Directory times last: creating children changed them.
    for (d, t) in dir_times.iter().rev() {
        set_mtime(d, *t)?;
    }
    Ok(stats)
}

fn create_entry<R: Read>(tr: &mut TarReader<R>, e: &Entry, root: &Path, target: &Path, mode: Mode, stats: &mut Applied) -> Result<()> {
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
            let src = root.join(&rel);
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
