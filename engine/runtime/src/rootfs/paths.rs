//! After pivot_root: sysctls, read-only paths and masked paths (missing paths are skipped, as the
//! spec allows).

use super::{Result, RootfsError};
use crate::syscall::Syscall;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn inside(root: &Path, p: &Path) -> PathBuf {
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// The namespace a sysctl belongs to, if it is namespaced at all (runc's whitelist): others
/// would change the host and are refused.
pub fn sysctl_namespace(key: &str) -> Option<crate::spec::NamespaceType> {
    use crate::spec::NamespaceType::*;
    const IPC: [&str; 7] = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni"];
    if IPC.contains(&key) || key == "kernel.shm_rmid_forced" || key.starts_with("fs.mqueue.") {
        Some(Ipc)
    } else if key.starts_with("net.") {
        Some(Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(Uts)
    } else {
        None
    }
}

pub fn write_sysctls(sys: &dyn Syscall, root: &Path, sysctl: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in sysctl {
        if k.contains("..") || k.contains('/') && k.contains('.') {
            return Err(RootfsError::Sysctl(format!("bad key {k:?}")));
        }
        let path = inside(root, Path::new("/proc/sys")).join(k.replace('.', "/"));
        sys.write_file(&path, v).map_err(|e| RootfsError::Sysctl(format!("{k}: {e}")))?;
    }
    Ok(())
}

pub fn readonly_paths(sys: &dyn Syscall, root: &Path, paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        let path = inside(root, p);
        if !path.exists() {
            continue;
        }
        sys.mount(Some(&path), &path, Some("bind"), libc::MS_BIND | libc::MS_REC, None)?;
        // Keep the flags the underlying mount already has (nosuid on /proc…), as runc does.
        let keep = current_flags(&path);
        sys.mount(None, &path, None, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | keep, None)?;
    }
    Ok(())
}

pub fn mask_paths(sys: &dyn Syscall, root: &Path, paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        let path = inside(root, p);
        match std::fs::metadata(&path) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => {
                sys.mount(Some(Path::new("tmpfs")), &path, Some("tmpfs"), libc::MS_RDONLY, None)?
            }
            Ok(_) => sys.mount(Some(&inside(root, Path::new("/dev/null"))), &path, Some("bind"), libc::MS_BIND, None)?,
        }
    }
    Ok(())
}

/// The per-mount flags of the mount holding `path`, as mount(2) flags.
pub(crate) fn current_flags(path: &Path) -> libc::c_ulong {
    use nix::sys::statvfs::FsFlags;
    let Ok(st) = nix::sys::statvfs::statvfs(path) else { return 0 };
    let f = st.flags();
    let mut out = 0;
    for (st_flag, ms) in [
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f.contains(st_flag) {
            out |= ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::NamespaceType;

    #[test]
    fn sysctl_namespaces() {
        assert_eq!(sysctl_namespace("net.ipv4.ip_forward"), Some(NamespaceType::Network));
        assert_eq!(sysctl_namespace("kernel.shmmax"), Some(NamespaceType::Ipc));
        assert_eq!(sysctl_namespace("fs.mqueue.msg_max"), Some(NamespaceType::Ipc));
        assert_eq!(sysctl_namespace("kernel.domainname"), Some(NamespaceType::Uts));
        assert_eq!(sysctl_namespace("vm.swappiness"), None);
        assert_eq!(sysctl_namespace("kernel.pid_max"), None);
    }
}
