//! The build context: the tar a client sends with `POST /build`, unpacked into a private
//! directory, with each entry's checksum as Docker's tarsum (v1) computes it while unpacking.
//! Those checksums are what COPY/ADD put in their cache key (`COPY file:<sum> in /app `): the
//! header fields without mtime (so `touch` keeps the cache, `chmod` busts it) and the content.
//!
//! Unpacking is hostile-input safe: names are cleaned (no absolute paths, no `..`), every
//! parent is walked by fd without following symlinks (`berth_storage`'s `beneath`), files are
//! created `O_EXCL|O_NOFOLLOW`, hard links must point inside, device nodes are skipped, and
//! the total size and entry count are bounded.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_storage::archive::beneath::DirFd;
use berth_storage::archive::tar_reader::{self, Entry, Kind, TarReader};
use berth_storage::archive::tar_safe::clean_relative;
use sha2::{Digest as _, Sha256};

use crate::inroot::Root;

/// Limits on a context: far above any course build, low enough that a client cannot fill the
/// daemon's disk by accident.
pub const MAX_CONTEXT_BYTES: u64 = 8 << 30;
pub const MAX_CONTEXT_ENTRIES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("invalid build context: {0}")]
    Invalid(String),
    #[error("build context: {path}: {source}")]
    Io { path: String, source: io::Error },
}

fn invalid(e: impl std::fmt::Display) -> ContextError {
    ContextError::Invalid(e.to_string())
}

pub struct Context {
    dir: PathBuf,
    /// `dir` with its symlinks resolved: what [`Root::real_path`] answers start with.
    real_dir: PathBuf,
    root: Root,
    /// tarsum per cleaned relative path (`sub/a.txt`).
    sums: HashMap<String, String>,
    /// Remove `dir` when dropped (a context we unpacked).
    owned: bool,
}

impl Drop for Context {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// tarsum v1's header encoding for one entry: `name mode uid gid size typeflag linkname uname
/// gname devmajor devminor` (no mtime; uname/gname always empty, as tarsum writes them for
/// compatibility) and the sorted xattrs, each as key followed by value, no separators.
pub fn tarsum_header(h: &mut Sha256, e: &Entry, typeflag: u8) {
    tarsum_header_named(h, e, typeflag, &(String::new(), String::new()))
}

/// [`tarsum_header`] with user and group names (moby's `WriteV1Header`, which `COPY --from`
/// checksums use, writes them).
fn tarsum_header_named(h: &mut Sha256, e: &Entry, typeflag: u8, names: &(String, String)) {
    let size = if e.kind == Kind::File { e.size } else { 0 };
    let fields: [(&str, String); 11] = [
        ("name", e.path.clone()),
        ("mode", (e.mode as i64).to_string()),
        ("uid", e.uid.to_string()),
        ("gid", e.gid.to_string()),
        ("size", size.to_string()),
        ("typeflag", (typeflag as char).to_string()),
        ("linkname", e.link.clone().unwrap_or_default()),
        ("uname", names.0.clone()),
        ("gname", names.1.clone()),
        ("devmajor", e.dev_major.to_string()),
        ("devminor", e.dev_minor.to_string()),
    ];
    for (k, v) in fields {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    let mut x: Vec<&(String, Vec<u8>)> = e.xattrs.iter().collect();
    x.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in x {
        h.update(k.as_bytes());
        h.update(v);
    }
}

fn typeflag(k: &Kind) -> u8 {
    match k {
        Kind::File => b'0',
        Kind::Hardlink => b'1',
        Kind::Symlink => b'2',
        Kind::Char => b'3',
        Kind::Block => b'4',
        Kind::Dir => b'5',
        Kind::Fifo => b'6',
        Kind::Other(c) => *c,
    }
}

struct HashingWriter<'a, W: Write> {
    w: W,
    h: &'a mut Sha256,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io { path: path.display().to_string(), source }
}

fn cstr(name: &OsStr) -> Result<std::ffi::CString, ContextError> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(name.as_bytes()).map_err(invalid)
}

impl Context {
    /// Unpack a context tar (plain or gzip) into `dir`, which must not exist yet; it is removed
    /// again when the context is dropped, or now if unpacking fails.
    pub fn from_tar(r: impl Read, dir: &Path) -> Result<Context, ContextError> {
        std::fs::create_dir(dir).map_err(io_at(dir))?;
        let root = Root::open(dir).map_err(io_at(dir))?;
        let real_dir = root.real_path("").map_err(io_at(dir))?;
        let mut ctx = Context { dir: dir.to_path_buf(), real_dir, root, sums: HashMap::new(), owned: true };
        ctx.unpack(r)?;
        Ok(ctx)
    }

    /// A directory already on disk (tests; an image's root for `COPY --from`): checksums are
    /// computed from the files when asked.
    pub fn from_dir(dir: &Path) -> Result<Context, ContextError> {
        let root = Root::open(dir).map_err(io_at(dir))?;
        let real_dir = root.real_path("").map_err(io_at(dir))?;
        Ok(Context { dir: dir.to_path_buf(), real_dir, root, sums: HashMap::new(), owned: false })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    fn unpack(&mut self, r: impl Read) -> Result<(), ContextError> {
        let r = tar_reader::decompress(r).map_err(invalid)?;
        let mut tr = TarReader::new(r, false);
        let root = DirFd::open_root(&self.dir).map_err(invalid)?;
        let (mut total, mut count) = (0u64, 0u64);
        let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
        while let Some(e) = tr.next_entry().map_err(invalid)? {
            count += 1;
            total = total.saturating_add(e.size);
            if count > MAX_CONTEXT_ENTRIES || total > MAX_CONTEXT_BYTES {
                return Err(invalid(format!("more than {MAX_CONTEXT_ENTRIES} entries or {MAX_CONTEXT_BYTES} bytes")));
            }
            let rel = clean_relative(&e.path).map_err(invalid)?;
            let key = rel.to_string_lossy().into_owned();
            let mut h = Sha256::new();
            tarsum_header(&mut h, &e, typeflag(&e.kind));
            if key.is_empty() {
                continue; // "./": the root itself
            }
            let name = rel.file_name().ok_or_else(|| invalid(format!("bad entry name {:?}", e.path)))?.to_os_string();
            let parent = root.walk(rel.parent().unwrap_or(Path::new("")), true, &e.path).map_err(invalid)?;
            let target = self.dir.join(&rel);
            let cname = cstr(&name)?;
            // A later entry replaces an earlier one of the same name (except dir over dir).
            let existing = nix::sys::stat::fstatat(Some(parent.raw()), name.as_os_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok();
            let existing_dir = existing.map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR).unwrap_or(false);
            if existing.is_some() && !(existing_dir && e.kind == Kind::Dir) {
                parent.remove_all(&name).map_err(invalid)?;
            }
            let perm = e.mode & 0o7777;
            match e.kind {
                Kind::File => {
                    // SAFETY: plain syscall on a valid dir fd and a NUL-terminated name.
                    let fd = unsafe {
                        libc::openat(parent.raw(), cname.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o600)
                    };
                    if fd < 0 {
                        return Err(io_at(&target)(io::Error::last_os_error()));
                    }
                    // SAFETY: a new descriptor nothing else owns.
                    let f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
                    let mut w = HashingWriter { w: &f, h: &mut h };
                    tr.read_content(&mut w).map_err(invalid)?;
                    use std::os::unix::fs::PermissionsExt;
                    f.set_permissions(std::fs::Permissions::from_mode(perm)).map_err(io_at(&target))?;
                    let t = nix::sys::time::TimeSpec::new(e.mtime, 0);
                    nix::sys::stat::futimens(f.as_raw_fd(), &t, &t).map_err(|er| io_at(&target)(er.into()))?;
                }
                Kind::Dir => {
                    if !existing_dir {
                        nix::sys::stat::mkdirat(Some(parent.raw()), name.as_os_str(), nix::sys::stat::Mode::from_bits_truncate(0o700))
                            .map_err(|er| io_at(&target)(er.into()))?;
                    }
                    nix::sys::stat::fchmodat(Some(parent.raw()), name.as_os_str(), nix::sys::stat::Mode::from_bits_truncate(perm), nix::sys::stat::FchmodatFlags::FollowSymlink)
                        .map_err(|er| io_at(&target)(er.into()))?;
                    dir_times.push((rel.clone(), e.mtime));
                }
                Kind::Symlink => {
                    let link = e.link.clone().unwrap_or_default();
                    nix::unistd::symlinkat(link.as_str(), Some(parent.raw()), name.as_os_str()).map_err(|er| io_at(&target)(er.into()))?;
                    // The link's own mtime, which COPY keeps (Docker's untar Lchtimes it).
                    let t = nix::sys::time::TimeSpec::new(e.mtime, 0);
                    nix::sys::stat::utimensat(Some(parent.raw()), name.as_os_str(), &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink)
                        .map_err(|er| io_at(&target)(er.into()))?;
                }
                Kind::Hardlink => {
                    let to = clean_relative(e.link.as_deref().unwrap_or("")).map_err(invalid)?;
                    let to_name = to.file_name().ok_or_else(|| invalid(format!("hard link {:?} to the root", e.path)))?;
                    let to_parent = root.walk(to.parent().unwrap_or(Path::new("")), false, &e.path).map_err(invalid)?;
                    nix::unistd::linkat(Some(to_parent.raw()), to_name, Some(parent.raw()), name.as_os_str(), nix::fcntl::AtFlags::empty())
                        .map_err(|er| io_at(&target)(er.into()))?;
                }
                // Devices and fifos have no place in a context (Docker's CLI never sends them).
                Kind::Char | Kind::Block | Kind::Fifo | Kind::Other(_) => continue,
            }
            self.sums.insert(key, hex::encode(h.finalize()));
        }
        for (rel, t) in dir_times.iter().rev() {
            if let Ok(p) = self.root.real_path(&rel.to_string_lossy()) {
                if p.starts_with(&self.dir) {
                    let ts = nix::sys::time::TimeSpec::new(*t, 0);
                    let _ = nix::sys::stat::utimensat(None, &p, &ts, &ts, nix::sys::stat::UtimensatFlags::NoFollowSymlink);
                }
            }
        }
        Ok(())
    }

    /// Remove `rel` (symlinks on the way resolved inside the context, as moby's
    /// `tarSumContext.Remove`); a path that is not there is no error. Only a context unpacked
    /// from a tar (berth's own copy) is changed: a directory given with [`Context::from_dir`]
    /// is someone's files.
    pub fn remove(&self, rel: &str) -> io::Result<()> {
        if !self.owned {
            return Ok(());
        }
        let p = match self.root.real_path(rel) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if p == self.dir || !p.starts_with(&self.dir) {
            return Ok(());
        }
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `rel` with every symlink in it resolved inside the context (moby's
    /// `FollowSymlinkInScope`), relative to the context; `None` when it does not resolve.
    pub fn resolve(&self, rel: &str) -> Option<String> {
        let p = self.root.real_path(rel).ok()?;
        Some(p.strip_prefix(&self.real_dir).ok()?.to_string_lossy().into_owned())
    }

    /// moby's `Hash(path)`: the checksum of what `rel` resolves to in the context (a symlink's
    /// is its target's: the file that gets copied); unresolvable paths hash as themselves.
    pub fn hash_followed(&self, rel: &str) -> String {
        match self.resolve(rel) {
            Some(r) => self.hash(&r),
            None => self.hash(rel),
        }
    }

    /// The checksum of one path of the context: the tarsum of the entry that created it; a
    /// path the tar did not list (an implied parent) hashes to its name.
    pub fn hash(&self, rel: &str) -> String {
        match self.sums.get(rel) {
            Some(s) => s.clone(),
            None => self.fs_hash(rel).unwrap_or_else(|| rel.to_string()),
        }
    }

    /// For contexts not unpacked from a tar (`COPY --from`'s image or stage), moby's
    /// `NewFileHash`: the same encoding over the header `archive.FileInfoHeader` makes of the
    /// file — the mode with its file type bits, the host's names for uid and gid (Go's tar
    /// looks them up), `security.capability` — and the content.
    fn fs_hash(&self, rel: &str) -> Option<String> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if !self.sums.is_empty() || self.owned {
            return None;
        }
        let md = self.root.lstat(rel).ok()?;
        let ft = md.file_type();
        let (kind, link) = if ft.is_dir() {
            (Kind::Dir, None)
        } else if ft.is_symlink() {
            (Kind::Symlink, std::fs::read_link(self.dir.join(rel)).ok().map(|l| l.to_string_lossy().into_owned()))
        } else if ft.is_file() {
            (Kind::File, None)
        } else if ft.is_fifo() {
            (Kind::Fifo, None)
        } else {
            (Kind::Other(0), None)
        };
        let name = if kind == Kind::Dir { format!("{rel}/") } else { rel.to_string() };
        let e = Entry {
            path: name,
            link,
            kind,
            size: md.len(),
            mode: md.mode(),
            uid: md.uid() as u64,
            gid: md.gid() as u64,
            mtime: 0,
            dev_major: 0,
            dev_minor: 0,
            xattrs: security_capability(&self.dir.join(rel)).map(|v| vec![("security.capability".to_string(), v)]).unwrap_or_default(),
        };
        let mut h = Sha256::new();
        let names = (berth_storage::archive::host_names::user_name(md.uid()), berth_storage::archive::host_names::group_name(md.gid()));
        tarsum_header_named(&mut h, &e, typeflag(&kind), &names);
        if kind == Kind::File {
            let mut f = self.root.open_read(rel).ok()?;
            io::copy(&mut f, &mut HashingWriter { w: io::sink(), h: &mut h }).ok()?;
        }
        Some(hex::encode(h.finalize()))
    }
}

/// The `security.capability` xattr of `p` itself (not following a symlink), if any.
fn security_capability(p: &Path) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: a NUL-terminated path, a NUL-terminated name and a buffer of the given size.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), c"security.capability".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
            } else {
                h.set_size(data.len() as u64);
            }
            h.set_mode(*mode);
            h.set_mtime(1_700_000_000);
            // Raw name bytes: the tar crate refuses to write `..`, an attacker's tool does not.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn unpacks_and_sums_ignore_mtime_but_not_mode() {
        let t = tempfile::tempdir().unwrap();
        let a = tar_of(&[("sub/", b"", 0o755), ("sub/a.txt", b"hello", 0o644)]);
        let c = Context::from_tar(&a[..], &t.path().join("c1")).unwrap();
        assert_eq!(std::fs::read(c.dir().join("sub/a.txt")).unwrap(), b"hello");
        let sum = c.hash("sub/a.txt");
        assert_eq!(sum.len(), 64);
        // Same header fields but another mtime: the same sum.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_mtime(1);
        h.set_cksum();
        b.append_data(&mut h, "sub/a.txt", &b"hello"[..]).unwrap();
        let c2 = Context::from_tar(&b.into_inner().unwrap()[..], &t.path().join("c2")).unwrap();
        assert_eq!(c2.hash("sub/a.txt"), sum);
        let c3 = Context::from_tar(&tar_of(&[("sub/a.txt", b"hello", 0o600)])[..], &t.path().join("c3")).unwrap();
        assert_ne!(c3.hash("sub/a.txt"), sum);
        drop(c);
        assert!(!t.path().join("c1").exists(), "an unpacked context is removed when dropped");
    }

    #[test]
    fn traversal_and_symlink_tricks_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let bad = tar_of(&[("../evil", b"x", 0o644)]);
        assert!(Context::from_tar(&bad[..], &t.path().join("c")).is_err());
        // A symlink, then a file "through" it: refused, nothing written outside.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "link", t.path()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "link/owned", &b"x"[..]).unwrap();
        let r = Context::from_tar(&b.into_inner().unwrap()[..], &t.path().join("d"));
        assert!(r.is_err());
        assert!(!t.path().join("owned").exists());
    }
}
