//! Client side of hijacked streams: demultiplexing, stdin forwarding with half-close, raw
//! terminal mode, detach keys (the daemon detaches; we recognise the sequence to tell why the
//! stream ended).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use crate::api::attach::escape::{self, EscapeProxy};
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
    /// The user typed the detach keys (Ctrl-P Ctrl-Q by default).
    Detached,
    /// The daemon reported an error in-stream.
    Error(String),
}

/// How long to wait, after the detach keys went out, for the daemon to close the stream
/// before closing it ourselves (a daemon that does not know detach keys).
const DETACH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Pump a hijacked connection until the output ends. `early` are bytes already read.
/// `detach_keys` (TTY with stdin only): stdin is forwarded as typed — the daemon runs it
/// through its escape proxy and closes the stream on the whole sequence — while the same
/// proxy here tells that the end is a detach ([`End::Detached`]).
pub fn pump(conn: Conn, early: Vec<u8>, tty: bool, forward_stdin: bool, detach_keys: &[u8]) -> std::io::Result<End> {
    let (tx, rx) = std::sync::mpsc::channel::<End>();
    if forward_stdin {
        let mut w = conn.try_clone()?;
        let tx = tx.clone();
        let mut proxy = tty.then(|| EscapeProxy::new(detach_keys.to_vec()));
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                // Up to the end of the sequence, if it completes in this read.
                let cut = match proxy.as_mut() {
                    Some(p) => (0..n).find(|&i| p.feed(&buf[i..=i]).1).map(|i| i + 1),
                    None => None,
                };
                if let Some(cut) = cut {
                    let _ = tx.send(End::Detached);
                    let _ = w.write_all(&buf[..cut]);
                    std::thread::sleep(DETACH_GRACE);
                    w.shutdown();
                    return;
                }
                if w.write_all(&buf[..n]).is_err() {
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

/// The detach keys the CLI uses: `--detach-keys`, else `detachKeys` of the CLI config file
/// (as docker's `ConfigFile().DetachKeys`); None: the daemon's default. Empty counts as unset.
pub fn detach_keys(flag: Option<&str>) -> Option<String> {
    if let Some(k) = flag.filter(|k| !k.is_empty()) {
        return Some(k.to_string());
    }
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(super::registry_auth::config_file()).ok()?).ok()?;
    cfg["detachKeys"].as_str().filter(|k| !k.is_empty()).map(str::to_string)
}

/// The bytes for our own recognition of the sequence: Docker's default when unset; an
/// invalid value (the daemon refuses it anyway) falls back to the default, as the docker CLI.
pub fn detach_bytes(keys: Option<&str>) -> Vec<u8> {
    keys.and_then(|k| escape::to_bytes(k).ok()).unwrap_or_else(|| escape::DEFAULT_KEYS.to_vec())
}

/// The docker CLI's check of `--detach-keys` before it creates anything (run, start).
pub fn check_detach_keys(keys: Option<&str>) -> Result<(), String> {
    match keys {
        Some(k) => escape::to_bytes(k).map(|_| ()).map_err(|e| format!("invalid detach keys ({k}): {e}")),
        None => Ok(()),
    }
}
