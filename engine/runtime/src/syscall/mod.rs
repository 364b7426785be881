//! The syscall seam (youki's `Syscall` trait): every privileged kernel operation the container
//! setup does goes through [`Syscall`], so mount/namespace/device/capability logic can be
//! unit-tested with the recording [`fake::RecordingSyscall`] without root.

pub mod fake;
pub mod linux;

use std::path::Path;

pub type Result<T> = std::result::Result<T, SyscallError>;

#[derive(Debug, thiserror::Error)]
#[error("{op}: {source}")]
pub struct SyscallError {
    pub op: String,
    #[source]
    pub source: std::io::Error,
}

impl SyscallError {
    pub fn new(op: impl Into<String>, source: std::io::Error) -> Self {
        SyscallError { op: op.into(), source }
    }
    pub fn errno(op: impl Into<String>, e: nix::errno::Errno) -> Self {
        SyscallError { op: op.into(), source: std::io::Error::from_raw_os_error(e as i32) }
    }
}

/// Capability sets as bit masks (bit n = capability n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: libc::c_ulong,
        data: Option<&str>,
    ) -> Result<()>;
    fn umount2(&self, target: &Path, flags: libc::c_int) -> Result<()>;
    /// Makes `new_root` the root: pivot_root(new, new), old root made rslave and lazily detached.
    fn pivot_root(&self, new_root: &Path) -> Result<()>;
    fn chdir(&self, dir: &Path) -> Result<()>;
    fn setns(&self, ns_path: &Path, nstype: libc::c_int) -> Result<()>;
    fn unshare(&self, flags: libc::c_int) -> Result<()>;
    fn sethostname(&self, name: &str) -> Result<()>;
    fn mknod(&self, path: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<()>;
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()>;
    /// Drops every capability up to `last_cap` that is not in `keep` from the bounding set.
    fn set_bounding(&self, keep: u64, last_cap: u32) -> Result<()>;
    fn set_capabilities(&self, sets: CapSets) -> Result<()>;
    fn raise_ambient(&self, cap: u32) -> Result<()>;
    fn set_keep_caps(&self, keep: bool) -> Result<()>;
    fn set_no_new_privs(&self) -> Result<()>;
    fn set_rlimit(&self, resource: libc::c_int, soft: u64, hard: u64) -> Result<()>;
    fn set_groups(&self, gids: &[u32]) -> Result<()>;
    fn set_resgid(&self, gid: u32) -> Result<()>;
    fn set_resuid(&self, uid: u32) -> Result<()>;
    /// Writes a kernel knob (sysctl under /proc/sys, oom_score_adj, uid_map…).
    fn write_file(&self, path: &Path, data: &str) -> Result<()>;
}
