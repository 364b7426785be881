//! Running commands inside a host, through `berth-lab-host exec` (setns into the host's
//! namespaces and cgroups, then fork+exec, so the command is a process of the host's pid ns).

use super::{io, HostError, HostState, VirtualLab};
use crate::checks::CmdOutput;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// berth's binaries (berthd, berth, berth-lab-host) come first.
const PATH: &str =
    "/run/berth-lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn command(vl: &VirtualLab, h: &HostState, argv: &[&str]) -> Result<Command, HostError> {
    let pid = h
        .init
        .as_ref()
        .map(|p| p.pid)
        .ok_or_else(|| HostError::HostDead {
            lab: vl.state.lab_id.clone(),
            host: h.name.clone(),
        })?;
    let mut c = Command::new(&vl.config.helper);
    c.args(["exec", "--tag", &vl.state.tag, "--pid", &pid.to_string()]);
    for p in &h.procs_files {
        c.arg("--procs").arg(p);
    }
    c.arg("--").args(argv);
    c.env_clear()
        .env("PATH", PATH)
        .env("HOME", "/root")
        .env("USER", "root")
        .env("LANG", "C.UTF-8")
        .env("BERTH_LAB", &vl.state.lab_id)
        // Not BERTH_HOST: the berth CLI reads that as its daemon address (like DOCKER_HOST).
        .env("BERTH_VM", &h.name)
        .env("BERTH_CGROUP", &h.cgroup)
        .env("BERTH_LAB_DIR", super::init::LAB_DIR)
        .env(
            "BERTH_LAB_HOST",
            format!("{}/berth-lab-host", super::init::BIN_DIR),
        )
        .env("DOCKER_HOST", "unix:///run/berth.sock");
    if let Some(t) = std::env::var_os("TERM") {
        c.env("TERM", t);
    }
    Ok(c)
}

pub fn run(
    vl: &VirtualLab,
    h: &HostState,
    cmd: &str,
    timeout: Duration,
) -> Result<CmdOutput, HostError> {
    // Output goes to files, not pipes: a command that leaves a background process behind
    // (`sleep 1000 &`) would otherwise keep the pipe open forever.
    let tmp = tempfile_in(&vl.state.dir)?;
    let (out_p, err_p) = (tmp.join("stdout"), tmp.join("stderr"));
    let out_f = std::fs::File::create(&out_p).map_err(io(&out_p))?;
    let err_f = std::fs::File::create(&err_p).map_err(io(&err_p))?;
    let mut c = command(vl, h, &["/bin/sh", "-c", cmd])?;
    c.stdin(Stdio::null()).stdout(out_f).stderr(err_f);
    let mut child = c
        .spawn()
        .map_err(|e| HostError::Helper(format!("running on {}: {e}", h.name)))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() >= deadline => {
                // SIGTERM makes the helper kill its child in the host, then exit.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(HostError::Helper(format!(
                    "waiting for command on {}: {e}",
                    h.name
                )))
            }
        }
    };
    let stdout = std::fs::read_to_string(&out_p).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_p).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&tmp);
    match status {
        None => Err(HostError::Helper(format!(
            "`{cmd}` on {} did not finish within {timeout:?}",
            h.name
        ))),
        Some(s) => Ok(CmdOutput {
            status: s.code().unwrap_or(128),
            stdout,
            stderr,
        }),
    }
}

fn tempfile_in(dir: &std::path::Path) -> Result<std::path::PathBuf, HostError> {
    let d = dir.join("exec").join(format!(
        "{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d).map_err(io(&d))?;
    Ok(d)
}

/// The command for an interactive bash on a host (stdio left to the caller: a terminal).
pub fn shell_command(vl: &VirtualLab, h: &HostState) -> Result<Command, HostError> {
    command(vl, h, &["/bin/bash", "-i"])
}

/// An interactive bash on the caller's terminal; returns its exit status.
pub fn shell(vl: &VirtualLab, h: &HostState) -> Result<i32, HostError> {
    let mut c = shell_command(vl, h)?;
    // bash takes the terminal for its own process group (job control) and, living in the
    // host's pid namespace, cannot name ours to give it back: we take it back ourselves, or
    // the guided mode would read EOF/EIO from a terminal it no longer owns.
    // SAFETY: tcgetpgrp on fd 0 has no memory effects; -1 when stdin is not a terminal.
    let fg = unsafe { libc::tcgetpgrp(0) };
    let s = c
        .status()
        .map_err(|e| HostError::Helper(format!("shell on {}: {e}", h.name)));
    if fg > 0 {
        // SAFETY: SIGTTOU is ignored around tcsetpgrp (a background group may not set the
        // foreground one otherwise), then its previous disposition is restored.
        unsafe {
            let old = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            libc::tcsetpgrp(0, fg);
            libc::signal(libc::SIGTTOU, old);
        }
    }
    Ok(s?.code().unwrap_or(128))
}
