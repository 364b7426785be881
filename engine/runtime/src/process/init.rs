//! The container init: runs in the new namespaces, builds the root filesystem, pivots into it,
//! takes on the spec's identity and limits, reports `Ready`, then blocks on the exec fifo until
//! `start` and execve's the user process.

use super::channel::{Channel, Message};
use super::{console, fail, identity, user, InitArgs};
use crate::spec::NamespaceType;
use crate::syscall::{linux::LinuxSyscall, Syscall};
use crate::{capabilities, rootfs};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
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
    unsafe {
        libc::umask(args.spec.process().user.umask.unwrap_or(0o022) as libc::mode_t);
        libc::execve(exec.path.as_ptr(), exec.argv_ptrs.as_ptr(), exec.envp_ptrs.as_ptr());
    }
    let e = std::io::Error::last_os_error();
    eprintln!("berth runtime: exec {:?}: {e}", exec.path);
    unsafe { libc::_exit(127) }
}

struct Exec {
    path: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
}

fn setup(args: &InitArgs, _ch: &Channel) -> Result<Exec, String> {
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
        console::attach_slave(slave, &name).map_err(|e| format!("terminal: {e}"))?;
    }
    rootfs::finalize(&sys, spec, Path::new("/")).map_err(|e| e.to_string())?;
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        if spec.has_namespace(NamespaceType::Uts) {
            sys.sethostname(h).map_err(|e| format!("hostname: {e}"))?;
        }
    }
    let setgroups_denied = std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
    identity::apply(&sys, process, capabilities::last_cap(), !setgroups_denied)?;
    let u = &process.user;

    let mut env = process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        env.push(format!("HOME={}", user::home_of(&passwd, u.uid)));
    }
    let path_var = env.iter().find_map(|e| e.strip_prefix("PATH="));
    let prog = &process.args[0];
    let path = user::find_executable(Path::new("/"), prog, path_var)
        .ok_or_else(|| format!("exec: {prog:?}: executable file not found in $PATH"))?;
    let full = if path.is_absolute() { path.clone() } else { process.cwd.join(&path) };
    if let Err(e) = std::fs::metadata(&full) {
        return Err(format!("exec: {prog:?}: {e}"));
    }
    mark_cloexec_from(3 + args.preserve_fds);

    let cstr = |s: &[u8]| CString::new(s).map_err(|_| format!("NUL byte in {:?}", String::from_utf8_lossy(s)));
    let argv: Vec<CString> = process.args.iter().map(|a| cstr(a.as_bytes())).collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env.iter().map(|a| cstr(a.as_bytes())).collect::<Result<_, _>>()?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    Ok(Exec { path: cstr(path.as_os_str().as_bytes())?, _argv: argv, argv_ptrs, _envp: envp, envp_ptrs })
}

/// Every inherited fd from `first` up is closed on execve (runc's fix for fd leaks into the
/// container); the ones berth still needs until then are already CLOEXEC.
fn mark_cloexec_from(first: i32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
        return;
    };
    let fds: Vec<i32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds.into_iter().filter(|fd| *fd >= first) {
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}
