//! Sandbox helpers for root tests: every namespace here is anonymous (held by an fd), so it and
//! every link inside it vanish when the test drops it, even on panic.
#![allow(dead_code)]
use berth_net::netns::{run_in_netns, NetnsHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Root-only tests print why they did nothing (CI runs as root).
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("test skipped: needs root (network namespaces)");
            return;
        }
    };
}

pub fn busybox() -> PathBuf {
    let dir = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let bb = dir.join("busybox/rootfs/bin/busybox");
    assert!(bb.exists(), "{} missing: run cargo xtask fixtures", bb.display());
    bb
}

/// Run a program inside `ns` (the child setns()es before exec).
pub fn run_in(ns: &NetnsHandle, prog: &str, args: &[&str]) -> Output {
    let fd = ns.file().as_raw_fd();
    let mut cmd = Command::new(prog);
    cmd.args(args);
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap_or_else(|e| panic!("{prog}: {e}"))
}

pub fn stdout_in(ns: &NetnsHandle, prog: &str, args: &[&str]) -> String {
    let o = run_in(ns, prog, args);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A TCP echo-with-prefix server bound inside `ns`; answers `tag:` + what it read.
pub fn serve_tcp(ns: &NetnsHandle, addr: &str, tag: &'static str) -> SocketAddr {
    let addr: SocketAddr = addr.parse().unwrap();
    let l = run_in_netns(&ns.path(), || TcpListener::bind(addr)).unwrap().unwrap();
    let local = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = s.write_all(format!("{tag}:{}", String::from_utf8_lossy(&buf[..n])).as_bytes());
        }
    });
    local
}

/// Connect from inside `ns` and return the reply (Err on failure).
pub fn tcp_from(ns: &NetnsHandle, to: &str) -> Result<String, String> {
    let to: SocketAddr = to.parse().unwrap();
    run_in_netns(&ns.path(), move || -> Result<String, String> {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(3)).map_err(|e| format!("connect {to}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(b"hi").map_err(|e| e.to_string())?;
        let mut out = String::new();
        s.read_to_string(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    })
    .unwrap()
}

/// Link names in the machine's root namespace (tests assert they leave nothing there).
pub fn root_links() -> Vec<String> {
    let o = Command::new("ip").args(["-o", "link"]).output().expect("ip");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1).map(|n| n.split('@').next().unwrap().to_string()))
        .collect()
}
