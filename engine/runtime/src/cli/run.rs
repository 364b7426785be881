//! `run`: create + start; in the foreground it waits for the container, forwards signals to it,
//! proxies the terminal when there is one, deletes the container and exits with its status
//! (128+signal when killed), as runc does.

use super::args::parse;
use super::{create, start, CmdResult, Globals};
use crate::process::{self, console};
use std::sync::atomic::{AtomicI32, Ordering};

static CONTAINER_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CONTAINER_PID.load(Ordering::Relaxed);
    if pid > 0 {
        unsafe { libc::kill(pid, sig) };
    }
}

const FORWARDED: [libc::c_int; 7] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH];

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("run", argv, create::FLAGS)?;
    let mut opts = create::options(g, &p, "run")?;
    let detach = p.flag("detach");
    if !detach {
        // Init is forked by a helper that exits: as subreaper we become its parent and can wait.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    // A foreground terminal without a console socket: we hold the other end and proxy.
    let mut proxy_sock = None;
    if !detach && opts.console_socket.is_none() && wants_terminal(&opts.bundle) {
        let mut fds = [0; 2];
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
            return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
        }
        opts.console_fd = Some(fds[1]);
        proxy_sock = Some(fds[0]);
    }
    let st = process::create(&opts).map_err(|e| e.to_string())?;
    if let Some(fd) = opts.console_fd {
        unsafe { libc::close(fd) };
    }
    if detach {
        start::start(g, &st).inspect_err(|_| {
            let _ = super::delete::destroy(g, &st);
        })?;
        return Ok(0);
    }
    CONTAINER_PID.store(st.pid, Ordering::Relaxed);
    for s in FORWARDED {
        unsafe { libc::signal(s, forward as *const () as libc::sighandler_t) };
    }
    let master = match proxy_sock {
        Some(sock) => Some(console::recv_fd(sock).map_err(|e| e.to_string())?),
        None => None,
    };
    if let Err(e) = start::start(g, &st) {
        let _ = super::delete::destroy(g, &st);
        return Err(e);
    }
    let proxy = master.map(proxy::spawn);
    let code = wait_for(st.pid);
    if let Some((raw, out)) = proxy {
        // Let the output copier drain what the container wrote last (EIO ends it).
        for _ in 0..100 {
            if out.is_finished() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(raw);
    }
    super::delete::destroy(g, &st)?;
    Ok(code)
}

/// Runs `start` (which launches a process and returns its pid) in the foreground: subreaper so
/// the process becomes our child, signals forwarded, a terminal proxied when `proxy_tty`, and
/// the process's exit status returned (128+signal when killed). Used by `exec`.
pub(super) fn foreground(proxy_tty: bool, start: impl FnOnce(Option<i32>) -> Result<i32, String>) -> CmdResult {
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut pair = None;
    if proxy_tty {
        let mut fds = [0; 2];
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
            return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
        }
        pair = Some(fds);
    }
    let started = start(pair.map(|p| p[1]));
    if let Some(p) = pair {
        unsafe { libc::close(p[1]) };
    }
    let pid = started?;
    CONTAINER_PID.store(pid, Ordering::Relaxed);
    for s in FORWARDED {
        unsafe { libc::signal(s, forward as *const () as libc::sighandler_t) };
    }
    let proxy = match pair {
        Some(p) => Some(proxy::spawn(console::recv_fd(p[0]).map_err(|e| e.to_string())?)),
        None => None,
    };
    let code = wait_for(pid);
    if let Some((raw, out)) = proxy {
        for _ in 0..100 {
            if out.is_finished() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(raw);
    }
    Ok(code)
}

fn wants_terminal(bundle: &std::path::Path) -> bool {
    crate::spec::Spec::load(bundle).map(|s| s.process().terminal).unwrap_or(false)
}

/// Waits for `pid`, reaping any other orphan that lands on us meanwhile.
fn wait_for(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        let r = unsafe { libc::waitpid(-1, &mut status, 0) };
        if r < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return 255;
        }
        if r == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
        }
    }
}

mod proxy {
    //! Copies our stdio to and from the pty master; our terminal goes raw meanwhile.
    use std::os::fd::RawFd;

    pub struct Raw(Option<libc::termios>);

    impl Drop for Raw {
        fn drop(&mut self) {
            if let Some(t) = &self.0 {
                unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
            }
        }
    }

    fn copy(from: RawFd, to: RawFd) {
        let mut buf = [0u8; 8192];
        loop {
            let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return;
            }
            let mut off = 0;
            while off < n as usize {
                let w = unsafe { libc::write(to, buf[off..].as_ptr().cast(), n as usize - off) };
                if w <= 0 {
                    return;
                }
                off += w as usize;
            }
        }
    }

    pub fn spawn(master: RawFd) -> (Raw, std::thread::JoinHandle<()>) {
        let mut saved = None;
        unsafe {
            if libc::isatty(0) == 1 {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut t) == 0 {
                    saved = Some(t);
                    let mut raw = t;
                    libc::cfmakeraw(&mut raw);
                    libc::tcsetattr(0, libc::TCSANOW, &raw);
                }
                let mut ws: libc::winsize = std::mem::zeroed();
                if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                    libc::ioctl(master, libc::TIOCSWINSZ, &ws);
                }
            }
        }
        std::thread::spawn(move || copy(0, master));
        // The pty master reads EIO once every slave fd is closed, which ends the copy.
        let out = std::thread::spawn(move || copy(master, 1));
        (Raw(saved), out)
    }
}
