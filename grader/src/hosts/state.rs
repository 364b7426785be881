//! The lab state file: everything a running lab created (holder processes, cgroups, dirs), so
//! `reset` can remove every trace even after the grader crashed. Written atomically.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A process we started, identified by pid and start time (pids get reused).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Proc {
    pub pid: i32,
    pub starttime: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostState {
    pub name: String,
    pub hostname: String,
    pub address: String,
    pub init: Option<Proc>,
    /// Namespace inodes of the host's init (net, mnt, uts, ipc, pid).
    pub ns: std::collections::BTreeMap<String, u64>,
    /// The host's cgroup relative to each hierarchy root.
    pub cgroup: String,
    /// `cgroup.procs` files a process writes itself into to join the host's cgroups.
    pub procs_files: Vec<PathBuf>,
    pub dir: PathBuf,
    /// The veth pair: (name inside the host, name of the LAN end). Both live only in lab
    /// namespaces and vanish with them.
    #[serde(default)]
    pub veth: (String, String),
    /// Mount points the host's private mount namespace has on top of the shared filesystem
    /// (they vanish with the namespace; none is ever made in the machine's).
    #[serde(default)]
    pub mounts: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub lab_id: String,
    /// The lab's folder (its files are reachable from the hosts: the filesystem is shared).
    #[serde(default)]
    pub lab_dir: PathBuf,
    /// Marker on every helper process's command line (the state dir), found by reset.
    pub tag: String,
    pub created: String,
    pub lan: Option<Proc>,
    pub lan_netns: Option<u64>,
    pub hosts: Vec<HostState>,
    /// Cgroup directories we created, parents before children.
    pub cgroups: Vec<PathBuf>,
    #[serde(skip)]
    pub dir: PathBuf,
}

impl LabState {
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    pub fn save(&self) -> std::io::Result<()> {
        let tmp = self.dir.join("state.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, Self::file(&self.dir))
    }

    pub fn load(dir: &Path) -> std::io::Result<LabState> {
        let text = std::fs::read(Self::file(dir))?;
        let mut s: LabState = serde_json::from_slice(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        s.dir = dir.to_path_buf();
        Ok(s)
    }

    pub fn host(&self, name: &str) -> Option<&HostState> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

/// Start time (clock ticks since boot) of a live, non-zombie process.
pub fn starttime(proc_root: &Path, pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    if f.first() == Some(&"Z") || f.first() == Some(&"X") {
        return None;
    }
    // fields after the comm: state(0) ppid(1) … starttime is field 22 of stat = index 19 here
    f.get(19)?.parse().ok()
}

impl Proc {
    pub fn of(proc_root: &Path, pid: i32) -> Option<Proc> {
        starttime(proc_root, pid).map(|starttime| Proc { pid, starttime })
    }
    /// Still the same live process we started.
    pub fn alive(&self, proc_root: &Path) -> bool {
        starttime(proc_root, self.pid) == Some(self.starttime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_atomically() {
        let t = tempfile::tempdir().unwrap();
        let s = LabState {
            lab_id: "x".into(),
            lab_dir: PathBuf::new(),
            tag: "t".into(),
            created: "now".into(),
            lan: Some(Proc {
                pid: 5,
                starttime: 9,
            }),
            lan_netns: Some(1),
            hosts: vec![],
            cgroups: vec![PathBuf::from("/sys/fs/cgroup/pids/berth-lab-x")],
            dir: t.path().to_path_buf(),
        };
        s.save().unwrap();
        let l = LabState::load(t.path()).unwrap();
        assert_eq!(l.lan, s.lan);
        assert_eq!(l.cgroups, s.cgroups);
        assert!(!t.path().join("state.json.tmp").exists());
    }

    #[test]
    fn own_process_is_alive_with_its_starttime() {
        let me = std::process::id() as i32;
        let p = Proc::of(Path::new("/proc"), me).unwrap();
        assert!(p.alive(Path::new("/proc")));
        assert!(!Proc {
            pid: me,
            starttime: p.starttime + 1
        }
        .alive(Path::new("/proc")));
    }
}
