//! Network namespace helpers. Work "inside" a namespace always happens on a short-lived thread
//! that setns()es and then exits, so no caller thread ever changes namespace. Sockets created on
//! such a thread stay bound to that namespace (netavark's trick).
use crate::error::{NetError, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

fn netns_err(path: &Path, e: std::io::Error) -> NetError {
    NetError::Netns { path: path.display().to_string(), source: e }
}

/// Run `f` on a fresh thread that has joined the network namespace at `path`.
pub fn run_in_netns<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> Result<T> {
    let ns = File::open(path).map_err(|e| netns_err(path, e))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: plain syscall on a valid fd; affects only this thread.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(netns_err(path, std::io::Error::last_os_error()));
            }
            Ok(f())
        })
        .join()
        .expect("netns worker panicked")
    })
}

/// A new, empty network namespace held open by a file descriptor: it disappears (with every
/// link inside it) when this is dropped. Tests and lab hosts use it as a sandboxed "host".
pub struct NetnsHandle {
    file: File,
}

impl NetnsHandle {
    pub fn new() -> Result<NetnsHandle> {
        let file = std::thread::spawn(|| -> std::io::Result<File> {
            // SAFETY: unshare affects only this short-lived thread (CLONE_NEWNET is per-thread).
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            File::open("/proc/thread-self/ns/net")
        })
        .join()
        .expect("unshare thread panicked")
        .map_err(|e| netns_err(Path::new("unshare(CLONE_NEWNET)"), e))?;
        Ok(NetnsHandle { file })
    }
    /// A path other code (and child processes of this process) can open.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/fd/{}", std::process::id(), self.file.as_raw_fd()))
    }
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// `net.ipv4.ip_forward` or, when a component may contain dots (interface names), the
/// slash form `net/ipv4/conf/br.0/route_localnet`.
pub fn sysctl_path(key: &str) -> String {
    if key.contains('/') {
        format!("/proc/sys/{key}")
    } else {
        format!("/proc/sys/{}", key.replace('.', "/"))
    }
}

/// Write a sysctl as seen from the namespace at `netns` (net.* sysctls are per namespace).
pub fn write_sysctl(netns: &Path, key: &str, value: &str) -> Result<()> {
    let p = sysctl_path(key);
    run_in_netns(netns, || std::fs::write(&p, value))?.map_err(|e| NetError::Io(std::io::Error::new(e.kind(), format!("{p}: {e}"))))
}

pub fn read_sysctl(netns: &Path, key: &str) -> Result<String> {
    let p = sysctl_path(key);
    Ok(run_in_netns(netns, || std::fs::read_to_string(&p))??.trim().to_string())
}

/// A new network namespace bound to the file `path` (what `ip netns add` and Docker's sandbox
/// files do), so it outlives the daemon and can be named in an OCI spec
/// (`linux.namespaces[].path`). The unshare happens on a short-lived thread.
pub fn create_bound(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::create(path).map_err(|e| netns_err(path, e))?;
    let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| netns_err(path, std::io::Error::other(e)))?;
    let r = std::thread::spawn(move || -> std::io::Result<()> {
        // SAFETY: unshare affects only this thread; the mount call gets valid C strings.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let src = c"/proc/thread-self/ns/net";
            if libc::mount(src.as_ptr(), target.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    })
    .join()
    .expect("netns thread panicked");
    if let Err(e) = r {
        let _ = std::fs::remove_file(path);
        return Err(netns_err(path, e));
    }
    Ok(())
}

/// Undo [`create_bound`]: unmount (the namespace goes once nothing else holds it) and delete
/// the file. Missing is fine, so teardown can be repeated.
pub fn remove_bound(path: &Path) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| netns_err(path, std::io::Error::other(e)))?;
    // SAFETY: valid C string; MNT_DETACH so a busy reference does not block teardown.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Err(netns_err(path, e));
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(netns_err(path, e)),
        _ => Ok(()),
    }
}
