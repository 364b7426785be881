//! The kernel a process sees: uname(2) called inside its uts namespace (a helper thread
//! `setns`es into `/proc/<pid>/ns/uts`, as `netns` does for net, and ends), compared with what
//! another process sees. Both reads must come from different uts namespaces, so the check proves
//! that something *inside* a container (its own namespace) reports the host's kernel release,
//! not that the host agrees with itself.

use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnameCheck {
    /// Whose view: usually a container's process (`{ host = "vm1", cmdline = "^sleep 1002$" }`).
    pub of: ProcRef,
    /// The view it must equal, read in that process's (other) uts namespace: `{ host = "vm1" }`.
    pub same_as: ProcRef,
}

/// The kernel release as uname(2) reports it to the calling thread.
fn release_here() -> Result<String, String> {
    // SAFETY: utsname is plain old data; uname fills it with NUL-terminated strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(format!("uname: {}", std::io::Error::last_os_error()));
    }
    let r = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) };
    Ok(r.to_string_lossy().into_owned())
}

/// The kernel release seen inside the uts namespace of `pid` (0: the grader's own).
pub fn release_in(proc_root: &Path, pid: i32) -> Result<String, String> {
    if pid == 0 {
        return release_here();
    }
    let p = proc_root.join(pid.to_string()).join("ns/uts");
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = std::fs::File::open(&p).map_err(|e| format!("cannot open {}: {e}", p.display()))?;
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWUTS).map_err(|e| format!("setns into {}: {e}", p.display()))?;
            release_here()
        })
        .join()
        .map_err(|_| "uname probe thread panicked".to_string())?
    })
}

impl UnameCheck {
    pub fn describe(&self) -> String {
        format!(
            "kernel release seen inside the uts namespace of {} equals the one seen by {} (another uts namespace)",
            self.of, self.same_as
        )
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        self.probe_with(ctx, &|pid| release_in(&ctx.proc_root, pid))
    }

    /// `read` gives the release seen in a pid's uts namespace (fake in unit tests).
    fn probe_with(&self, ctx: &Ctx, read: &dyn Fn(i32) -> Result<String, String>) -> Outcome {
        let expected = self.describe();
        let side = |r: &ProcRef| -> Result<(i32, u64, String), String> {
            let (pid, who) = procfs::resolve(ctx, r)?;
            let ino = procfs::ns_inode(&ctx.proc_root, pid, "uts")?;
            Ok((pid, ino, who))
        };
        let ((pa, ia, wa), (pb, ib, wb)) = match (side(&self.of), side(&self.same_as)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Outcome::fail(expected, e),
        };
        if ia == ib {
            return Outcome::fail(
                expected,
                format!("{wa} is in uts:[{ia}], the same namespace as {wb}: not a view from inside a container"),
            );
        }
        let (ra, rb) = match (read(pa), read(pb)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Outcome::fail(expected, e),
        };
        let observed = format!("{wa} (uts:[{ia}]) sees {ra}; {wb} (uts:[{ib}]) sees {rb}");
        if ra == rb {
            Outcome::pass(observed)
        } else {
            Outcome::fail(expected, observed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::procfs::fake;
    use crate::checks::testing::{ctx, FakeHosts};

    fn lab(root: &Path) -> FakeHosts {
        let p = root.join("proc");
        fake::process(&p, 100, 1, &["init"], &[("uts", 7), ("pid", 7)]);
        // A container's process (own uts namespace) and a plain process of the host.
        fake::process(&p, 200, 100, &["sleep", "1002"], &[("uts", 9), ("pid", 9)]);
        fake::process(&p, 300, 100, &["sleep", "1003"], &[("uts", 7), ("pid", 7)]);
        FakeHosts { pids: [("vm1".to_string(), 100)].into(), ..Default::default() }
    }

    fn check(cmdline: &str) -> UnameCheck {
        UnameCheck {
            of: ProcRef { host: Some("vm1".into()), cmdline: Some(cmdline.into()) },
            same_as: ProcRef { host: Some("vm1".into()), cmdline: None },
        }
    }

    #[test]
    fn a_container_sees_the_hosts_release() {
        let t = tempfile::tempdir().unwrap();
        let hosts = lab(t.path());
        let c = ctx(t.path(), &hosts);
        let same = |_: i32| Ok("6.1.0-18-amd64".to_string());
        match check("^sleep 1002$").probe_with(&c, &same) {
            Outcome::Pass { observed } => {
                assert!(observed.contains("pid 200 `sleep 1002` on host vm1 (uts:[9]) sees 6.1.0-18-amd64"), "{observed}");
                assert!(observed.contains("(uts:[7]) sees 6.1.0-18-amd64"), "{observed}");
            }
            o => panic!("{o:?}"),
        }
        // A different release (as a VM's guest kernel would report) fails.
        let other = |p: i32| Ok(if p == 200 { "3.10.0-862.el7.x86_64" } else { "6.1.0-18-amd64" }.to_string());
        match check("^sleep 1002$").probe_with(&c, &other) {
            Outcome::Fail { observed, .. } => assert!(observed.contains("sees 3.10.0-862.el7.x86_64"), "{observed}"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_process_of_the_host_or_none_proves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let hosts = lab(t.path());
        let c = ctx(t.path(), &hosts);
        let same = |_: i32| Ok("6.1.0-18-amd64".to_string());
        match check("^sleep 1003$").probe_with(&c, &same) {
            Outcome::Fail { observed, .. } => assert!(observed.contains("the same namespace as host vm1's init"), "{observed}"),
            o => panic!("{o:?}"),
        }
        match check("^sleep 1004$").probe_with(&c, &same) {
            Outcome::Fail { observed, expected } => {
                assert_eq!(observed, "no process matching /^sleep 1004$/ on host vm1");
                assert!(expected.contains("another uts namespace"), "{expected}");
            }
            o => panic!("{o:?}"),
        }
        // The real reader on a fake tree: the namespace file is not a namespace.
        match check("^sleep 1002$").probe(&c) {
            Outcome::Fail { observed, .. } => assert!(observed.contains("200/ns/uts"), "{observed}"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn reads_the_real_kernel() {
        let want = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(release_in(Path::new("/proc"), 0).unwrap(), want.trim());
        // Entering a namespace needs CAP_SYS_ADMIN: as root, our own uts namespace by pid.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(release_in(Path::new("/proc"), std::process::id() as i32).unwrap(), want.trim());
        }
    }
}
