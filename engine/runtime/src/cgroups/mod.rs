//! Cgroups v1 (legacy and hybrid) and v2 (unified) behind one trait. The mode is detected at run
//! time from the filesystem magic of /sys/fs/cgroup (and /sys/fs/cgroup/unified for hybrid).
//! Each backend has one small file per controller; all of them take the cgroup directory as a
//! parameter so tests run against fake cgroupfs trees in a tempdir.

pub mod v1;
pub mod v2;

use crate::spec::Resources;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("linux.resources.{field}: cgroup controller \"{controller}\" is not available on this host")]
    MissingController { field: &'static str, controller: String },
    #[error("linux.resources.{field}: {msg}")]
    Unsupported { field: &'static str, msg: String },
    #[error("linux.cgroupsPath: {0}")]
    BadPath(String),
    #[error("cgroup {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, CgroupError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io { path: path.to_path_buf(), source }
}

pub(crate) fn write(dir: &Path, file: &str, value: impl ToString) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value.to_string()).map_err(io_err(&path))
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map(|s| s.trim().to_string()).map_err(io_err(&path))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 hierarchies for the controllers, plus a v2 mount at /sys/fs/cgroup/unified.
    Hybrid,
    /// Only cgroup2 at /sys/fs/cgroup.
    Unified,
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

fn fs_magic(path: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(path).ok().map(|s| s.filesystem_type().0)
}

pub fn detect_mode(root: &Path) -> CgroupMode {
    if fs_magic(root) == Some(CGROUP2_SUPER_MAGIC) {
        CgroupMode::Unified
    } else if fs_magic(&root.join("unified")) == Some(CGROUP2_SUPER_MAGIC) {
        CgroupMode::Hybrid
    } else {
        CgroupMode::Legacy
    }
}

/// What every backend does for a container.
pub trait CgroupManager {
    /// Fails (before anything is created) when a controller the resources need is missing.
    fn validate(&self, res: &Resources) -> Result<()>;
    /// Creates the container's cgroup directories; returns every directory it made (parents
    /// included, outermost first) so a failed launch can remove exactly those.
    fn create(&self) -> Result<Vec<PathBuf>>;
    /// Writes the resource limits.
    fn apply(&self, res: &Resources) -> Result<()>;
    fn add_task(&self, pid: i32) -> Result<()>;
    /// Processes in the container's cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Removes the container's cgroup directories (waiting briefly for exiting tasks).
    fn remove(&self) -> Result<()>;
    /// Every directory this container owns, one per hierarchy.
    fn dirs(&self) -> Vec<PathBuf>;
}

/// Enum dispatch (youki's AnyCgroupManager): no Box<dyn>, errors stay typed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum AnyManager {
    V1(v1::Manager),
    V2(v2::Manager),
}

impl AnyManager {
    /// The manager for `cgroups_path` on this host (real /sys/fs/cgroup).
    pub fn for_host(cgroups_path: &str) -> Result<AnyManager> {
        let rel = normalize_path(cgroups_path)?;
        let root = Path::new(DEFAULT_ROOT);
        Ok(match detect_mode(root) {
            CgroupMode::Unified => AnyManager::V2(v2::Manager::new(root.to_path_buf(), rel)),
            // Hybrid: controllers live in the v1 hierarchies; like runc 1.1, the v2 mount at
            // /sys/fs/cgroup/unified is left alone.
            CgroupMode::Hybrid | CgroupMode::Legacy => {
                let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
                    .map_err(io_err(Path::new("/proc/self/mountinfo")))?;
                AnyManager::V1(v1::Manager::new(v1::hierarchies_from_mountinfo(&mountinfo), rel))
            }
        })
    }

    fn inner(&self) -> &dyn CgroupManager {
        match self {
            AnyManager::V1(m) => m,
            AnyManager::V2(m) => m,
        }
    }
}

impl CgroupManager for AnyManager {
    fn validate(&self, res: &Resources) -> Result<()> {
        self.inner().validate(res)
    }
    fn create(&self) -> Result<Vec<PathBuf>> {
        self.inner().create()
    }
    fn apply(&self, res: &Resources) -> Result<()> {
        self.inner().apply(res)
    }
    fn add_task(&self, pid: i32) -> Result<()> {
        self.inner().add_task(pid)
    }
    fn pids(&self) -> Result<Vec<i32>> {
        self.inner().pids()
    }
    fn remove(&self) -> Result<()> {
        self.inner().remove()
    }
    fn dirs(&self) -> Vec<PathBuf> {
        self.inner().dirs()
    }
}

/// runc's rule: the path is taken below each hierarchy's root whether or not it starts with `/`.
/// Systemd `slice:prefix:name` paths need the systemd driver, which berth does not implement.
pub fn normalize_path(p: &str) -> Result<PathBuf> {
    if p.contains(':') {
        return Err(CgroupError::BadPath(format!("{p:?} is a systemd cgroup path; berth only has the cgroupfs driver")));
    }
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            std::path::Component::Normal(s) => out.push(s),
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            _ => return Err(CgroupError::BadPath(format!("{p:?} must not contain \"..\""))),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(CgroupError::BadPath(format!("{p:?} names the root cgroup")));
    }
    Ok(out)
}

/// Reads a `cgroup.procs` file.
pub(crate) fn read_procs(dir: &Path) -> Result<Vec<i32>> {
    Ok(read(dir, "cgroup.procs")?.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// rmdir with retries: the kernel keeps a cgroup busy for a moment after its last task exits.
pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    for attempt in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 99 => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => return Err(CgroupError::Io { path: dir.to_path_buf(), source: e }),
        }
    }
    Ok(())
}

/// Creates `dir` and its missing parents, returning the ones that were created (outermost first),
/// so a failed create can remove exactly what it made.
pub(crate) fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.exists() {
        missing.push(cur.to_path_buf());
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    missing.reverse();
    for d in &missing {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CgroupError::Io { path: d.clone(), source: e }),
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths_like_runc() {
        assert_eq!(normalize_path("/berth/abc").unwrap(), PathBuf::from("berth/abc"));
        assert_eq!(normalize_path("berth-test-1/abc").unwrap(), PathBuf::from("berth-test-1/abc"));
        assert!(normalize_path("/a/../b").is_err());
        assert!(normalize_path("system.slice:berth:abc").is_err());
        assert!(normalize_path("/").is_err());
    }

    #[test]
    fn this_host_mode_is_detected() {
        // Whatever the host runs, detection must agree with what is mounted.
        let mode = detect_mode(Path::new(DEFAULT_ROOT));
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let has_v1 = mounts.lines().any(|l| l.contains(" - cgroup "));
        assert_eq!(mode == CgroupMode::Unified, !has_v1, "{mode:?}");
    }
}
