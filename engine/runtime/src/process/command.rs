//! The last step of both init and exec: environment (HOME added from the container's
//! /etc/passwd when missing), the executable resolved in the container's PATH (a missing one is
//! reported before the caller is told "ready"), fds beyond the preserved ones closed on exec.

use super::user;
use crate::spec::Process;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub struct Exec {
    path: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
}

impl Exec {
    /// execve; only returns by exiting 127 after printing why.
    pub fn run(&self, umask: Option<u32>) -> ! {
        unsafe {
            libc::umask(umask.unwrap_or(0o022) as libc::mode_t);
            libc::execve(self.path.as_ptr(), self.argv_ptrs.as_ptr(), self.envp_ptrs.as_ptr());
        }
        let e = std::io::Error::last_os_error();
        eprintln!("berth runtime: exec {:?}: {e}", self.path);
        unsafe { libc::_exit(127) }
    }
}

/// Run inside the container (after pivot_root or setns), with the final identity.
pub fn prepare(process: &Process, preserve_fds: i32) -> Result<Exec, String> {
    let mut env = process.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        env.push(format!("HOME={}", user::home_of(&passwd, process.user.uid)));
    }
    let path_var = env.iter().find_map(|e| e.strip_prefix("PATH="));
    let prog = &process.args[0];
    let path = user::find_executable(Path::new("/"), prog, path_var)
        .ok_or_else(|| format!("exec: {prog:?}: executable file not found in $PATH"))?;
    let full = if path.is_absolute() { path.clone() } else { process.cwd.join(&path) };
    if let Err(e) = std::fs::metadata(&full) {
        return Err(format!("exec: {prog:?}: {e}"));
    }
    mark_cloexec_from(3 + preserve_fds);

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
