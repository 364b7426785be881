//! Interactive `-it` sessions driven through a pty: berth and the docker CLI, exit codes,
//! and Ctrl-P Ctrl-Q detach leaving the container running.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::engine::{bins, docker_cli, have_docker, Engine};

/// A pty pair: (master, slave).
fn openpty() -> (std::fs::File, OwnedFd) {
    // SAFETY: plain libc pty calls on fds we own.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
        let s = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(s >= 0);
        let ws = libc::winsize { ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 };
        libc::ioctl(s, libc::TIOCSWINSZ, &ws);
        (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s))
    }
}

struct Session {
    child: std::process::Child,
    master: std::fs::File,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Session {
    fn spawn(mut cmd: Command) -> Session {
        let (master, slave) = openpty();
        let fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap())).stdout(Stdio::from(slave.try_clone().unwrap())).stderr(Stdio::from(slave));
        // SAFETY: setsid + controlling tty in the child, async-signal-safe calls only.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(fd, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn CLI on a pty");
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (o, mut r) = (out.clone(), master.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Session { child, master, out }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn expect(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.output().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in pty output: {:?}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, s: &[u8]) {
        self.master.write_all(s).unwrap();
    }

    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("CLI did not exit; pty output: {:?}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn interactive_session(e: &Engine, mut cmd: Command) {
    cmd.args(["run", "-it", "--name", "itc", "busybox", "sh"]);
    let mut s = Session::spawn(cmd);
    s.expect("/ # ");
    s.send(b"echo tty-$((40+2)); tty\r");
    s.expect("tty-42");
    s.expect("/dev/pts/0");
    s.send(b"exit 3\r");
    assert_eq!(s.wait(), 3, "pty output: {:?}", s.output());
    let logs = e.ok(&["logs", "itc"]);
    assert!(logs.contains("tty-42\r\n"), "TTY logs keep \\r\\n: {logs:?}");
    e.ok(&["rm", "itc"]);
}

fn detach_session(e: &Engine, mut cmd: Command) {
    cmd.args(["run", "-it", "--name", "det", "busybox", "sh"]);
    let mut s = Session::spawn(cmd);
    // Wait for the container's prompt: by then the CLI has put the terminal in raw mode (in
    // cooked mode the local tty would echo our input and eat ^Q as XON).
    s.expect("/ # ");
    s.send(b"echo before-$((1+1))-detach\r");
    s.expect("before-2-detach");
    s.send(&[0x10, 0x11]);
    assert_eq!(s.wait(), 0);
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Running}}", "det"]), "true\n", "detach leaves it running");
    e.ok(&["rm", "-f", "det"]);
}

#[test]
fn berth_run_it_through_a_pty() {
    let e = Engine::start();
    e.import_busybox();
    let (berth, _) = bins();
    let mk = || {
        let mut c = Command::new(&berth);
        c.env("BERTH_HOST", e.host());
        c
    };
    interactive_session(&e, mk());
    detach_session(&e, mk());
}

#[test]
fn docker_run_it_through_a_pty() {
    if !have_docker("this test") {
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    let cfg = e.dir.path().join("docker-config");
    let mk = || {
        let mut c = Command::new(docker_cli().expect("checked above"));
        c.env("DOCKER_HOST", e.host()).env("DOCKER_CONFIG", &cfg);
        c
    };
    interactive_session(&e, mk());
    detach_session(&e, mk());
}
