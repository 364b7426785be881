//! cgroup v1: one hierarchy per controller (or per co-mounted group), the container gets the same
//! relative directory in each.

mod blkio;
mod cpu;
mod cpuset;
mod devices;
mod hugetlb;
mod memory;
mod pids;

use super::{create_dirs, io_err, read_procs, remove_dir, write, CgroupError, CgroupManager, Result};
use crate::spec::Resources;
use std::path::{Path, PathBuf};

/// One v1 controller: which resources it handles, and how to write them.
pub(crate) trait Controller {
    const NAME: &'static str;
    /// The spec field (under linux.resources) that needs this controller, if set.
    fn needed(res: &Resources) -> Option<&'static str>;
    fn apply(res: &Resources, dir: &Path) -> Result<()>;
}

/// Subsystem names berth knows, as they appear in mount options.
const SUBSYSTEMS: [&str; 13] = [
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
    "net_cls", "net_prio", "perf_event", "rdma",
];

/// A mounted v1 hierarchy: its mount point and the subsystems (or `name=`) it carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    pub subsystems: Vec<String>,
}

/// v1 hierarchies from /proc/self/mountinfo text.
pub fn hierarchies_from_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else { continue };
        let mut post = post.split_whitespace();
        if post.next() != Some("cgroup") {
            continue;
        }
        let super_opts = post.nth(1).unwrap_or("");
        let Some(mountpoint) = pre.split_whitespace().nth(4) else { continue };
        let subsystems: Vec<String> = super_opts
            .split(',')
            .filter(|o| SUBSYSTEMS.contains(o) || o.starts_with("name="))
            .map(String::from)
            .collect();
        if subsystems.is_empty() || out.iter().any(|h| h.subsystems == subsystems) {
            continue;
        }
        out.push(Hierarchy { mountpoint: PathBuf::from(mountpoint), subsystems });
    }
    out
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manager {
    pub hierarchies: Vec<Hierarchy>,
    /// Relative to each hierarchy's root.
    pub path: PathBuf,
}

impl Manager {
    pub fn new(hierarchies: Vec<Hierarchy>, path: PathBuf) -> Self {
        Manager { hierarchies, path }
    }

    /// The container's directory in the hierarchy carrying `subsystem`.
    pub fn dir_of(&self, subsystem: &str) -> Option<PathBuf> {
        self.hierarchies
            .iter()
            .find(|h| h.subsystems.iter().any(|s| s == subsystem))
            .map(|h| h.mountpoint.join(&self.path))
    }

    fn check<C: Controller>(&self, res: &Resources) -> Result<()> {
        if let Some(field) = C::needed(res) {
            if self.dir_of(C::NAME).is_none() {
                return Err(CgroupError::MissingController { field, controller: C::NAME.into() });
            }
        }
        Ok(())
    }

    fn apply_one<C: Controller>(&self, res: &Resources) -> Result<()> {
        match (C::needed(res), self.dir_of(C::NAME)) {
            (Some(_), Some(dir)) => C::apply(res, &dir),
            _ => Ok(()),
        }
    }

    fn created_cleanup(&self, made: &[PathBuf]) {
        for d in made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl CgroupManager for Manager {
    fn validate(&self, res: &Resources) -> Result<()> {
        self.check::<memory::Memory>(res)?;
        self.check::<cpu::Cpu>(res)?;
        self.check::<cpuset::Cpuset>(res)?;
        self.check::<pids::Pids>(res)?;
        self.check::<blkio::Blkio>(res)?;
        self.check::<hugetlb::Hugetlb>(res)?;
        self.check::<devices::Devices>(res)?;
        if !res.unified.is_empty() {
            return Err(CgroupError::Unsupported {
                field: "unified",
                msg: "needs cgroup v2; this host runs cgroup v1".into(),
            });
        }
        Ok(())
    }

    fn create(&self) -> Result<Vec<PathBuf>> {
        let mut made = Vec::new();
        for d in self.dirs() {
            match create_dirs(&d) {
                Ok(m) => made.extend(m),
                Err(e) => {
                    self.created_cleanup(&made);
                    return Err(e);
                }
            }
        }
        // A new cpuset cgroup has empty cpus/mems and refuses tasks until they are filled.
        if let Some(dir) = self.dir_of("cpuset") {
            if let Err(e) = cpuset::inherit_from_parents(&dir) {
                self.created_cleanup(&made);
                return Err(e);
            }
        }
        Ok(made)
    }

    fn apply(&self, res: &Resources) -> Result<()> {
        self.apply_one::<memory::Memory>(res)?;
        self.apply_one::<cpu::Cpu>(res)?;
        self.apply_one::<cpuset::Cpuset>(res)?;
        self.apply_one::<pids::Pids>(res)?;
        self.apply_one::<blkio::Blkio>(res)?;
        self.apply_one::<hugetlb::Hugetlb>(res)?;
        self.apply_one::<devices::Devices>(res)?;
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        for d in self.dirs() {
            write(&d, "cgroup.procs", pid)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        match self.dirs().first() {
            Some(d) if d.exists() => read_procs(d),
            _ => Ok(Vec::new()),
        }
    }

    fn remove(&self) -> Result<()> {
        let mut first_err = None;
        for d in self.dirs() {
            if let Err(e) = remove_dir(&d) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn dirs(&self) -> Vec<PathBuf> {
        self.hierarchies.iter().map(|h| h.mountpoint.join(&self.path)).collect()
    }
}

/// Whether `dir/file` exists (some knobs depend on kernel config).
pub(crate) fn has(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

#[allow(dead_code)]
pub(crate) fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(io_err(path))
}

#[cfg(test)]
mod tests;
