//! `docker cp` on the daemon side: stat, tar and extract paths of a container's filesystem
//! (running or not), as moby's `daemon/archive.go`. Container paths are resolved inside the
//! container's root (symlinks cannot escape it) and through its bind mounts and volumes,
//! which are not visible in the overlay's merged directory.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::state::Daemon;
use crate::container::record::Container;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("Could not find the file {path} in container {container}")]
    NotFound { path: String, container: String },
    #[error("extraction point is not a directory")]
    NotDirectory,
    #[error("container rootfs is marked read-only")]
    RootReadOnly,
    #[error("mounted volume is marked read-only")]
    VolumeReadOnly,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

impl ArchiveError {
    pub fn status(&self) -> u16 {
        match self {
            ArchiveError::NotFound { .. } => 404,
            ArchiveError::Invalid(_) => 400,
            _ => 500,
        }
    }
}

fn io(p: &Path, e: std::io::Error) -> ArchiveError {
    ArchiveError::Io(format!("{}: {e}", p.display()))
}

/// `types.ContainerPathStat`, sent base64-encoded in `X-Docker-Container-Path-Stat`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go `os.FileMode` type bits.
pub const MODE_DIR: u32 = 1 << 31;
pub const MODE_SYMLINK: u32 = 1 << 27;
const MODE_DEVICE: u32 = 1 << 26;
const MODE_PIPE: u32 = 1 << 25;
const MODE_SOCKET: u32 = 1 << 24;
const MODE_SETUID: u32 = 1 << 23;
const MODE_SETGID: u32 = 1 << 22;
const MODE_CHARDEV: u32 = 1 << 21;
const MODE_STICKY: u32 = 1 << 20;

pub fn go_mode(m: &std::fs::Metadata) -> u32 {
    let raw = m.mode();
    let mut g = raw & 0o777;
    let ft = raw & libc::S_IFMT;
    g |= match ft {
        libc::S_IFDIR => MODE_DIR,
        libc::S_IFLNK => MODE_SYMLINK,
        libc::S_IFIFO => MODE_PIPE,
        libc::S_IFSOCK => MODE_SOCKET,
        libc::S_IFBLK => MODE_DEVICE,
        libc::S_IFCHR => MODE_DEVICE | MODE_CHARDEV,
        _ => 0,
    };
    if raw & libc::S_ISUID != 0 {
        g |= MODE_SETUID;
    }
    if raw & libc::S_ISGID != 0 {
        g |= MODE_SETGID;
    }
    if raw & libc::S_ISVTX != 0 {
        g |= MODE_STICKY;
    }
    g
}

/// Lexically clean an absolute container path (`..` stops at `/`).
pub fn clean(p: &str) -> String {
    berth_build::builder::clean_abs(p)
}

/// A path that asks for its last component to be resolved (`dir/`, `dir/.`).
pub fn specifies_dir(p: &str) -> bool {
    p.ends_with('/') || p.ends_with("/.") || p == "."
}

/// archive.SplitPathDirEntry: `/a/b` → (`/a`, `b`); `/a/b/.` → (`/a/b`, `.`).
pub fn split_dir_entry(p: &str) -> (String, String) {
    let cleaned = clean_local(p);
    let cleaned = if p.ends_with("/.") || p == "." { format!("{}/.", cleaned.trim_end_matches('/')) } else { cleaned };
    match cleaned.rsplit_once('/') {
        Some(("", b)) => ("/".into(), b.into()),
        Some((d, b)) => (d.into(), b.into()),
        None => (".".into(), cleaned),
    }
}

/// Go's `filepath.Clean` for local (maybe relative) paths.
fn clean_local(p: &str) -> String {
    if p.starts_with('/') {
        return clean(p);
    }
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if out.last().map(|l| *l != "..").unwrap_or(false) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() { ".".into() } else { out.join("/") }
}

/// `strings.Replace(name, old, new, 1)`: how Docker rebases archive entry names.
pub fn replace_first(name: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        return format!("{new}{name}");
    }
    name.replacen(old, new, 1)
}

/// What a container path maps to on the host: the rootfs, or a mount's source.
#[derive(Debug, Clone)]
pub struct Mount {
    pub destination: String,
    pub source: PathBuf,
    pub read_only: bool,
}

/// The container's filesystem seen from the host.
pub struct View {
    pub rootfs: PathBuf,
    /// Longest destination first.
    pub mounts: Vec<Mount>,
    pub readonly_rootfs: bool,
}

/// Where a container path lives: host path and the mount (None = rootfs) holding it.
struct Located<'a> {
    host: PathBuf,
    mount: Option<&'a Mount>,
}

impl View {
    pub fn new(rootfs: PathBuf, mut mounts: Vec<Mount>, readonly_rootfs: bool) -> View {
        mounts.sort_by(|a, b| b.destination.len().cmp(&a.destination.len()));
        View { rootfs, mounts, readonly_rootfs }
    }

    fn locate(&self, cpath: &str) -> Located<'_> {
        for m in &self.mounts {
            let d = m.destination.trim_end_matches('/');
            if cpath == d || cpath.starts_with(&format!("{d}/")) {
                let rest = cpath[d.len()..].trim_start_matches('/');
                return Located { host: if rest.is_empty() { m.source.clone() } else { m.source.join(rest) }, mount: Some(m) };
            }
        }
        Located { host: self.rootfs.join(cpath.trim_start_matches('/')), mount: None }
    }

    /// Resolve a container path to its final container path, following symlinks inside the
    /// container (absolute links restart at the container's `/`); the last component is
    /// followed only if `follow_last`.
    pub fn resolve(&self, cpath: &str, follow_last: bool) -> Result<String, ArchiveError> {
        let mut todo: Vec<String> = clean(cpath).split('/').filter(|c| !c.is_empty()).map(String::from).rev().collect();
        let mut cur = String::from("/");
        let mut links = 0;
        while let Some(comp) = todo.pop() {
            let next = clean(&format!("{cur}/{comp}"));
            let host = self.locate(&next).host;
            let is_last = todo.is_empty();
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() && (!is_last || follow_last) => {
                    links += 1;
                    if links > 40 {
                        return Err(ArchiveError::Invalid(format!("too many links in {cpath}")));
                    }
                    let target = std::fs::read_link(&host).map_err(|e| io(&host, e))?;
                    let target = target.to_string_lossy().to_string();
                    if target.starts_with('/') {
                        cur = "/".into();
                    }
                    for c in target.split('/').filter(|c| !c.is_empty()).rev() {
                        todo.push(c.to_string());
                    }
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    pub fn host_path(&self, cpath: &str) -> PathBuf {
        self.locate(cpath).host
    }

    /// ContainerStatPath: lstat of the (not followed) path; `linkTarget` is the resolved
    /// container path of a symlink.
    pub fn stat(&self, cpath: &str, container: &str) -> Result<(PathStat, String), ArchiveError> {
        let abs = if specifies_dir(cpath) { format!("{}/.", clean(cpath).trim_end_matches('/')) } else { clean(cpath) };
        let resolved = self.resolve(cpath, specifies_dir(cpath))?;
        let host = self.host_path(&resolved);
        let not_found = || ArchiveError::NotFound { path: cpath.to_string(), container: container.to_string() };
        let m = std::fs::symlink_metadata(&host).map_err(|_| not_found())?;
        let link_target = if m.file_type().is_symlink() { self.resolve(&resolved, true)? } else { String::new() };
        let mtime = chrono::DateTime::from_timestamp(m.mtime(), m.mtime_nsec() as u32).unwrap_or_default();
        let name = abs.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("/").to_string();
        Ok((
            PathStat { name, size: m.len() as i64, mode: go_mode(&m), mtime: crate::util::time::rfc3339_nano(mtime), link_target },
            resolved,
        ))
    }

    /// ContainerArchivePath: a tar of the path whose root entry is named after the path's
    /// base (`dir`, or `.` for `dir/.`), as the docker CLI expects to rebase it.
    pub fn archive(&self, cpath: &str, container: &str, out: &mut dyn Write) -> Result<PathStat, ArchiveError> {
        let (st, resolved) = self.stat(cpath, container)?;
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        let root_name = if st.name == "/" { ".".to_string() } else { st.name.clone() };
        self.append_tree(&mut b, &resolved, &root_name)?;
        b.finish().map_err(|e| ArchiveError::Io(e.to_string()))?;
        Ok(st)
    }

    /// Add `cpath` (and below, crossing into mounts) as `name`.
    fn append_tree<W: Write>(&self, b: &mut tar::Builder<W>, cpath: &str, name: &str) -> Result<(), ArchiveError> {
        let host = self.host_path(cpath);
        let m = std::fs::symlink_metadata(&host).map_err(|e| io(&host, e))?;
        append_entry(b, &host, &m, name)?;
        if m.is_dir() {
            let mut kids: Vec<String> = std::fs::read_dir(&host)
                .map_err(|e| io(&host, e))?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
            // Mount points below this dir that the rootfs does not show (binds are not
            // mounted in the merged dir of a stopped container).
            for mnt in &self.mounts {
                if let Some(rest) = mnt.destination.strip_prefix(&format!("{}/", cpath.trim_end_matches('/'))) {
                    if !rest.contains('/') && !kids.iter().any(|k| k == rest) {
                        kids.push(rest.to_string());
                    }
                }
            }
            kids.sort();
            for k in kids {
                let child = clean(&format!("{cpath}/{k}"));
                self.append_tree(b, &child, &format!("{}/{k}", name.trim_end_matches('/')))?;
            }
        }
        Ok(())
    }

    /// ContainerExtractToDir: unpack a tar into the directory `cpath`; entries cannot escape
    /// the container's root, and each lands in the mount that holds it.
    pub fn extract(&self, cpath: &str, container: &str, src: &mut dyn Read, no_overwrite_dir_non_dir: bool, copy_uid_gid: bool) -> Result<(), ArchiveError> {
        let dir = self.resolve(cpath, true)?;
        let host = self.host_path(&dir);
        let m = std::fs::metadata(&host).map_err(|_| ArchiveError::NotFound { path: cpath.to_string(), container: container.to_string() })?;
        if !m.is_dir() {
            return Err(ArchiveError::NotDirectory);
        }
        self.check_writable(&dir)?;
        let mut ar = tar::Archive::new(src);
        for entry in ar.entries().map_err(|e| ArchiveError::Io(e.to_string()))? {
            let mut e = entry.map_err(|e| ArchiveError::Io(format!("invalid tar: {e}")))?;
            let raw = e.path().map_err(|e| ArchiveError::Io(e.to_string()))?.to_string_lossy().into_owned();
            if Path::new(&raw).components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(ArchiveError::Invalid(format!("invalid archive entry {raw:?}: path escapes the destination")));
            }
            let rel = clean(&raw);
            if rel == "/" {
                continue;
            }
            let target = clean(&format!("{dir}/{rel}"));
            let (parent, base) = target.rsplit_once('/').expect("absolute");
            // The parent may contain symlinks (from the container or earlier entries).
            let parent = self.resolve(if parent.is_empty() { "/" } else { parent }, true)?;
            let cdest = clean(&format!("{parent}/{base}"));
            self.check_writable(&cdest)?;
            let hdest = self.host_path(&cdest);
            if let Some(hp) = hdest.parent() {
                std::fs::create_dir_all(hp).map_err(|err| io(hp, err))?;
            }
            let kind = e.header().entry_type();
            let is_dir = kind.is_dir();
            if let Ok(existing) = std::fs::symlink_metadata(&hdest) {
                if no_overwrite_dir_non_dir && existing.is_dir() && !is_dir {
                    return Err(ArchiveError::Invalid(format!("cannot overwrite directory {:?} with non-directory {:?}", cdest, dir)));
                }
                if no_overwrite_dir_non_dir && !existing.is_dir() && is_dir {
                    return Err(ArchiveError::Invalid(format!("cannot overwrite non-directory {:?} with directory {:?}", cdest, dir)));
                }
                if existing.is_dir() && !is_dir {
                    std::fs::remove_dir_all(&hdest).map_err(|err| io(&hdest, err))?;
                } else if !existing.is_dir() {
                    std::fs::remove_file(&hdest).map_err(|err| io(&hdest, err))?;
                }
            }
            if kind.is_hard_link() {
                let link = e.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
                let src = self.host_path(&self.resolve(&clean(&format!("{dir}/{link}")), false)?);
                std::fs::hard_link(&src, &hdest).map_err(|err| io(&hdest, err))?;
            } else if is_dir {
                std::fs::create_dir_all(&hdest).map_err(|err| io(&hdest, err))?;
                let mode = e.header().mode().unwrap_or(0o755);
                std::fs::set_permissions(&hdest, std::fs::Permissions::from_mode(mode & 0o7777)).map_err(|err| io(&hdest, err))?;
            } else {
                e.set_preserve_permissions(true);
                e.set_preserve_mtime(true);
                e.set_unpack_xattrs(false);
                e.unpack(&hdest).map_err(|err| io(&hdest, err))?;
            }
            let (uid, gid) = if copy_uid_gid {
                (e.header().uid().unwrap_or(0) as u32, e.header().gid().unwrap_or(0) as u32)
            } else {
                (0, 0)
            };
            std::os::unix::fs::lchown(&hdest, Some(uid), Some(gid)).map_err(|err| io(&hdest, err))?;
        }
        Ok(())
    }

    fn check_writable(&self, cpath: &str) -> Result<(), ArchiveError> {
        match self.locate(cpath).mount {
            Some(m) if m.read_only => Err(ArchiveError::VolumeReadOnly),
            None if self.readonly_rootfs => Err(ArchiveError::RootReadOnly),
            _ => Ok(()),
        }
    }
}

/// A GNU `././@LongLink` record carrying a name (`L`) or link target (`K`) over 100 bytes.
fn long_link<W: Write>(b: &mut tar::Builder<W>, kind: u8, value: &[u8]) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::new(kind));
    let mut data = value.to_vec();
    data.push(0);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, &data[..])
}

/// Write the entry name byte for byte: the tar crate's path setters normalise `./a` to `a`,
/// but Docker's rebasing (`strings.Replace(name, ".", "out", 1)`) needs the `./` kept.
fn append_named<W: Write>(b: &mut tar::Builder<W>, mut h: tar::Header, name: &str, link: Option<&[u8]>, data: impl Read) -> std::io::Result<()> {
    let nb = name.as_bytes();
    if nb.len() > 100 {
        long_link(b, b'L', nb)?;
    }
    let n = nb.len().min(100);
    h.as_old_mut().name = [0; 100];
    h.as_old_mut().name[..n].copy_from_slice(&nb[..n]);
    if let Some(l) = link {
        if l.len() > 100 {
            long_link(b, b'K', l)?;
        }
        let n = l.len().min(100);
        h.as_old_mut().linkname = [0; 100];
        h.as_old_mut().linkname[..n].copy_from_slice(&l[..n]);
    }
    h.set_cksum();
    b.append(&h, data)
}

/// One tar entry for a host file: dirs get a trailing `/`, symlinks keep their target.
pub fn append_entry<W: Write>(b: &mut tar::Builder<W>, host: &Path, m: &std::fs::Metadata, name: &str) -> Result<(), ArchiveError> {
    use std::os::unix::ffi::OsStrExt;
    let name = if m.is_dir() && !name.ends_with('/') { format!("{name}/") } else { name.to_string() };
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(m, tar::HeaderMode::Complete);
    if m.file_type().is_symlink() {
        h.set_size(0);
        let target = std::fs::read_link(host).map_err(|e| io(host, e))?;
        return append_named(b, h, &name, Some(target.as_os_str().as_bytes()), std::io::empty()).map_err(|e| io(host, e));
    }
    if m.is_file() {
        let f = std::fs::File::open(host).map_err(|e| io(host, e))?;
        return append_named(b, h, &name, None, f).map_err(|e| io(host, e));
    }
    h.set_size(0);
    append_named(b, h, &name, None, std::io::empty()).map_err(|e| io(host, e))
}

/// A local path as a tar (the CLI side of `cp` into a container): the root entry is named
/// `name`, children below it.
pub fn tar_local(path: &Path, name: &str, follow_root_link: bool, out: &mut dyn Write) -> Result<(), ArchiveError> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    fn walk<W: Write>(b: &mut tar::Builder<W>, p: &Path, name: &str, follow: bool) -> Result<(), ArchiveError> {
        let m = if follow { std::fs::metadata(p) } else { std::fs::symlink_metadata(p) }.map_err(|e| io(p, e))?;
        append_entry(b, p, &m, name)?;
        if m.is_dir() {
            let mut kids: Vec<_> = std::fs::read_dir(p).map_err(|e| io(p, e))?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
            kids.sort();
            for k in kids {
                walk(b, &p.join(&k), &format!("{}/{}", name.trim_end_matches('/'), k.to_string_lossy()), false)?;
            }
        }
        Ok(())
    }
    walk(&mut b, path, name, follow_root_link)?;
    b.finish().map_err(|e| ArchiveError::Io(e.to_string()))
}

/// Untar into a local directory with entry names rebased (`old` → `new`, first occurrence),
/// refusing entries that would leave `dir` (the CLI side of `cp` out of a container).
pub fn untar_local(src: &mut dyn Read, dir: &Path, old: &str, new: &str) -> Result<u64, ArchiveError> {
    let mut ar = tar::Archive::new(src);
    let mut total = 0;
    for entry in ar.entries().map_err(|e| ArchiveError::Io(e.to_string()))? {
        let mut e = entry.map_err(|e| ArchiveError::Io(format!("invalid tar: {e}")))?;
        let raw = e.path().map_err(|e| ArchiveError::Io(e.to_string()))?.to_string_lossy().into_owned();
        let name = if old.is_empty() && new.is_empty() { raw.clone() } else { replace_first(&raw, old, new) };
        let rel = Path::new(&name);
        if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(ArchiveError::Invalid(format!("invalid archive entry {raw:?}")));
        }
        let dest = dir.join(rel);
        total += e.header().size().unwrap_or(0);
        let kind = e.header().entry_type();
        if let Ok(existing) = std::fs::symlink_metadata(&dest) {
            if existing.is_dir() && !kind.is_dir() {
                return Err(ArchiveError::Invalid(format!("cannot overwrite directory {:?} with non-directory", dest.display().to_string())));
            }
            if !existing.is_dir() && kind.is_dir() {
                return Err(ArchiveError::Invalid(format!("cannot overwrite non-directory {:?} with directory", dest.display().to_string())));
            }
            if !existing.is_dir() {
                std::fs::remove_file(&dest).map_err(|err| io(&dest, err))?;
            }
        }
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(|err| io(p, err))?;
        }
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|err| io(&dest, err))?;
            let mode = e.header().mode().unwrap_or(0o755);
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode & 0o7777)).map_err(|err| io(&dest, err))?;
        } else if kind.is_hard_link() {
            let link = e.link_name().ok().flatten().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
            let link = replace_first(&link, old, new);
            if Path::new(&link).components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(ArchiveError::Invalid(format!("invalid hard link {link:?}")));
            }
            std::fs::hard_link(dir.join(link.trim_start_matches('/')), &dest).map_err(|err| io(&dest, err))?;
        } else {
            e.set_preserve_permissions(true);
            e.set_preserve_mtime(true);
            e.unpack(&dest).map_err(|err| io(&dest, err))?;
        }
    }
    Ok(total)
}

impl Daemon {
    /// The container's filesystem view: rootfs (mounted for the duration of `f` if the
    /// container is stopped — the mount is reference-counted), binds, volumes and the
    /// hosts/hostname/resolv.conf files.
    pub fn with_view<T>(&self, c: &Container, f: impl FnOnce(&View) -> Result<T, ArchiveError>) -> Result<T, ArchiveError> {
        let rootfs = self.images.mount_rootfs(c.id()).map_err(|e| ArchiveError::Io(e.to_string()))?;
        let mut mounts = Vec::new();
        let dir = self.store.dir(c.id());
        for (name, dst) in [("resolv.conf", "/etc/resolv.conf"), ("hostname", "/etc/hostname"), ("hosts", "/etc/hosts")] {
            mounts.push(Mount { destination: dst.into(), source: dir.join(name), read_only: false });
        }
        for b in c.host_config.binds.iter().flatten() {
            if let Ok(b) = crate::container::spec::parse_bind(b, &self.volumes_root()) {
                mounts.push(Mount { destination: clean(&b.destination), source: b.source, read_only: b.read_only });
            }
        }
        for mp in c.record.mount_points.values() {
            if let (Some(s), Some(d)) = (mp["Source"].as_str(), mp["Destination"].as_str()) {
                mounts.push(Mount { destination: clean(d), source: s.into(), read_only: mp["RW"] == serde_json::json!(false) });
            }
        }
        let view = View::new(rootfs, mounts, c.host_config.readonly_rootfs);
        let r = f(&view);
        if let Err(e) = self.images.unmount_rootfs(c.id()) {
            tracing::warn!(container = %c.id(), error = %e, "can't unmount the container's rootfs");
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> (tempfile::TempDir, View) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let vol = t.path().join("vol");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::create_dir_all(&vol).unwrap();
        // runc creates mount points in the rootfs at the first start.
        std::fs::create_dir_all(root.join("mnt/v")).unwrap();
        std::fs::write(root.join("etc/passwd"), "root\n").unwrap();
        std::fs::write(root.join("data/sub/f.txt"), "hello").unwrap();
        std::fs::write(vol.join("v"), "vol").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/passwd", root.join("data/escape")).unwrap();
        let v = View::new(root, vec![Mount { destination: "/mnt/v".into(), source: vol, read_only: true }], false);
        (t, v)
    }

    #[test]
    fn paths_like_docker() {
        assert_eq!(split_dir_entry("/a/b"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_dir_entry("out"), (".".into(), "out".into()));
        assert_eq!(split_dir_entry("./x/"), (".".into(), "x".into()));
        assert_eq!(replace_first("dir/a.txt", "dir", "out"), "out/a.txt");
        assert_eq!(replace_first("./a.txt", ".", "out"), "out/a.txt");
        assert_eq!(clean("/a/../../b/./c/"), "/b/c");
    }

    #[test]
    fn resolution_stays_inside_the_container() {
        let (_t, v) = view();
        assert_eq!(v.resolve("/link/passwd", false).unwrap(), "/etc/passwd");
        assert_eq!(v.resolve("/link", false).unwrap(), "/link");
        assert_eq!(v.resolve("/link/", true).unwrap(), "/etc");
        assert_eq!(v.resolve("/data/escape", true).unwrap(), "/etc/passwd", "`..` stops at the container root");
        assert_eq!(v.host_path("/mnt/v/v"), v.mounts[0].source.join("v"));
        let (st, _) = v.stat("/link", "c1").unwrap();
        assert_eq!((st.mode & MODE_SYMLINK != 0, st.link_target.as_str()), (true, "/etc"));
        let (st, _) = v.stat("/data", "c1").unwrap();
        assert!(st.mode & MODE_DIR != 0 && st.name == "data");
        let e = v.stat("/nope", "c1").unwrap_err();
        assert_eq!(e.to_string(), "Could not find the file /nope in container c1");
    }

    #[test]
    fn archive_and_extract_round_trip() {
        let (t, v) = view();
        let mut buf = Vec::new();
        v.archive("/data", "c1", &mut buf).unwrap();
        let names: Vec<String> = tar::Archive::new(&buf[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["data/", "data/escape", "data/sub/", "data/sub/f.txt"]);
        let mut buf = Vec::new();
        v.archive("/data/.", "c1", &mut buf).unwrap();
        let first = tar::Archive::new(&buf[..]).entries().unwrap().next().unwrap().unwrap().path().unwrap().display().to_string();
        assert_eq!(first, "./");
        let mut buf = Vec::new();
        v.archive("/", "c1", &mut buf).unwrap();
        let names: Vec<String> = tar::Archive::new(&buf[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert!(names.contains(&"./mnt/v/v".to_string()), "mounts are crossed: {names:?}");

        // Extract a tar into /etc; a symlinked parent cannot lead outside the root.
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/new"), "n").unwrap();
        let mut tarball = Vec::new();
        tar_local(&src.join("d"), "d", false, &mut tarball).unwrap();
        v.extract("/link", "c1", &mut &tarball[..], true, false).unwrap();
        assert_eq!(std::fs::read_to_string(v.rootfs.join("etc/d/new")).unwrap(), "n");
        let e = v.extract("/etc/passwd", "c1", &mut &tarball[..], true, false).unwrap_err();
        assert_eq!(e.to_string(), "extraction point is not a directory");
        let e = v.extract("/mnt/v", "c1", &mut &tarball[..], true, false).unwrap_err();
        assert_eq!(e.to_string(), "mounted volume is marked read-only");
        // A file where the container has a directory.
        let mut clash = Vec::new();
        std::fs::write(src.join("sub"), "file").unwrap();
        tar_local(&src.join("sub"), "sub", false, &mut clash).unwrap();
        let e = v.extract("/data", "c1", &mut &clash[..], true, false).unwrap_err();
        assert!(e.to_string().starts_with("cannot overwrite directory \"/data/sub\" with non-directory"), "{e}");

        // Back out locally with a rebase (`cp c1:/data out`).
        let out = t.path().join("out");
        let mut buf = Vec::new();
        v.archive("/data", "c1", &mut buf).unwrap();
        untar_local(&mut &buf[..], t.path(), "data", "out").unwrap();
        assert_eq!(std::fs::read_to_string(out.join("sub/f.txt")).unwrap(), "hello");
        assert!(std::fs::symlink_metadata(out.join("escape")).unwrap().file_type().is_symlink());
    }
}
