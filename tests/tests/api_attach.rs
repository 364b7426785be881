//! `POST /containers/{id}/attach` with `logs=1` (the json-file log replayed first, framed when
//! there is no TTY) and `stream=0` (the session ends after the replay), byte for byte on the
//! hijacked socket, as moby's `containerAttach` answers.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use berth_tests::engine::Engine;

const HEAD: &str = "HTTP/1.1 101 ";

/// Docker's 8-byte stream header + payload.
fn frame(stream: u8, payload: &str) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload.as_bytes());
    v
}

fn frames(fs: &[(u8, &str)]) -> Vec<u8> {
    fs.iter().flat_map(|(s, p)| frame(*s, p)).collect()
}

/// Attach the way docker-py does (upgrade headers) and read until the daemon closes. A daemon
/// that keeps the session open (stream ignored) fails the read timeout instead of hanging.
fn attach(e: &Engine, id: &str, query: &str) -> Vec<u8> {
    let mut s = UnixStream::connect(&e.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(s, "POST /v1.41/containers/{id}/attach?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(err) => panic!("attach?{query}: {err} after {:?}\n--- berthd:\n{}", String::from_utf8_lossy(&out), e.daemon_log()),
        }
    }
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or_else(|| panic!("no response head: {out:?}"));
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    assert!(head.starts_with(HEAD), "{head}");
    out.split_off(end)
}

#[test]
fn attach_replays_the_log() {
    let e = Engine::start();
    e.import_busybox();
    // The sleeps order stdout and stderr lines in the log (they come through separate pipes).
    let id = e.ok(&["run", "-d", "busybox", "sh", "-c", "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; printf out2"]);
    let id = id.trim();
    assert_eq!(e.ok(&["wait", id]), "0\n");

    // Exited container, stream=0: the whole log, one frame per entry, then the end.
    assert_eq!(attach(&e, id, "logs=1&stream=0&stdout=1&stderr=1"), frames(&[(1, "out1\n"), (2, "err1\n"), (1, "out2")]));
    // Only the streams asked for.
    assert_eq!(attach(&e, id, "logs=1&stream=0&stdout=1"), frames(&[(1, "out1\n"), (1, "out2")]));
    assert_eq!(attach(&e, id, "logs=1&stream=0&stderr=1"), frames(&[(2, "err1\n")]));
    // No logs, no stream: nothing at all.
    assert_eq!(attach(&e, id, "logs=0&stream=0&stdout=1&stderr=1"), b"");

    // A TTY container's log is replayed raw.
    let t = e.ok(&["run", "-d", "-t", "busybox", "sh", "-c", "echo tty-out; echo tty-err >&2"]);
    let t = t.trim();
    assert_eq!(e.ok(&["wait", t]), "0\n");
    assert_eq!(String::from_utf8(attach(&e, t, "logs=1&stream=0&stdout=1&stderr=1")).unwrap(), "tty-out\r\ntty-err\r\n");

    // Running container, logs=1&stream=1: what was logged, then live output until it exits.
    let r = e.ok(&["run", "-d", "busybox", "sh", "-c", "echo before; sleep 3; echo after"]);
    let r = r.trim();
    e.eventually(10, "the first line logged", || e.ok(&["logs", r]) == "before\n");
    assert_eq!(attach(&e, r, "logs=1&stream=1&stdout=1&stderr=1"), frames(&[(1, "before\n"), (1, "after\n")]));
}
