//! overlay2, laid out exactly like Docker's `daemon/graphdriver/overlay2` (see the reference §1):
//! `<id>/{diff,link,lower,work,merged,committed}`, `l/<LID> -> ../<id>/diff`, `lower` nearest
//! parent first, 128 lowers at most, absolute mount options with a relative fallback (mounting
//! from inside the driver home) when they do not fit in one page.

use super::{link, Driver};
use crate::error::{IoContext, Result, StorageError};
use crate::fsutil;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most lower directories a mount may have.
pub const MAX_DEPTH: usize = 128;

pub struct Overlay2 {
    home: PathBuf,
    counts: Mutex<HashMap<String, u32>>,
}

impl Overlay2 {
    pub fn new(home: &Path) -> Result<Overlay2> {
        fsutil::mkdir_all_mode(home, 0o710)?;
        fsutil::mkdir_all_mode(&home.join("l"), 0o700)?;
        Ok(Overlay2 { home: home.to_path_buf(), counts: Mutex::new(HashMap::new()) })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.home.join(id)
    }

    /// The `lower` value for a child of `parent`: `l/<parent LID>` then the parent's own lowers.
    fn lower_for_child(&self, parent: &str) -> Result<String> {
        let plid = link::read(&self.home, parent)?;
        let mut lowers = vec![format!("l/{plid}")];
        if let Some(pl) = self.read_lower(parent)? {
            lowers.extend(pl.split(':').map(str::to_string));
        }
        if lowers.len() > MAX_DEPTH {
            return Err(StorageError::MaxDepthExceeded);
        }
        Ok(lowers.join(":"))
    }

    fn read_lower(&self, id: &str) -> Result<Option<String>> {
        let p = self.dir(id).join("lower");
        match fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at(&p),
        }
    }

    fn create_inner(&self, id: &str, parent: Option<&str>) -> Result<()> {
        let dir = self.dir(id);
        fsutil::mkdir_mode(&dir, 0o710)?;
        fsutil::mkdir_mode(&dir.join("diff"), 0o755)?;
        link::create(&self.home, id)?;
        if let Some(parent) = parent {
            let lower = self.lower_for_child(parent)?;
            fsutil::mkdir_mode(&dir.join("work"), 0o700)?;
            fsutil::write_plain(&self.dir(parent).join("committed"), b"", 0o600)?;
            fsutil::write_plain(&dir.join("lower"), lower.as_bytes(), 0o644)?;
        }
        Ok(())
    }

    fn abs_lowers(&self, id: &str) -> Result<Vec<PathBuf>> {
        let Some(lower) = self.read_lower(id)? else { return Ok(Vec::new()) };
        Ok(lower.split(':').map(|l| self.home.join(l)).collect())
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

fn index_off() -> &'static str {
    if Path::new("/sys/module/overlay/parameters/index").exists() {
        "index=off,"
    } else {
        ""
    }
}

pub(crate) fn is_mountpoint(p: &Path) -> bool {
    match (fs::metadata(p), p.parent().map(fs::metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

fn mount_overlay(target: &Path, data: &str) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data))
        .map_err(|e| StorageError::Mount(format!("mount overlay on {}: {e} (options {data})", target.display())))
}

/// Mount with paths relative to `home`: a helper thread gets its own cwd (unshare(CLONE_FS)),
/// chdirs into `home` and mounts — the thread equivalent of Docker's `docker-mountfrom` re-exec.
fn mount_from(home: &Path, target_rel: String, data: String) -> Result<()> {
    let home = home.to_path_buf();
    std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS).at(&home)?;
        nix::unistd::chdir(&home).at(&home)?;
        mount_overlay(Path::new(&target_rel), &data)
    })
    .join()
    .map_err(|_| StorageError::Mount("mount helper thread panicked".into()))?
}

impl Driver for Overlay2 {
    fn name(&self) -> &'static str {
        "overlay2"
    }

    fn home(&self) -> &Path {
        &self.home
    }

    fn create(&self, id: &str, parent: Option<&str>) -> Result<()> {
        let r = self.create_inner(id, parent);
        if r.is_err() {
            let _ = link::remove(&self.home, id);
            let _ = fsutil::remove_all(&self.dir(id));
        }
        r
    }

    fn set_parent(&self, id: &str, parent: &str) -> Result<()> {
        let dir = self.dir(id);
        let lower = self.lower_for_child(parent)?;
        if !dir.join("work").exists() {
            fsutil::mkdir_mode(&dir.join("work"), 0o700)?;
        }
        fsutil::write_plain(&self.dir(parent).join("committed"), b"", 0o600)?;
        fsutil::write_plain(&dir.join("lower"), lower.as_bytes(), 0o644)
    }

    fn remove(&self, id: &str) -> Result<()> {
        let merged = self.dir(id).join("merged");
        if is_mountpoint(&merged) {
            let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
        }
        self.counts.lock().unwrap().remove(id);
        link::remove(&self.home, id)?;
        fsutil::remove_all(&self.dir(id))
    }

    fn diff_dir(&self, id: &str) -> PathBuf {
        self.dir(id).join("diff")
    }

    fn get(&self, id: &str) -> Result<PathBuf> {
        let dir = self.dir(id);
        let Some(lower) = self.read_lower(id)? else {
            // A base layer is never mounted: its diff dir is its root filesystem.
            return Ok(dir.join("diff"));
        };
        let merged = dir.join("merged");
        let mut counts = self.counts.lock().unwrap();
        let c = counts.entry(id.to_string()).or_insert(0);
        if *c > 0 || is_mountpoint(&merged) {
            *c += 1;
            return Ok(merged);
        }
        match fs::create_dir(&merged) {
            Ok(()) => fs::set_permissions(&merged, std::os::unix::fs::PermissionsExt::from_mode(0o700)).at(&merged)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).at(&merged),
        }
        let committed = dir.join("committed").exists();
        let abs: Vec<String> = lower.split(':').map(|l| self.home.join(l).to_string_lossy().into_owned()).collect();
        let diff = dir.join("diff").to_string_lossy().into_owned();
        let work = dir.join("work").to_string_lossy().into_owned();
        let data = if committed {
            format!("{}lowerdir={diff}:{}", index_off(), abs.join(":"))
        } else {
            format!("{}lowerdir={},upperdir={diff},workdir={work}", index_off(), abs.join(":"))
        };
        let res = if data.len() > page_size() - 1 {
            let rel = if committed {
                format!("{}lowerdir={id}/diff:{lower}", index_off())
            } else {
                format!("{}lowerdir={lower},upperdir={id}/diff,workdir={id}/work", index_off())
            };
            if rel.len() > page_size() - 1 {
                Err(StorageError::Mount(format!("cannot mount layer, mount label too large {}", rel.len())))
            } else {
                mount_from(&self.home, format!("{id}/merged"), rel)
            }
        } else {
            mount_overlay(&merged, &data)
        };
        if let Err(e) = res {
            let _ = fs::remove_dir(&merged);
            counts.remove(id);
            return Err(e);
        }
        *counts.get_mut(id).unwrap() = 1;
        Ok(merged)
    }

    fn put(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        if self.read_lower(id)?.is_none() {
            return Ok(());
        }
        let merged = dir.join("merged");
        let mut counts = self.counts.lock().unwrap();
        if let Some(c) = counts.get_mut(id) {
            if *c > 1 {
                *c -= 1;
                return Ok(());
            }
        }
        counts.remove(id);
        if is_mountpoint(&merged) {
            nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH)
                .map_err(|e| StorageError::Mount(format!("unmount {}: {e}", merged.display())))?;
        }
        match fs::remove_dir(&merged) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(&merged),
            _ => Ok(()),
        }
    }

    fn diff_is_native(&self) -> bool {
        true
    }

    fn metadata(&self, id: &str) -> Result<BTreeMap<String, String>> {
        let dir = self.dir(id);
        let mut m = BTreeMap::new();
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        m.insert("MergedDir".to_string(), s(dir.join("merged")));
        m.insert("UpperDir".to_string(), s(dir.join("diff")));
        m.insert("WorkDir".to_string(), s(dir.join("work")));
        let lowers = self.lower_dirs(id)?;
        if !lowers.is_empty() {
            m.insert("LowerDir".to_string(), lowers.into_iter().map(s).collect::<Vec<_>>().join(":"));
        }
        Ok(m)
    }

    fn list(&self) -> Result<Vec<String>> {
        // Also drop dangling short links while we are here.
        let l = self.home.join("l");
        for n in super::list_dir(&l, &[])? {
            if fs::metadata(l.join(&n)).is_err() {
                let _ = fs::remove_file(l.join(&n));
            }
        }
        super::list_dir(&self.home, &["l"])
    }

    fn lower_dirs(&self, id: &str) -> Result<Vec<PathBuf>> {
        // Resolve each l/<LID> to its real diff dir, as GraphDriver.Data shows them.
        let mut out = Vec::new();
        for l in self.abs_lowers(id)? {
            let target = fs::read_link(&l).at(&l)?;
            let real = l.parent().unwrap().join(target);
            let cache = real.parent().and_then(|p| p.file_name()).map(|n| n.to_os_string()).unwrap_or_default();
            out.push(self.home.join(cache).join("diff"));
        }
        Ok(out)
    }
}
