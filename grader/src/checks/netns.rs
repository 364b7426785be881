//! Runs grader code inside a host's network namespace: a helper thread `setns`es into
//! `/proc/<pid>/ns/net` (network namespaces are per thread), does its work and ends, so the
//! grader's own threads never leave the machine's namespace.

use std::path::Path;

pub fn in_netns<T: Send>(
    proc_root: &Path,
    pid: Option<i32>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, String> {
    let ns_path = pid.map(|p| proc_root.join(p.to_string()).join("ns/net"));
    std::thread::scope(|s| {
        s.spawn(move || {
            if let Some(p) = ns_path {
                let fd = std::fs::File::open(&p)
                    .map_err(|e| format!("cannot open {}: {e}", p.display()))?;
                nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("setns into {}: {e}", p.display()))?;
            }
            Ok(f())
        })
        .join()
        .map_err(|_| "network probe thread panicked".to_string())?
    })
}
