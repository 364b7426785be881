//! The real [`Syscall`]: thin wrappers over libc/nix.

use super::{CapSets, Result, Syscall, SyscallError};
use nix::mount::{MntFlags, MsFlags};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSyscall;

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

fn last_os(op: String) -> SyscallError {
    SyscallError::new(op, std::io::Error::last_os_error())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
const CAP_V3: u32 = 0x2008_0522;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: libc::c_ulong,
        data: Option<&str>,
    ) -> Result<()> {
        nix::mount::mount(source, target, fstype, MsFlags::from_bits_retain(flags), data).map_err(
            |e| SyscallError::errno(format!("mount {} on {}", source.map_or("none".into(), |s| s.display().to_string()), target.display()), e),
        )
    }

    fn umount2(&self, target: &Path, flags: libc::c_int) -> Result<()> {
        nix::mount::umount2(target, MntFlags::from_bits_retain(flags))
            .map_err(|e| SyscallError::errno(format!("umount {}", target.display()), e))
    }

    fn pivot_root(&self, new_root: &Path) -> Result<()> {
        // pivot_root(".", ".") stacks the old root under the new one (runc PR 1500): no temporary
        // directory is left in the rootfs. The old root is made rslave first so the detach does
        // not propagate unmounts back to the host, then lazily unmounted.
        let op = |s: &str| format!("pivot_root {}: {s}", new_root.display());
        let fd = nix::fcntl::open(
            new_root,
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| SyscallError::errno(op("open"), e))?;
        let res = (|| {
            nix::unistd::fchdir(fd).map_err(|e| SyscallError::errno(op("fchdir"), e))?;
            nix::unistd::pivot_root(".", ".").map_err(|e| SyscallError::errno(op("pivot_root"), e))?;
            nix::mount::mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
                .map_err(|e| SyscallError::errno(op("make old root rslave"), e))?;
            nix::mount::umount2(".", MntFlags::MNT_DETACH)
                .map_err(|e| SyscallError::errno(op("detach old root"), e))?;
            nix::unistd::chdir("/").map_err(|e| SyscallError::errno(op("chdir /"), e))
        })();
        let _ = nix::unistd::close(fd);
        res
    }

    fn chdir(&self, dir: &Path) -> Result<()> {
        nix::unistd::chdir(dir).map_err(|e| SyscallError::errno(format!("chdir {}", dir.display()), e))
    }

    fn setns(&self, ns_path: &Path, nstype: libc::c_int) -> Result<()> {
        let fd = std::fs::File::open(ns_path)
            .map_err(|e| SyscallError::new(format!("open {}", ns_path.display()), e))?;
        let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&fd), nstype) };
        if r != 0 {
            return Err(last_os(format!("setns {}", ns_path.display())));
        }
        Ok(())
    }

    fn unshare(&self, flags: libc::c_int) -> Result<()> {
        if unsafe { libc::unshare(flags) } != 0 {
            return Err(last_os(format!("unshare {flags:#x}")));
        }
        Ok(())
    }

    fn sethostname(&self, name: &str) -> Result<()> {
        nix::unistd::sethostname(name).map_err(|e| SyscallError::errno(format!("sethostname {name:?}"), e))
    }

    fn mknod(&self, path: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<()> {
        if unsafe { libc::mknod(cstr(path).as_ptr(), mode, dev) } != 0 {
            return Err(last_os(format!("mknod {}", path.display())));
        }
        Ok(())
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()> {
        if unsafe { libc::lchown(cstr(path).as_ptr(), uid, gid) } != 0 {
            return Err(last_os(format!("chown {}", path.display())));
        }
        Ok(())
    }

    fn set_bounding(&self, keep: u64, last_cap: u32) -> Result<()> {
        for cap in 0..=last_cap.min(63) {
            if keep & (1 << cap) == 0 {
                let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if r != 0 {
                    let e = std::io::Error::last_os_error();
                    // EINVAL: the kernel does not know this capability; nothing to drop.
                    if e.raw_os_error() != Some(libc::EINVAL) {
                        return Err(SyscallError::new(format!("drop capability {cap} from bounding set"), e));
                    }
                }
            }
        }
        Ok(())
    }

    fn set_capabilities(&self, sets: CapSets) -> Result<()> {
        let mut hdr = CapHeader { version: CAP_V3, pid: 0 };
        let split = |v: u64| (v as u32, (v >> 32) as u32);
        let (e0, e1) = split(sets.effective);
        let (p0, p1) = split(sets.permitted);
        let (i0, i1) = split(sets.inheritable);
        let data = [
            CapData { effective: e0, permitted: p0, inheritable: i0 },
            CapData { effective: e1, permitted: p1, inheritable: i1 },
        ];
        let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
        if r != 0 {
            return Err(last_os("capset".into()));
        }
        Ok(())
    }

    fn raise_ambient(&self, cap: u32) -> Result<()> {
        let r = unsafe {
            libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap as libc::c_ulong, 0, 0)
        };
        if r != 0 {
            return Err(last_os(format!("raise ambient capability {cap}")));
        }
        Ok(())
    }

    fn set_keep_caps(&self, keep: bool) -> Result<()> {
        if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(last_os("prctl(PR_SET_KEEPCAPS)".into()));
        }
        Ok(())
    }

    fn set_no_new_privs(&self) -> Result<()> {
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(last_os("prctl(PR_SET_NO_NEW_PRIVS)".into()));
        }
        Ok(())
    }

    fn set_rlimit(&self, resource: libc::c_int, soft: u64, hard: u64) -> Result<()> {
        let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        if unsafe { libc::prlimit(0, resource as _, &lim, std::ptr::null_mut()) } != 0 {
            return Err(last_os(format!("setrlimit {resource}")));
        }
        Ok(())
    }

    fn set_groups(&self, gids: &[u32]) -> Result<()> {
        if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } != 0 {
            return Err(last_os(format!("setgroups {gids:?}")));
        }
        Ok(())
    }

    fn set_resgid(&self, gid: u32) -> Result<()> {
        if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
            return Err(last_os(format!("setgid {gid}")));
        }
        Ok(())
    }

    fn set_resuid(&self, uid: u32) -> Result<()> {
        if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
            return Err(last_os(format!("setuid {uid}")));
        }
        Ok(())
    }

    fn write_file(&self, path: &Path, data: &str) -> Result<()> {
        std::fs::write(path, data).map_err(|e| SyscallError::new(format!("write {}", path.display()), e))
    }
}
