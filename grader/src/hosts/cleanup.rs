//! `reset`: stop every process of a lab and remove every trace, working from the state file
//! and, for what the state file may have missed (a crash between spawn and save), from the tag
//! every helper carries on its command line.

use super::{Config, HostError, LabState};
use crate::checks::procfs;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Pids of helper processes carrying `--tag <tag>`.
fn tagged(proc_root: &Path, tag: &str) -> Vec<i32> {
    procfs::pids(proc_root)
        .into_iter()
        .filter(|&p| {
            let Ok(raw) = std::fs::read(proc_root.join(p.to_string()).join("cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            args.windows(2)
                .any(|w| w[0] == b"--tag" && w[1] == tag.as_bytes())
                && args
                    .first()
                    .map(|a| a.ends_with(b"berth-lab-host"))
                    .unwrap_or(false)
        })
        .filter(|&p| !matches!(procfs::stat(proc_root, p), Some(('Z', _))))
        .collect()
}

/// Live processes in any of the lab's network namespaces (LAN or host). A namespace's inode
/// number is only unique while the namespace lives (the kernel reuses it), so a namespace is
/// only looked for while the process holding it is still the one we started.
fn in_lab_netns(proc_root: &Path, s: &LabState) -> Vec<i32> {
    let mut inodes: Vec<u64> = s
        .hosts
        .iter()
        .filter(|h| h.init.as_ref().map(|p| p.alive(proc_root)).unwrap_or(false))
        .filter_map(|h| h.ns.get("net").copied())
        .collect();
    if s.lan.as_ref().map(|p| p.alive(proc_root)).unwrap_or(false) {
        inodes.extend(s.lan_netns);
    }
    if inodes.is_empty() {
        return vec![];
    }
    procfs::pids(proc_root)
        .into_iter()
        .filter(|&p| !matches!(procfs::stat(proc_root, p), Some(('Z', _)) | None))
        .filter(|&p| {
            procfs::ns_inode(proc_root, p, "net")
                .map(|i| inodes.contains(&i))
                .unwrap_or(false)
        })
        .collect()
}

fn cgroup_dirs_deepest_first(root: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                cgroup_dirs_deepest_first(&e.path(), out);
            }
        }
    }
    out.push(root.to_path_buf());
}

/// What is still there of a lab: processes, cgroups, mounts under its dir. Empty = clean.
pub fn leftovers(config: &Config, s: &LabState) -> Vec<String> {
    let mut left = Vec::new();
    let pr = &config.proc_root;
    for p in tagged(pr, &s.tag) {
        left.push(format!("helper process {p}"));
    }
    for p in in_lab_netns(pr, s) {
        left.push(format!("process {p} in a lab network namespace"));
    }
    for h in &s.hosts {
        if let Some(p) = &h.init {
            if p.alive(pr) {
                left.push(format!("host {} init {}", h.name, p.pid));
            }
        }
    }
    for c in &s.cgroups {
        if c.exists() {
            left.push(format!("cgroup {}", c.display()));
        }
    }
    if let Ok(mi) = std::fs::read_to_string(pr.join("self/mountinfo")) {
        for m in crate::checks::mount::parse_mountinfo(&mi) {
            if m.mountpoint.starts_with(&s.tag) {
                left.push(format!("mount {}", m.mountpoint));
            }
        }
    }
    left
}

/// Cgroups a host's berthd made outside the host's own cgroup: a daemon started without
/// `--cgroup-parent /$BERTH_CGROUP` (the student restarting it by hand) puts containers in
/// `/berth/<id>` of every hierarchy. Only ids of containers in the host's own data root count.
fn stray_container_cgroups(config: &Config, s: &LabState) -> Vec<PathBuf> {
    let ids: Vec<String> = s
        .hosts
        .iter()
        .filter_map(|h| std::fs::read_dir(h.dir.join("var-lib-berth/containers")).ok())
        .flat_map(|rd| rd.flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    let Ok(ctrls) = std::fs::read_dir(&config.cgroup_root) else {
        return vec![];
    };
    let mut roots: Vec<PathBuf> = ctrls.flatten().map(|e| e.path()).collect();
    roots.push(config.cgroup_root.clone());
    roots
        .iter()
        .flat_map(|r| ids.iter().map(move |id| r.join("berth").join(id)))
        .filter(|d| d.is_dir())
        .collect()
}

/// Resets one lab (by id) under `config.state_root`. Works on a dead lab, a half-provisioned
/// one, and on an id that is not running at all (then it does nothing).
pub fn reset(config: &Config, lab_id: &str) -> Result<(), HostError> {
    let dir = config.lab_dir(lab_id);
    let Ok(state) = LabState::load(&dir) else {
        if dir.exists() {
            // No state file: nothing was started (state is written before anything else).
            std::fs::remove_dir_all(&dir).map_err(super::io(&dir))?;
        }
        return Ok(());
    };
    let pr = &config.proc_root;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut victims: Vec<i32> = tagged(pr, &state.tag);
        victims.extend(
            state
                .hosts
                .iter()
                .filter_map(|h| h.init.as_ref())
                .filter(|p| p.alive(pr))
                .map(|p| p.pid),
        );
        victims.extend(state.lan.iter().filter(|p| p.alive(pr)).map(|p| p.pid));
        victims.extend(in_lab_netns(pr, &state));
        victims.sort();
        victims.dedup();
        if victims.is_empty() {
            break;
        }
        for p in &victims {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        if Instant::now() >= deadline {
            return Err(HostError::Leftovers {
                dir: dir.display().to_string(),
                what: format!("processes {victims:?} survive SIGKILL"),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Cgroups: children the student made first, then the host's, then the lab's.
    let mut dirs = stray_container_cgroups(config, &state);
    for c in state.cgroups.iter().rev() {
        cgroup_dirs_deepest_first(c, &mut dirs);
    }
    for d in dirs {
        let until = Instant::now() + Duration::from_secs(5);
        while d.exists() {
            match std::fs::remove_dir(&d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                // A dying process may still be charged to the cgroup for a moment.
                Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    return Err(HostError::Leftovers {
                        dir: dir.display().to_string(),
                        what: format!("cgroup {}: {e}", d.display()),
                    })
                }
            }
        }
    }
    let left = leftovers(config, &state);
    if !left.is_empty() {
        return Err(HostError::Leftovers {
            dir: dir.display().to_string(),
            what: left.join(", "),
        });
    }
    std::fs::remove_dir_all(&dir).map_err(super::io(&dir))?;
    Ok(())
}

/// Resets every lab under the state root; returns the ids reset.
pub fn reset_all(config: &Config) -> Result<Vec<String>, HostError> {
    let mut ids = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&config.state_root) {
        for e in rd.flatten() {
            if e.path().join("state.json").exists() {
                let id = e.file_name().to_string_lossy().into_owned();
                reset(config, &id)?;
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// Cleans what crashed runs left without a state file to go by (e.g. a test's temporary state
/// dir removed while its lab still ran): helpers whose `--tag` dir no longer exists, and empty
/// `berth-lab-*` cgroups no live lab under `config.state_root` owns, older than a minute (so a
/// lab being provisioned right now is left alone). Returns what was removed.
pub fn reset_orphans(config: &Config) -> Vec<String> {
    let pr = &config.proc_root;
    let mut done = Vec::new();
    for p in procfs::pids(pr) {
        let Ok(raw) = std::fs::read(pr.join(p.to_string()).join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
        if !args
            .first()
            .map(|a| a.ends_with(b"berth-lab-host"))
            .unwrap_or(false)
        {
            continue;
        }
        let tag = args
            .windows(2)
            .find(|w| w[0] == b"--tag")
            .map(|w| String::from_utf8_lossy(w[1]).into_owned());
        if let Some(tag) = tag {
            if !Path::new(&tag).join("state.json").exists()
                && !matches!(procfs::stat(pr, p), Some(('Z', _)))
            {
                let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                done.push(format!("orphaned helper {p} ({tag})"));
            }
        }
    }
    if !done.is_empty() {
        std::thread::sleep(Duration::from_millis(500));
    }
    let owned: Vec<PathBuf> = std::fs::read_dir(&config.state_root)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| LabState::load(&e.path()).ok())
                .flat_map(|s| s.cgroups)
                .collect()
        })
        .unwrap_or_default();
    let Ok(controllers) = std::fs::read_dir(&config.cgroup_root) else {
        return done;
    };
    let mut roots: Vec<PathBuf> = vec![config.cgroup_root.clone()];
    roots.extend(controllers.flatten().map(|e| e.path()));
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        for e in rd.flatten() {
            let d = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let old = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .map(|a| a > Duration::from_secs(60))
                .unwrap_or(false);
            if !name.starts_with("berth-lab-") || owned.contains(&d) || !old || !d.is_dir() {
                continue;
            }
            let mut dirs = Vec::new();
            cgroup_dirs_deepest_first(&d, &mut dirs);
            let busy = dirs.iter().any(|x| {
                std::fs::read_to_string(x.join("cgroup.procs"))
                    .map(|s| !s.trim().is_empty())
                    .unwrap_or(false)
            });
            if busy {
                continue;
            }
            if dirs.iter().all(|x| std::fs::remove_dir(x).is_ok()) {
                done.push(format!("orphaned cgroup {}", d.display()));
            }
        }
    }
    done
}
