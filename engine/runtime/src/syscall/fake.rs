//! A recording [`Syscall`] for unit tests: every call is appended to a log, nothing touches the
//! kernel. Filesystem effects that tests need (device nodes) are emulated with plain files.

use super::{CapSets, Result, Syscall, SyscallError};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount { source: Option<PathBuf>, target: PathBuf, fstype: Option<String>, flags: libc::c_ulong, data: Option<String> },
    Umount { target: PathBuf, flags: libc::c_int },
    PivotRoot(PathBuf),
    Chdir(PathBuf),
    Setns { path: PathBuf, nstype: libc::c_int },
    Unshare(libc::c_int),
    Sethostname(String),
    Mknod { path: PathBuf, mode: libc::mode_t, dev: libc::dev_t },
    Chown { path: PathBuf, uid: u32, gid: u32 },
    Bounding { keep: u64 },
    Capabilities(CapSets),
    Ambient(u32),
    KeepCaps(bool),
    NoNewPrivs,
    Rlimit { resource: libc::c_int, soft: u64, hard: u64 },
    Groups(Vec<u32>),
    Gid(u32),
    Uid(u32),
    WriteFile { path: PathBuf, data: String },
}

/// A recorded mount: (source, target, fstype, flags, data).
pub type MountArgs = (Option<PathBuf>, PathBuf, Option<String>, libc::c_ulong, Option<String>);

#[derive(Debug, Default)]
pub struct RecordingSyscall {
    calls: RefCell<Vec<Call>>,
    /// Calls whose target path equals this fail with EPERM (to test error paths).
    pub fail_on: Option<PathBuf>,
}

impl RecordingSyscall {
    /// A fake whose calls on `path` fail with EPERM.
    pub fn failing_on(path: impl Into<PathBuf>) -> Self {
        RecordingSyscall { calls: RefCell::default(), fail_on: Some(path.into()) }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }
    pub fn mounts(&self) -> Vec<MountArgs> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Mount { source, target, fstype, flags, data } => Some((source, target, fstype, flags, data)),
                _ => None,
            })
            .collect()
    }
    fn record(&self, c: Call, path: Option<&Path>) -> Result<()> {
        self.calls.borrow_mut().push(c);
        if let (Some(f), Some(p)) = (&self.fail_on, path) {
            if f == p {
                return Err(SyscallError::new(format!("fake failure on {}", p.display()), std::io::Error::from_raw_os_error(libc::EPERM)));
            }
        }
        Ok(())
    }
}

impl Syscall for RecordingSyscall {
    fn mount(&self, source: Option<&Path>, target: &Path, fstype: Option<&str>, flags: libc::c_ulong, data: Option<&str>) -> Result<()> {
        self.record(
            Call::Mount {
                source: source.map(Path::to_path_buf),
                target: target.to_path_buf(),
                fstype: fstype.map(String::from),
                flags,
                data: data.map(String::from),
            },
            Some(target),
        )
    }
    fn umount2(&self, target: &Path, flags: libc::c_int) -> Result<()> {
        self.record(Call::Umount { target: target.into(), flags }, Some(target))
    }
    fn pivot_root(&self, new_root: &Path) -> Result<()> {
        self.record(Call::PivotRoot(new_root.into()), Some(new_root))
    }
    fn chdir(&self, dir: &Path) -> Result<()> {
        self.record(Call::Chdir(dir.into()), Some(dir))
    }
    fn setns(&self, path: &Path, nstype: libc::c_int) -> Result<()> {
        self.record(Call::Setns { path: path.into(), nstype }, Some(path))
    }
    fn unshare(&self, flags: libc::c_int) -> Result<()> {
        self.record(Call::Unshare(flags), None)
    }
    fn sethostname(&self, name: &str) -> Result<()> {
        self.record(Call::Sethostname(name.into()), None)
    }
    fn mknod(&self, path: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<()> {
        self.record(Call::Mknod { path: path.into(), mode, dev }, Some(path))?;
        std::fs::write(path, "").map_err(|e| SyscallError::new("fake mknod", e))
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()> {
        self.record(Call::Chown { path: path.into(), uid, gid }, Some(path))
    }
    fn set_bounding(&self, keep: u64, _last_cap: u32) -> Result<()> {
        self.record(Call::Bounding { keep }, None)
    }
    fn set_capabilities(&self, sets: CapSets) -> Result<()> {
        self.record(Call::Capabilities(sets), None)
    }
    fn raise_ambient(&self, cap: u32) -> Result<()> {
        self.record(Call::Ambient(cap), None)
    }
    fn set_keep_caps(&self, keep: bool) -> Result<()> {
        self.record(Call::KeepCaps(keep), None)
    }
    fn set_no_new_privs(&self) -> Result<()> {
        self.record(Call::NoNewPrivs, None)
    }
    fn set_rlimit(&self, resource: libc::c_int, soft: u64, hard: u64) -> Result<()> {
        self.record(Call::Rlimit { resource, soft, hard }, None)
    }
    fn set_groups(&self, gids: &[u32]) -> Result<()> {
        self.record(Call::Groups(gids.to_vec()), None)
    }
    fn set_resgid(&self, gid: u32) -> Result<()> {
        self.record(Call::Gid(gid), None)
    }
    fn set_resuid(&self, uid: u32) -> Result<()> {
        self.record(Call::Uid(uid), None)
    }
    fn write_file(&self, path: &Path, data: &str) -> Result<()> {
        self.record(Call::WriteFile { path: path.into(), data: data.into() }, Some(path))
    }
}
