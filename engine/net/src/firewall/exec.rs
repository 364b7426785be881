//! Running the firewall tools (`nft`, `iptables`, `iptables-restore`), optionally inside a network
//! namespace: the child setns()es before exec, so the daemon's own namespace is never switched.
use crate::error::{NetError, Result};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The seam between rule generation and the kernel: unit tests plug a fake in.
pub trait Runner: Send + Sync {
    /// Run `prog args`, feeding `stdin`; stdout on success, the trimmed stderr as the error.
    fn run(&self, prog: &str, args: &[&str], stdin: Option<&str>) -> std::result::Result<String, String>;
}

/// Runs the real programs in the calling process's namespace or in a given one.
pub struct NsRunner {
    netns: Option<OwnedFd>,
}

impl NsRunner {
    pub fn current() -> NsRunner {
        NsRunner { netns: None }
    }
    /// Programs run inside the namespace at `path` (e.g. `/proc/<pid>/ns/net`).
    pub fn in_netns(path: &std::path::Path) -> Result<NsRunner> {
        let f = std::fs::File::open(path).map_err(|e| NetError::Netns { path: path.display().to_string(), source: e })?;
        Ok(NsRunner { netns: Some(f.into()) })
    }
}

impl Runner for NsRunner {
    fn run(&self, prog: &str, args: &[&str], stdin: Option<&str>) -> std::result::Result<String, String> {
        let mut cmd = Command::new(prog);
        cmd.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(fd) = &self.netns {
            let raw = fd.as_raw_fd();
            // SAFETY: setns is async-signal-safe; runs in the forked child only.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(raw, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| format!("running {prog}: {e}"))?;
        if let Some(input) = stdin {
            child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|e| format!("{prog} stdin: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("{prog}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{prog} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Is `prog` an executable somewhere in PATH?
pub fn in_path(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)))
        .unwrap_or(false)
}
