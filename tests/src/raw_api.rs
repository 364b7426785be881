//! Raw Engine API requests on berthd's unix socket (one connection per request, HTTP/1.1,
//! `Connection: close`), for tests that check statuses, headers and bodies as sent.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A response: status, head (status line + headers) and body (de-chunked).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The body as JSON (panics with the answer when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// `message` of a `{"message":…}` error body ("" when absent).
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body).ok().and_then(|v| v["message"].as_str().map(String::from)).unwrap_or_default()
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap_or("0").trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < i + 2 + n {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[(i + 4 + n).min(b.len())..];
    }
    out
}

/// A raw HTTP/1.1 response as read off the socket (status 0 when the daemon closed the
/// connection without answering, e.g. a panicking handler).
pub fn parse(raw: &[u8]) -> Answer {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Answer { status: 0, head: String::from_utf8_lossy(raw).into_owned(), body: String::new() };
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = &raw[end + 4..];
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_vec() };
    Answer { status, head, body: String::from_utf8_lossy(&body).into_owned() }
}

/// `method path` (sent as is: include any `/v1.41` prefix, percent-encode yourself) with extra
/// header lines (`"X-Registry-Auth: …"`) and a body (JSON when given).
pub fn request_with(sock: &Path, method: &str, path: &str, headers: &[&str], body: Option<&str>) -> Answer {
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or("");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: close\r\n");
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut req = head.into_bytes();
    req.extend_from_slice(body.as_bytes());
    // The daemon may answer (a 503 swarm route, a 413) and close before it has read the body,
    // as dockerd may: the answer is what the test checks, so a write cut short is no failure.
    match s.write_all(&req) {
        Err(e) if matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset) => {}
        r => r.unwrap(),
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse(&out)
}

/// `method path` with an optional JSON body.
pub fn request(sock: &Path, method: &str, path: &str, body: Option<&str>) -> Answer {
    request_with(sock, method, path, &[], body)
}

/// Whether `/usr/bin/python3` can `import docker` (Debian's python3-docker); says what is
/// skipped when not.
pub fn have_docker_py(what: &str) -> bool {
    let ok =
        std::process::Command::new("/usr/bin/python3").args(["-c", "import docker"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        eprintln!("skipped: {what}: /usr/bin/python3 has no docker module (apt-get install python3-docker)");
    }
    ok
}

/// Runs a docker-py script (`sys.argv[1]` is berthd's `unix://` address): (exit ok, stdout, stderr).
pub fn docker_py(host: &str, script: &str) -> (bool, String, String) {
    let o = std::process::Command::new("/usr/bin/python3").args(["-c", script, host]).output().expect("python3");
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}
