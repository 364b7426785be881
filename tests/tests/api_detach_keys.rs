//! Detach keys on the daemon side, byte for byte on hijacked sockets (as docker-py or any raw
//! API client sees them): `POST /containers/{id}/attach?detachKeys=` and exec create's
//! `DetachKeys`. As moby: only a TTY attach with stdin is watched; the whole sequence closes
//! the stream and leaves the container (or exec'd process) running; a sequence that breaks off
//! is passed on; bad keys are refused with Docker's texts.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use berth_tests::engine::Engine;

/// A hijacked session: the socket after the `101` head, and what it has sent so far.
struct Hijacked {
    s: UnixStream,
    seen: Vec<u8>,
}

impl Hijacked {
    fn attach(e: &Engine, id: &str, query: &str) -> Hijacked {
        let mut s = UnixStream::connect(&e.sock).unwrap();
        write!(s, "POST /v1.41/containers/{id}/attach?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").unwrap();
        Self::upgraded(s)
    }

    fn exec_start(e: &Engine, exec_id: &str) -> Hijacked {
        let mut s = UnixStream::connect(&e.sock).unwrap();
        let body = r#"{"Detach":false,"Tty":true}"#;
        write!(
            s,
            "POST /v1.41/exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        Self::upgraded(s)
    }

    fn upgraded(s: UnixStream) -> Hijacked {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut h = Hijacked { s: s.try_clone().unwrap(), seen: Vec::new() };
        let deadline = Instant::now() + Duration::from_secs(15);
        let end = loop {
            if let Some(i) = h.seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(Instant::now() < deadline, "no response head: {:?}", String::from_utf8_lossy(&h.seen));
            assert!(h.read_some(), "closed before the head: {:?}", String::from_utf8_lossy(&h.seen));
        };
        let head = String::from_utf8_lossy(&h.seen[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        h.seen.drain(..end);
        h
    }

    /// Read what is there (up to the short timeout); false at EOF.
    fn read_some(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        match self.s.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.seen.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => true,
            Err(_) => false,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?} in {:?}", self.text());
            assert!(self.read_some(), "stream ended before {needle:?}: {:?}", self.text());
        }
    }

    fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    /// Whether the daemon closes the stream within `secs`.
    fn closes_within(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if !self.read_some() {
                return true;
            }
        }
        false
    }
}

fn running(e: &Engine, name: &str) -> bool {
    e.ok(&["inspect", "-f", "{{.State.Running}}", name]) == "true\n"
}

/// A request on a fresh connection: (status, body).
fn request(e: &Engine, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = UnixStream::connect(&e.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn attach_detach_keys() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-itd", "--name", "tt", "busybox", "sh"]);

    // Default keys, the sequence split over two writes: the first byte is held back, the
    // second ends the session; the container goes on.
    let mut h = Hijacked::attach(&e, "tt", "stdin=1&stdout=1&stderr=1&stream=1");
    h.send(b"touch /x; echo made-$((6*7))\r");
    h.expect("made-42");
    h.send(&[0x10]);
    assert!(!h.closes_within(1), "a prefix alone does not detach: {:?}", h.text());
    h.send(&[0x11]);
    assert!(h.closes_within(10), "ctrl-p ctrl-q: the daemon ends the attach; got {:?}", h.text());
    assert!(running(&e, "tt"), "the container keeps running");
    e.ok(&["exec", "tt", "ls", "/x"]);
    let ev = events(&e, "event=detach", "{{.Action}} {{.Actor.Attributes.name}}");
    assert_eq!(ev, "detach tt\n", "moby logs a detach event");

    // A broken-off sequence: ctrl-p then `a` both reach the process (cat writes them to /b).
    let mut h = Hijacked::attach(&e, "tt", "stdin=1&stdout=1&stderr=1&stream=1");
    h.send(b"echo cat-$((2*6)); cat > /b\r");
    h.expect("cat-12");
    std::thread::sleep(Duration::from_millis(300));
    h.send(b"\x10");
    std::thread::sleep(Duration::from_millis(200));
    h.send(b"a\n\x04");
    h.send(b"echo back-$((2*7))\r");
    h.expect("back-14");
    assert_eq!(e.ok(&["exec", "tt", "cat", "/b"]), "\x10a\n");

    // Custom keys, both in one write with bytes before them: those bytes go through, the
    // session ends; ctrl-p ctrl-q is no sequence then (the tty takes ctrl-q as XON).
    h.s.shutdown(std::net::Shutdown::Both).unwrap();
    let mut h = Hijacked::attach(&e, "tt", "detachKeys=ctrl-x%2Cx&stdin=1&stdout=1&stderr=1&stream=1");
    h.send(b"echo cat-$((1*3)); cat > /p\r");
    h.expect("cat-3");
    std::thread::sleep(Duration::from_millis(300));
    h.send(b"\x10\x11z\n\x04");
    h.send(b"echo still-$((4*4))\r");
    h.expect("still-16");
    assert_eq!(e.ok(&["exec", "tt", "cat", "/p"]), "\x10z\n", "ctrl-p passed on (ctrl-q is the tty's XON)");
    h.send(b"echo last-$((5*5)) > /l\r\x18xecho dropped > /l\r");
    assert!(h.closes_within(10), "ctrl-x x ends the attach: {:?}", h.text());
    assert!(running(&e, "tt"));
    e.eventually(10, "the line before the keys ran", || e.berth(&["exec", "tt", "cat", "/l"]).stdout == "last-25\n");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(e.ok(&["exec", "tt", "cat", "/l"]), "last-25\n", "what follows the keys is dropped");

    // No stdin attached: nothing to watch, and bad keys are refused before anything else.
    let (status, body) = request(&e, "POST", "/v1.41/containers/tt/attach?stream=1&stdout=1&detachKeys=ctrl-%C3%BC", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#""message":"Invalid detach keys (ctrl-ü) provided""#), "{body}");
    let (status, body) = request(&e, "POST", "/v1.41/containers/nosuch/attach?stream=1&detachKeys=ctrl-A", "");
    assert_eq!((status, body.contains("Invalid detach keys (ctrl-A) provided")), (400, true), "keys are checked first: {body}");
    e.ok(&["rm", "-f", "tt"]);
}

#[test]
fn no_tty_attach_passes_the_keys() {
    let e = Engine::start();
    e.import_busybox();
    // moby scans stdin only for TTY attaches: here the keys are data.
    e.ok(&["run", "-d", "-i", "--name", "nn", "busybox", "cat"]);
    let mut h = Hijacked::attach(&e, "nn", "stdin=1&stdout=1&stream=1");
    h.send(b"a\x10\x11b\n");
    // cat echoes them back in a stdout frame.
    h.expect("a\x10\x11b\n");
    assert!(!h.closes_within(1), "no detach without a TTY");
    assert!(running(&e, "nn"));
    e.ok(&["rm", "-f", "nn"]);
}

#[test]
fn exec_detach_keys() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-itd", "--name", "tt", "busybox", "sh"]);

    // Bad keys: exec create refuses them (moby: a plain error, 500, worded "escape").
    let bad = r#"{"AttachStdin":true,"AttachStdout":true,"Tty":true,"DetachKeys":"ctrl-ü","Cmd":["sh"]}"#;
    let (status, body) = request(&e, "POST", "/v1.41/containers/tt/exec", bad);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(r#""message":"Invalid escape keys (ctrl-ü) provided""#), "{body}");

    // Custom keys at create; start hijacks; the keys end the session, the shell goes on.
    let create = r#"{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"DetachKeys":"ctrl-x,x","Cmd":["sh"]}"#;
    let (status, body) = request(&e, "POST", "/v1.41/containers/tt/exec", create);
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["Id"].as_str().unwrap().to_string();
    let mut h = Hijacked::exec_start(&e, &id);
    h.send(b"echo exec-$((3*3))\r");
    h.expect("exec-9");
    h.send(b"\x18x");
    assert!(h.closes_within(10), "ctrl-x x ends the exec session: {:?}", h.text());
    let (_, inspect) = request(&e, "GET", &format!("/v1.41/exec/{id}/json"), "");
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v["Running"], true, "the exec'd shell keeps running: {inspect}");
    assert_eq!(v["DetachKeys"], "GHg=", "moby shows the parsed keys, base64 ([]byte): {inspect}");
    let ev = events(&e, "event=exec_detach", "{{.Action}}");
    assert_eq!(ev, "exec_detach\n");

    // Default keys when none were given.
    let create = r#"{"AttachStdin":true,"AttachStdout":true,"Tty":true,"Cmd":["sh"]}"#;
    let (_, body) = request(&e, "POST", "/v1.41/containers/tt/exec", create);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["Id"].as_str().unwrap().to_string();
    let mut h = Hijacked::exec_start(&e, &id);
    h.send(b"echo dflt-$((2*4))\r");
    h.expect("dflt-8");
    h.send(&[0x10, 0x11]);
    assert!(h.closes_within(10), "ctrl-p ctrl-q ends the exec session: {:?}", h.text());
    let (_, inspect) = request(&e, "GET", &format!("/v1.41/exec/{id}/json"), "");
    assert!(inspect.contains(r#""Running":true"#) && inspect.contains(r#""DetachKeys":"""#), "{inspect}");
    e.ok(&["rm", "-f", "tt"]);
}

/// The events so far that match `filter`, in `format`.
fn events(e: &Engine, filter: &str, format: &str) -> String {
    let until = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1).to_string();
    e.ok(&["events", "--since", "0", "--until", &until, "--filter", filter, "--format", format])
}

/// Bad `--detach-keys` through the CLIs: exec's refusal comes from the daemon (same text for
/// berth and docker); berth checks run's and start's flag before creating or starting anything
/// (as newer docker CLIs do; CLI 28.2 creates, then fails on the daemon's 400); attach's
/// refusal is the daemon's.
#[test]
fn cli_bad_detach_keys() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-itd", "--name", "tt", "busybox", "sh"]);
    let r = e.berth(&["exec", "--detach-keys", "ctrl-A", "tt", "true"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error response from daemon: Invalid escape keys (ctrl-A) provided\n"));
    if berth_tests::engine::have_docker("the docker CLI half of this test") {
        let d = e.docker(&["exec", "--detach-keys", "ctrl-A", "tt", "true"]);
        assert_eq!((d.code, d.stderr.as_str()), (r.code, r.stderr.as_str()));
    }
    let r = e.berth(&["attach", "--detach-keys", "ctrl-A", "tt"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error response from daemon: Invalid detach keys (ctrl-A) provided\n"));

    let before = e.ok(&["ps", "-aq"]);
    let r = e.berth(&["run", "--detach-keys", "ctrl-ü", "busybox", "true"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "invalid detach keys (ctrl-ü): Unknown character: 'ctrl-ü'\n"));
    assert_eq!(e.ok(&["ps", "-aq"]), before, "nothing created");
    e.ok(&["create", "--name", "cc", "busybox", "true"]);
    let r = e.berth(&["start", "-a", "--detach-keys", "shift-a", "cc"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "invalid detach keys (shift-a): Unknown character: 'shift-a'\n"));
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Status}}", "cc"]), "created\n", "not started");
    // `docker create` has no --detach-keys.
    let r = e.berth(&["create", "--detach-keys", "ctrl-x", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("unknown flag: --detach-keys"), "{r:?}");
}
