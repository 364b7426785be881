//! Interactive `-it` sessions driven through a pty: berth and the docker CLI, exit codes,
//! and detach keys (Ctrl-P Ctrl-Q, `--detach-keys`) for run, start, attach and exec, leaving
//! the container (and the exec'd process) running.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::engine::{bins, have_docker, Engine};

fn openpty() -> (std::fs::File, OwnedFd) {
    berth_tests::pty::openpty(30, 100)
}

struct Session {
    child: std::process::Child,
    master: std::fs::File,
    /// Our copy of the slave: its termios tells when the CLI has put the terminal in raw mode.
    slave: OwnedFd,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Session {
    fn spawn(mut cmd: Command) -> Session {
        let (master, slave) = openpty();
        let fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
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
        Session { child, master, slave, out }
    }

    /// Wait until the CLI has put the terminal in raw mode (no ICANON): from then on what we
    /// type reaches it byte for byte (in cooked mode the local tty would echo our input, hold
    /// it until a newline and eat ^Q as XON). `docker attach` shows no prompt to wait for.
    fn wait_raw(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // SAFETY: tcgetattr fills a termios we own, on the slave fd we own.
            let raw = unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                libc::tcgetattr(self.slave.as_raw_fd(), &mut t) == 0 && t.c_lflag & libc::ICANON == 0
            };
            if raw {
                return;
            }
            assert!(Instant::now() < deadline, "the CLI never set raw mode; pty output: {:?}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
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
    let mk = || e.docker_command();
    interactive_session(&e, mk());
    detach_session(&e, mk());
}

/// How a CLI ends on the detach keys: exit codes of `attach` and `exec`, which print `read
/// escape sequence` (`run` and `start` exit 0 silently with both CLIs); and whether the
/// daemon saw the sequence (berth forwards it and berthd detaches, logging `detach` events;
/// docker CLI 28 spots it itself, never sends it and just hangs up).
struct Detached {
    attach_code: i32,
    exec_code: i32,
    server_side: bool,
}

fn running(e: &Engine, name: &str) -> bool {
    e.ok(&["inspect", "-f", "{{.State.Running}}", name]) == "true\n"
}

fn attach_session(mk: &dyn Fn() -> Command, args: &[&str]) -> Session {
    let mut c = mk();
    c.args(args);
    let s = Session::spawn(c);
    s.wait_raw();
    s
}

/// `run -itd --name att busybox sh`, then through the CLI under test: attach and detach with
/// the default keys, custom `--detach-keys` (the default then passes through), a broken-off
/// sequence passed on, `exec -it` detach, `run -it --detach-keys`, `start -ai` detach.
fn detach_keys_session(e: &Engine, mk: &dyn Fn() -> Command, want: &Detached) {
    e.ok(&["run", "-itd", "--name", "att", "busybox", "sh"]);

    // The default keys: the attach ends, the container goes on; what was typed before ran.
    let mut s = attach_session(mk, &["attach", "att"]);
    s.send(b"touch /x; echo made-$((6*7))\r");
    s.expect("made-42");
    s.send(&[0x10, 0x11]);
    assert_eq!(s.wait(), want.attach_code, "pty output: {:?}", s.output());
    assert!(s.output().contains("read escape sequence"), "{:?}", s.output());
    assert!(running(e, "att"), "detach leaves it running");
    e.ok(&["exec", "att", "ls", "/x"]);

    // Custom keys: ctrl-p ctrl-q is just input now (cat gets the ctrl-p; the container's tty
    // takes ctrl-q as XON), ctrl-x x detaches.
    let mut s = attach_session(mk, &["attach", "--detach-keys", "ctrl-x,x", "att"]);
    s.send(b"echo cat-$((2*5)); cat > /c\r");
    s.expect("cat-10");
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"1\x10\x112\n\x04");
    s.send(b"echo after-$((3*3))\r");
    s.expect("after-9");
    s.send(b"\x18x");
    assert_eq!(s.wait(), want.attach_code, "pty output: {:?}", s.output());
    assert!(running(e, "att"));
    assert_eq!(e.ok(&["exec", "att", "cat", "/c"]), "1\x102\n", "ctrl-p ctrl-q passed through");

    // A broken-off sequence: ctrl-p then `a` — both bytes reach the process.
    let mut s = attach_session(mk, &["attach", "att"]);
    s.send(b"echo cat-$((2*6)); cat > /b\r");
    s.expect("cat-12");
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"\x10a\n\x04");
    s.send(b"echo back-$((2*7))\r");
    s.expect("back-14");
    s.send(&[0x10, 0x11]);
    assert_eq!(s.wait(), want.attach_code, "pty output: {:?}", s.output());
    assert_eq!(e.ok(&["exec", "att", "cat", "/b"]), "\x10a\n");

    // exec -it: the exec'd shell keeps running after the detach.
    let mut c = mk();
    c.args(["exec", "-it", "att", "sh"]);
    let mut s = Session::spawn(c);
    s.expect("/ # ");
    s.wait_raw();
    s.send(b"echo exec-$((3*3))\r");
    s.expect("exec-9");
    s.send(&[0x10, 0x11]);
    assert_eq!(s.wait(), want.exec_code, "pty output: {:?}", s.output());
    assert!(s.output().contains("read escape sequence"), "{:?}", s.output());
    let ps = e.ok(&["exec", "att", "ps"]);
    assert_eq!(ps.lines().filter(|l| l.ends_with(" sh")).count(), 2, "the container's sh and the detached exec's: {ps}");
    e.ok(&["rm", "-f", "att"]);

    // run -it with custom keys.
    let mut c = mk();
    c.args(["run", "-it", "--name", "rr", "--detach-keys", "ctrl-x,x", "busybox", "sh"]);
    let mut s = Session::spawn(c);
    s.expect("/ # ");
    s.wait_raw();
    s.send(b"\x18x");
    assert_eq!(s.wait(), 0, "pty output: {:?}", s.output());
    assert!(!s.output().contains("read escape sequence"), "run detaches silently: {:?}", s.output());
    assert!(running(e, "rr"));
    e.ok(&["rm", "-f", "rr"]);

    // start -ai.
    e.ok(&["create", "-it", "--name", "ss", "busybox", "sh"]);
    let mut c = mk();
    c.args(["start", "-ai", "ss"]);
    let mut s = Session::spawn(c);
    s.expect("/ # ");
    s.wait_raw();
    s.send(&[0x10, 0x11]);
    assert_eq!(s.wait(), 0, "pty output: {:?}", s.output());
    assert!(!s.output().contains("read escape sequence"), "start detaches silently: {:?}", s.output());
    assert!(running(e, "ss"));
    e.ok(&["rm", "-f", "ss"]);

    let until = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1).to_string();
    let filters = ["--filter", "event=detach", "--filter", "event=exec_detach"];
    let ev = e
        .ok(&[&["events", "--since", "0", "--until", &until][..], &filters, &["--format", "{{.Action}} {{.Actor.Attributes.name}}"]]
            .concat());
    let want_ev = if want.server_side { "detach att\ndetach att\ndetach att\nexec_detach att\ndetach rr\ndetach ss\n" } else { "" };
    assert_eq!(ev, want_ev, "detaches the daemon did");
}

/// `detachKeys` in the CLI's config file (`config_dir/config.json`) is the default: sent to the
/// daemon and used by the CLI.
fn config_keys_session(e: &Engine, mk: &dyn Fn() -> Command, config_dir: &std::path::Path) {
    std::fs::create_dir_all(config_dir).unwrap();
    std::fs::write(config_dir.join("config.json"), r#"{"detachKeys": "ctrl-x,x"}"#).unwrap();
    let mut c = mk();
    c.args(["run", "-it", "--name", "cfg", "busybox", "sh"]);
    let mut s = Session::spawn(c);
    s.expect("/ # ");
    s.wait_raw();
    s.send(b"\x18x");
    assert_eq!(s.wait(), 0, "pty output: {:?}", s.output());
    assert!(running(e, "cfg"));
    e.ok(&["rm", "-f", "cfg"]);
    std::fs::remove_file(config_dir.join("config.json")).unwrap();
}

#[test]
fn berth_detach_keys_through_a_pty() {
    let e = Engine::start();
    e.import_busybox();
    let (berth, _) = bins();
    let mk = || {
        let mut c = Command::new(&berth);
        c.env("BERTH_HOST", e.host()).env("BERTH_CONFIG", e.dir.path().join("berth-config"));
        c
    };
    detach_keys_session(&e, &mk, &Detached { attach_code: 0, exec_code: 0, server_side: true });
    config_keys_session(&e, &mk, &e.dir.path().join("berth-config"));
}

#[test]
fn docker_detach_keys_through_a_pty() {
    if !have_docker("this test") {
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    let mk = || e.docker_command();
    detach_keys_session(&e, &mk, &Detached { attach_code: 1, exec_code: 1, server_side: false });
    config_keys_session(&e, &mk, &e.dir.path().join("docker-config"));
}
