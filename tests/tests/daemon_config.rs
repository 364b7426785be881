//! berthd's flags and daemon.json errors, and the API transport facts (ping, versions, 404).

use std::io::{Read, Write};
use std::process::Command;

use berth_tests::engine::{bins, Engine};

#[test]
fn bad_daemon_json_stops_the_daemon_with_file_key_and_position() {
    let (_, berthd) = bins();
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("daemon.json");
    std::fs::write(&f, "{\n  \"mtu\": 1400,\n  \"bogus-key\": true\n}\n").unwrap();
    let out = Command::new(&berthd)
        .args(["--config-file", f.to_str().unwrap()])
        .arg("--data-root")
        .arg(d.path().join("data"))
        .arg("--exec-root")
        .arg(d.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}/s.sock", d.path().display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(f.to_str().unwrap()) && err.contains("bogus-key (line 3, column 3)"), "{err}");
    std::fs::write(&f, "{\"mtu\": 14").unwrap();
    let out = Command::new(&berthd).args(["--config-file", f.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1, column 10"), "{:?}", out);
}

fn raw(e: &Engine, req: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(&e.sock).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn api_transport_facts() {
    let e = Engine::start();
    let ping = raw(&e, "HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ping.starts_with("HTTP/1.1 200 OK\r\n"), "{ping}");
    assert!(ping.contains("api-version: 1.41\r\n") && ping.contains("ostype: linux\r\n"), "{ping}");
    let ping = raw(&e, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ping.ends_with("\r\n\r\nOK"), "{ping}");
    let new = raw(&e, "GET /v1.47/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(new.starts_with("HTTP/1.1 400"), "{new}");
    assert!(new.contains("content-type: application/json\r\n"), "{new}");
    assert!(new.contains("{\"message\":\"client version 1.47 is too new. Maximum supported API version is 1.41\"}"), "{new}");
    let old = raw(&e, "GET /v1.11/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(old.contains("client version 1.11 is too old. Minimum supported API version is 1.12"), "{old}");
    let nf = raw(&e, "GET /v1.41/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(nf.starts_with("HTTP/1.1 404") && nf.contains("{\"message\":\"page not found\"}"), "{nf}");
    let nc = raw(&e, "GET /v1.41/containers/nosuch/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(nc.starts_with("HTTP/1.1 404") && nc.contains("No such container: nosuch"), "{nc}");
    let ni = raw(&e, "GET /v1.41/images/127.0.0.1:5055/research/bb:l2/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ni.starts_with("HTTP/1.1 404") && ni.contains("No such image: 127.0.0.1:5055/research/bb:l2"), "{ni}");
    let v = e.ok(&["version"]);
    assert!(v.contains("API version:      1.41 (minimum version 1.12)"), "{v}");
    let info = e.ok(&["info"]);
    assert!(info.contains(" Logging Driver: json-file") && info.contains(" Cgroup Driver: cgroupfs"), "{info}");
    let r = e.berth(&["-H", "unix:///nonexistent/berth.sock", "ps"]);
    assert_eq!(r.stderr, "Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is the berth daemon running?\n");
}
