//! The container init: runs in the new namespaces, builds the root filesystem, pivots into it,
//! takes on the spec's identity and limits, reports `Ready`, then blocks on the exec fifo until
//! `start` and execve's the user process.

use super::channel::{Channel, Message};
use super::{command, console, fail, identity, InitArgs};
use crate::spec::NamespaceType;
use crate::syscall::{linux::LinuxSyscall, Syscall};
use crate::{capabilities, rootfs};
use std::path::Path;

pub(crate) fn run(args: &InitArgs, ch: &Channel) -> ! {
    let exec = match setup(args, ch) {
        Ok(e) => e,
        Err(e) => fail(ch, e),
    };
    if let Err(e) = ch.send(&Message::Ready) {
        fail(ch, e.to_string());
    }
    unsafe { libc::close(ch.raw()) };
    // Block until `start` writes one byte to the exec fifo.
    let mut b = [0u8; 1];
    loop {
        let n = unsafe { libc::read(args.fifo_fd, b.as_mut_ptr().cast(), 1) };
        if n == 1 {
            break;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        unsafe { libc::_exit(1) };
    }
    exec.run(args.spec.process().user.umask)
}

fn setup(args: &InitArgs, _ch: &Channel) -> Result<command::Exec, String> {
    let sys = LinuxSyscall;
    let spec = &args.spec;
    let process = spec.process();
    unsafe {
        // Like runc's "runc init": a created container is recognisable in ps.
        libc::prctl(libc::PR_SET_NAME, c"berth-init".as_ptr() as libc::c_ulong, 0, 0, 0);
        // Device nodes must get exactly the spec's modes; the user umask is set before execve.
        libc::umask(0);
        // Rust ignores SIGPIPE; an ignored signal would stay ignored across execve.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::setsid();
    }
    if let Some(adj) = process.oom_score_adj {
        sys.write_file(Path::new("/proc/self/oom_score_adj"), &adj.to_string())
            .map_err(|e| format!("process.oomScoreAdj: {e}"))?;
    }
    rootfs::prepare(&sys, spec, &args.rootfs, &args.mounts).map_err(|e| e.to_string())?;
    sys.pivot_root(&args.rootfs).map_err(|e| e.to_string())?;
    if let Some(sock) = args.console_fd {
        let (master, slave, name) = console::open_pty().map_err(|e| format!("terminal: {e}"))?;
        console::send_fd(sock, master, &name).map_err(|e| format!("terminal: {e}"))?;
        unsafe {
            libc::close(master);
            libc::close(sock);
        }
        console::attach_slave(slave, &name, true).map_err(|e| format!("terminal: {e}"))?;
    }
    rootfs::finalize(&sys, spec, Path::new("/")).map_err(|e| e.to_string())?;
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        if spec.has_namespace(NamespaceType::Uts) {
            sys.sethostname(h).map_err(|e| format!("hostname: {e}"))?;
        }
    }
    identity::apply(&sys, process, capabilities::last_cap(), identity::setgroups_allowed())?;
    command::prepare(process, args.preserve_fds)
}
