//! nftables driver: feeds the rendered script to `nft -f -`, optionally inside a network namespace
//! (the child process setns()es before exec, so the daemon's own namespace is never switched).
use super::{Firewall, Ruleset, TABLE};
use crate::error::{NetError, Result};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

pub struct NftFirewall {
    netns: Option<OwnedFd>,
    binary: String,
}

impl NftFirewall {
    /// Rules go into the calling process's network namespace.
    pub fn new() -> NftFirewall {
        NftFirewall { netns: None, binary: "nft".into() }
    }
    /// Rules go into the namespace at `path` (e.g. `/proc/<pid>/ns/net`, a test's namespace).
    pub fn in_netns(path: &std::path::Path) -> Result<NftFirewall> {
        let f = std::fs::File::open(path).map_err(|e| NetError::Netns { path: path.display().to_string(), source: e })?;
        Ok(NftFirewall { netns: Some(f.into()), binary: "nft".into() })
    }

    fn run(&self, script: &str) -> Result<()> {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
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
        let mut child = cmd.spawn().map_err(|e| NetError::Firewall(format!("running {}: {e}", self.binary)))?;
        child.stdin.take().expect("piped").write_all(script.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(NetError::Firewall(format!("nft -f - failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }
}

impl Default for NftFirewall {
    fn default() -> Self {
        Self::new()
    }
}

impl Firewall for NftFirewall {
    fn apply(&self, rules: &Ruleset) -> Result<()> {
        self.run(&rules.render())
    }
    fn clear(&self) -> Result<()> {
        self.run(&format!("table ip {TABLE}\ndelete table ip {TABLE}\n"))
    }
}
