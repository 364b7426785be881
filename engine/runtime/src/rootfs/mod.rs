//! The container's root filesystem: mounts from the spec, default devices and symlinks,
//! pivot_root with the old root detached, then (inside the new root) sysctl, read-only and
//! masked paths, and the read-only root. All privileged calls go through [`Syscall`].

mod devices;
mod mounts;
pub mod options;
mod paths;
pub mod securejoin;

pub use devices::{create_devices, DEFAULT_DEVICES};
pub use mounts::{mount_entry, CgroupMounts};
pub use paths::{mask_paths, readonly_paths, sysctl_namespace, write_sysctls};

use crate::spec::Spec;
use crate::syscall::{Syscall, SyscallError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{0}")]
    Syscall(#[from] SyscallError),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("mounts[{index}]: {msg}")]
    Mount { index: usize, msg: String },
    #[error("linux.rootfsPropagation: unknown propagation {0:?}")]
    Propagation(String),
    #[error("linux.sysctl: {0}")]
    Sysctl(String),
}

pub type Result<T> = std::result::Result<T, RootfsError>;

pub(crate) fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RootfsError + 'a {
    move |source| RootfsError::Io { what, path: path.to_path_buf(), source }
}

/// Everything done before pivot_root, with the host's `/` still visible.
pub fn prepare(sys: &dyn Syscall, spec: &Spec, rootfs: &Path, ctx: &MountContext) -> Result<()> {
    let linux = spec.linux();
    // Stop our mounts from propagating to the host (rslave by default, like runc).
    let prop = match linux.rootfs_propagation.as_deref() {
        None | Some("") => libc::MS_SLAVE | libc::MS_REC,
        Some(p) => options::propagation_flag(p).ok_or_else(|| RootfsError::Propagation(p.into()))?,
    };
    sys.mount(None, Path::new("/"), None, prop, None)?;
    // pivot_root needs the new root to be a mount point.
    sys.mount(Some(rootfs), rootfs, Some("bind"), libc::MS_BIND | libc::MS_REC, None)?;
    let mut dev_is_bind = false;
    for (i, m) in spec.mounts.iter().enumerate() {
        if m.destination == Path::new("/dev") && m.options.iter().any(|o| o == "bind" || o == "rbind") {
            dev_is_bind = true;
        }
        mount_entry(sys, rootfs, i, m, ctx)?;
    }
    if !dev_is_bind {
        create_devices(sys, rootfs, &linux.devices, ctx.userns)?;
        devices::default_symlinks(rootfs)?;
    }
    // A shared rootfs propagation must be restored on the new root after our private bind.
    if matches!(linux.rootfs_propagation.as_deref(), Some("shared") | Some("rshared")) {
        sys.mount(None, rootfs, None, prop, None)?;
    }
    Ok(())
}

/// Everything done after pivot_root: `root` is "/" for real, a tempdir in tests.
pub fn finalize(sys: &dyn Syscall, spec: &Spec, root: &Path) -> Result<()> {
    let linux = spec.linux();
    write_sysctls(sys, root, &linux.sysctl)?;
    readonly_paths(sys, root, &linux.readonly_paths)?;
    mask_paths(sys, root, &linux.masked_paths)?;
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        sys.mount(None, root, None, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY, None)?;
    }
    Ok(())
}

/// What mounting needs to know beyond the spec.
#[derive(Debug, Clone, Default)]
pub struct MountContext {
    pub userns: bool,
    pub cgroups: CgroupMounts,
}

#[cfg(test)]
mod tests;
