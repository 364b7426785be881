//! The lab LAN: bridge `br0` in a network namespace of its own, held by a helper process.

use super::{HostError, Proc, VirtualLab};
use crate::catalog::Lab;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Spawns a helper, collects its `pid N` line and waits for `ready` (within `timeout`).
pub(super) fn spawn_helper(
    mut cmd: Command,
    what: &str,
    timeout: Duration,
) -> Result<i32, HostError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| HostError::Helper(format!("starting {what}: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // `pid N` comes from the helper, `ready` from its forked child: either may come first.
        let (mut pid, mut ready) = (None, false);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(p) = line.strip_prefix("pid ") {
                pid = p.trim().parse::<i32>().ok();
            } else if line == "ready" {
                ready = true;
            }
            if ready && pid.is_some() {
                let _ = tx.send(pid);
                return;
            }
        }
        let _ = tx.send(None);
    });
    let got = rx.recv_timeout(timeout);
    let status = child.wait();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    match (got, status) {
        (Ok(Some(pid)), Ok(s)) if s.success() => Ok(pid),
        (Err(_), _) => Err(HostError::Helper(format!(
            "{what}: not ready after {timeout:?}"
        ))),
        (_, s) => Err(HostError::Helper(format!(
            "{what} failed ({}): {}",
            s.map(|s| s.to_string()).unwrap_or_default(),
            err.trim()
        ))),
    }
}

pub(super) fn start(vl: &mut VirtualLab, lab: &Lab) -> Result<(), HostError> {
    let (net, prefix) = crate::catalog::parse_cidr(&lab.lan).map_err(HostError::Helper)?;
    let gw = crate::catalog::first_host(net, prefix);
    let mut cmd = Command::new(&vl.config.helper);
    cmd.args([
        "lan",
        "--tag",
        &vl.state.tag,
        "--address",
        &format!("{gw}/{prefix}"),
    ]);
    let pid = spawn_helper(cmd, "the lab LAN", Duration::from_secs(10))?;
    let proc_root = vl.config.proc_root.clone();
    vl.state.lan = Proc::of(&proc_root, pid);
    vl.state.lan_netns = crate::checks::procfs::ns_inode(&proc_root, pid, "net").ok();
    vl.state.save().map_err(super::io(&vl.state.dir))?;
    if vl.state.lan.is_none() {
        return Err(HostError::Helper(format!(
            "the LAN holder (pid {pid}) died right after starting"
        )));
    }
    Ok(())
}
