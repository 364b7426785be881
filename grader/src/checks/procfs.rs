//! Reading kernel truth from a proc tree rooted at `ctx.proc_root` (the real `/proc`, or a fake
//! tree in a tempdir for unit tests).

use super::{Ctx, ProcRef};
use std::path::Path;

pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The inode of a namespace link, e.g. `net:[4026531840]` -> 4026531840.
pub fn ns_inode(proc_root: &Path, pid: i32, ns: &str) -> Result<u64, String> {
    let p = proc_root.join(pid_dir(pid)).join("ns").join(ns);
    let target = std::fs::read_link(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let t = target.to_string_lossy();
    t.rsplit_once('[')
        .and_then(|(_, n)| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{} points to {t:?}, not a namespace", p.display()))
}

/// pid 0 means "the grader itself" (`/proc/self`).
pub fn pid_dir(pid: i32) -> String {
    if pid == 0 {
        "self".into()
    } else {
        pid.to_string()
    }
}

pub fn pids(proc_root: &Path) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(proc_root)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The command line with NULs turned into spaces; None for kernel threads and vanished pids.
pub fn cmdline(proc_root: &Path, pid: i32) -> Option<String> {
    let raw = std::fs::read(proc_root.join(pid_dir(pid)).join("cmdline")).ok()?;
    let s: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!s.is_empty()).then(|| s.join(" "))
}

/// (state, ppid) from /proc/<pid>/stat; the comm field may contain spaces and parens.
pub fn stat(proc_root: &Path, pid: i32) -> Option<(char, i32)> {
    let s = std::fs::read_to_string(proc_root.join(pid_dir(pid)).join("stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` lives in the host whose init is `host_pid`: same pid namespace as the host's
/// init, or a descendant of a process that is (nested pid namespaces created inside the host).
pub fn in_host(proc_root: &Path, host_pid: i32, pid: i32) -> bool {
    let Ok(host_ns) = ns_inode(proc_root, host_pid, "pid") else {
        return false;
    };
    let mut cur = pid;
    for _ in 0..64 {
        if cur == host_pid || ns_inode(proc_root, cur, "pid").ok() == Some(host_ns) {
            return true;
        }
        match stat(proc_root, cur) {
            Some((_, ppid)) if ppid > 0 => cur = ppid,
            _ => return false,
        }
    }
    false
}

/// Live (non-zombie) processes of a host (or of the machine when `host_pid` is None) whose
/// command line matches `re`.
pub fn find(proc_root: &Path, host_pid: Option<i32>, re: &regex::Regex) -> Vec<(i32, String)> {
    pids(proc_root)
        .into_iter()
        .filter(|&p| !matches!(stat(proc_root, p), Some(('Z', _)) | None))
        .filter(|&p| host_pid.map(|h| in_host(proc_root, h, p)).unwrap_or(true))
        .filter_map(|p| {
            cmdline(proc_root, p)
                .filter(|c| re.is_match(c))
                .map(|c| (p, c))
        })
        .collect()
}

/// Resolves a process reference to one pid, or says why it cannot.
pub fn resolve(ctx: &Ctx, r: &ProcRef) -> Result<(i32, String), String> {
    let host_pid = match &r.host {
        Some(h) => Some(
            ctx.hosts
                .pid(h)
                .ok_or_else(|| format!("host {h} is not running"))?,
        ),
        None => None,
    };
    match (&r.cmdline, host_pid) {
        (None, Some(p)) => Ok((
            p,
            format!("host {}'s init (pid {p})", r.host.as_deref().unwrap_or("")),
        )),
        (None, None) => Ok((0, "the machine (grader's own process)".into())),
        (Some(re), hp) => {
            let rx = regex::Regex::new(re).map_err(|e| format!("bad cmdline regex: {e}"))?;
            let found = find(&ctx.proc_root, hp, &rx);
            let place = r
                .host
                .as_ref()
                .map(|h| format!("on host {h}"))
                .unwrap_or_else(|| "on the machine".into());
            match found.as_slice() {
                [] => Err(format!("no process matching /{re}/ {place}")),
                [(p, c), ..] => Ok((*p, format!("pid {p} `{c}` {place}"))),
            }
        }
    }
}

/// (hierarchy id, controllers, path) lines of /proc/<pid>/cgroup.
pub fn cgroups(proc_root: &Path, pid: i32) -> Result<Vec<(String, String, String)>, String> {
    let text = read(&proc_root.join(pid_dir(pid)).join("cgroup"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect())
}

#[cfg(test)]
pub mod fake {
    //! Builders for fake proc trees.
    use std::path::Path;

    pub fn process(root: &Path, pid: i32, ppid: i32, cmdline: &[&str], ns: &[(&str, u64)]) {
        let d = root.join(pid.to_string());
        std::fs::create_dir_all(d.join("ns")).unwrap();
        let mut cl = cmdline.join("\0");
        cl.push('\0');
        std::fs::write(d.join("cmdline"), cl).unwrap();
        let comm = cmdline.first().copied().unwrap_or("kthread");
        std::fs::write(
            d.join("stat"),
            format!("{pid} ({comm}) S {ppid} 1 1 0 -1\n"),
        )
        .unwrap();
        for (n, ino) in ns {
            std::os::unix::fs::symlink(format!("{n}:[{ino}]"), d.join("ns").join(n)).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ns_inodes_and_membership() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fake::process(r, 100, 1, &["init"], &[("pid", 7), ("net", 8)]);
        fake::process(r, 200, 100, &["sleep", "3001"], &[("pid", 7), ("net", 9)]);
        fake::process(r, 300, 1, &["sleep", "3001"], &[("pid", 5), ("net", 4)]);
        fake::process(r, 400, 200, &["sleep", "9"], &[("pid", 99), ("net", 9)]);
        assert_eq!(ns_inode(r, 200, "net").unwrap(), 9);
        assert!(in_host(r, 100, 200));
        assert!(!in_host(r, 100, 300));
        assert!(in_host(r, 100, 400), "nested pid ns below the host counts");
        let rx = regex::Regex::new("^sleep 3001$").unwrap();
        assert_eq!(
            find(r, Some(100), &rx),
            vec![(200, "sleep 3001".to_string())]
        );
        assert_eq!(find(r, None, &rx).len(), 2);
        assert!(ns_inode(r, 999, "net").unwrap_err().contains("999/ns/net"));
    }
}
