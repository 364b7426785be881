//! Client side of hijacked streams: demultiplexing, stdin forwarding with half-close, raw
//! terminal mode, Ctrl-P Ctrl-Q detach (handled client-side, as CLI 28 does).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use crate::client::Conn;
use crate::shim::proto;

/// Puts the terminal on fd 0 in raw mode; restores it on drop.
pub struct RawTerminal {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawTerminal {
    pub fn enable() -> RawTerminal {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(&stdin) else { return RawTerminal { saved: None } };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
        RawTerminal { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(s) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, s);
        }
    }
}

pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

/// `(rows, cols)` of the terminal on stdout, if any.
pub fn term_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ fills the struct we own.
    let r = unsafe { libc::ioctl(std::io::stdout().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

#[derive(Debug, PartialEq)]
pub enum End {
    /// The daemon closed the stream (process ended).
    Closed,
    /// The user detached with Ctrl-P Ctrl-Q.
    Detached,
    /// The daemon reported an error in-stream.
    Error(String),
}

/// Pump a hijacked connection until the output ends. `early` are bytes already read.
pub fn pump(conn: Conn, early: Vec<u8>, tty: bool, forward_stdin: bool) -> std::io::Result<End> {
    let (tx, rx) = std::sync::mpsc::channel::<End>();
    if forward_stdin {
        let mut w = conn.try_clone()?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            let mut prev_ctrl_p = false;
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut out = Vec::with_capacity(n);
                for &b in &buf[..n] {
                    if tty && prev_ctrl_p && b == 0x11 {
                        let _ = tx.send(End::Detached);
                        w.shutdown();
                        return;
                    }
                    if tty && b == 0x10 && !prev_ctrl_p {
                        prev_ctrl_p = true;
                        continue;
                    }
                    if prev_ctrl_p {
                        out.push(0x10);
                        prev_ctrl_p = false;
                    }
                    out.push(b);
                }
                if w.write_all(&out).is_err() {
                    return;
                }
            }
            let _ = w.shutdown_write();
        });
    }
    let mut r = early.chain(conn);
    let end = std::thread::scope(|_| -> std::io::Result<End> {
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        if tty {
            let mut buf = [0u8; 32 * 1024];
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut o = stdout.lock();
                o.write_all(&buf[..n])?;
                o.flush()?;
            }
            return Ok(End::Closed);
        }
        loop {
            match proto::read_frame(&mut r) {
                Ok(Some((proto::STDERR, p))) => {
                    let mut e = stderr.lock();
                    e.write_all(&p)?;
                    e.flush()?;
                }
                Ok(Some((proto::SYSTEMERR, p))) => {
                    return Ok(End::Error(format!("error from daemon in stream: {}", String::from_utf8_lossy(&p))));
                }
                Ok(Some((_, p))) => {
                    let mut o = stdout.lock();
                    o.write_all(&p)?;
                    o.flush()?;
                }
                Ok(None) | Err(_) => return Ok(End::Closed),
            }
        }
    })?;
    if let Ok(d) = rx.try_recv() {
        return Ok(d);
    }
    Ok(end)
}
