//! `--console-socket`: the container's pty master arrives over the unix socket (SCM_RIGHTS)
//! and carries the container's terminal I/O.

use berth_runtime::process::console::recv_fd;
use berth_tests::runtime::{ok, Sandbox};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixListener;

#[test]
fn console_socket_receives_a_working_pty() {
    let sb = Sandbox::new();
    let sock_path = sb.path().join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let b = sb.bundle("tty", &["sh", "-c", "tty; test -t 0 && echo stdin-is-tty; echo done"], |s| {
        s["process"]["terminal"] = true.into();
    });
    let accept = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        recv_fd(conn.as_raw_fd()).unwrap()
    });
    ok(&sb.berth(&["create", "-b", b.to_str().unwrap(), "--console-socket", sock_path.to_str().unwrap(), "tty"]));
    let master = accept.join().unwrap();
    let mut master = unsafe { std::fs::File::from_raw_fd(master) };
    ok(&sb.berth(&["start", "tty"]));
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    // Read until the container closes the pty (EIO) or says done.
    while !String::from_utf8_lossy(&out).contains("done") {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(text.contains("/dev/pts/0\n"), "{text}");
    assert!(text.contains("stdin-is-tty\n"), "{text}");
    sb.wait_status("tty", "stopped").unwrap();
    ok(&sb.berth(&["delete", "tty"]));
}

#[test]
fn terminal_without_console_socket_is_refused_for_create() {
    let sb = Sandbox::new();
    let b = sb.bundle("t2", &["true"], |s| s["process"]["terminal"] = true.into());
    let out = sb.berth(&["create", "-b", b.to_str().unwrap(), "t2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("process.terminal"));
    assert!(sb.leftover_state().is_empty());
}

#[test]
fn foreground_run_with_terminal_proxies_the_pty() {
    let sb = Sandbox::new();
    let b = sb.bundle("fg", &["sh", "-c", "tty; test -t 1 && echo stdout-is-tty; exit 3"], |s| {
        s["process"]["terminal"] = true.into();
    });
    // No --console-socket: `run` holds the pty itself and copies it to its own stdout.
    let out = sb.berth(&["run", "-b", b.to_str().unwrap(), "fg"]);
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(3), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text, "/dev/pts/0\nstdout-is-tty\n");
    assert!(sb.leftover_state().is_empty());
}
