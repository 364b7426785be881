//! cgroup v2: one unified tree; controllers must be enabled in each ancestor's
//! `cgroup.subtree_control` before the container's directory can use them.

mod cpu;
mod cpuset;
mod hugetlb;
mod io;
mod memory;
mod pids;
mod unified;

use super::{create_dirs, read, read_procs, remove_dir, write, CgroupError, CgroupManager, Result};
use crate::spec::Resources;
use std::path::{Path, PathBuf};

pub(crate) trait Controller {
    const NAME: &'static str;
    fn needed(res: &Resources) -> Option<&'static str>;
    fn apply(res: &Resources, dir: &Path) -> Result<()>;
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manager {
    pub root: PathBuf,
    pub path: PathBuf,
}

impl Manager {
    pub fn new(root: PathBuf, path: PathBuf) -> Self {
        Manager { root, path }
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.path)
    }

    fn available(&self) -> Result<Vec<String>> {
        Ok(read(&self.root, "cgroup.controllers")?.split_whitespace().map(String::from).collect())
    }

    fn check<C: Controller>(&self, res: &Resources, avail: &[String]) -> Result<()> {
        if let Some(field) = C::needed(res) {
            if !avail.iter().any(|a| a == C::NAME) {
                return Err(CgroupError::MissingController { field, controller: C::NAME.into() });
            }
        }
        Ok(())
    }

    fn apply_one<C: Controller>(&self, res: &Resources) -> Result<()> {
        match C::needed(res) {
            Some(_) => C::apply(res, &self.dir()),
            None => Ok(()),
        }
    }

    /// Enables every available controller from the root down to the container's parent. Best
    /// effort per controller (a parent may refuse one, e.g. cpuset on some hosts): a controller
    /// the spec really needs then fails clearly in `apply` when its knob is missing.
    fn enable_controllers(&self) -> Result<()> {
        let avail = self.available()?;
        let wanted: Vec<&String> =
            avail.iter().filter(|c| ["cpu", "cpuset", "io", "memory", "pids", "hugetlb"].contains(&c.as_str())).collect();
        let mut cur = self.root.clone();
        let comps: Vec<_> = self.path.components().collect();
        for (i, c) in comps.iter().enumerate() {
            let enabled = read(&cur, "cgroup.subtree_control").unwrap_or_default();
            for w in &wanted {
                if !enabled.split_whitespace().any(|e| e == w.as_str()) {
                    let _ = write(&cur, "cgroup.subtree_control", format!("+{w}"));
                }
            }
            if i + 1 < comps.len() {
                cur.push(c);
            }
        }
        Ok(())
    }
}

impl CgroupManager for Manager {
    fn validate(&self, res: &Resources) -> Result<()> {
        let avail = self.available()?;
        self.check::<memory::Memory>(res, &avail)?;
        self.check::<cpu::Cpu>(res, &avail)?;
        self.check::<cpuset::Cpuset>(res, &avail)?;
        self.check::<pids::Pids>(res, &avail)?;
        self.check::<io::Io>(res, &avail)?;
        self.check::<hugetlb::Hugetlb>(res, &avail)?;
        Ok(())
    }

    fn create(&self) -> Result<Vec<PathBuf>> {
        let made = create_dirs(&self.dir())?;
        if let Err(e) = self.enable_controllers() {
            for d in made.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
        Ok(made)
    }

    fn apply(&self, res: &Resources) -> Result<()> {
        self.apply_one::<memory::Memory>(res)?;
        self.apply_one::<cpu::Cpu>(res)?;
        self.apply_one::<cpuset::Cpuset>(res)?;
        self.apply_one::<pids::Pids>(res)?;
        self.apply_one::<io::Io>(res)?;
        self.apply_one::<hugetlb::Hugetlb>(res)?;
        self.apply_one::<unified::Unified>(res)?;
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        write(&self.dir(), "cgroup.procs", pid)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        if self.dir().exists() {
            read_procs(&self.dir())
        } else {
            Ok(Vec::new())
        }
    }

    fn remove(&self) -> Result<()> {
        remove_dir(&self.dir())
    }

    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir()]
    }
}

#[cfg(test)]
mod tests;
