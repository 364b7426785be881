//! An HTTP GET made by the grader from inside a host's network namespace (plain HTTP/1.0, no
//! proxy, so the answer comes from the server the student started, nothing else).

use super::{netns, Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub from: String,
    /// http://ip:port/path
    pub url: String,
    #[serde(default = "ok")]
    pub status: u16,
    /// Regex the body must match.
    #[serde(default)]
    pub body: Option<String>,
}

fn ok() -> u16 {
    200
}

/// (address, host header, path) of an http:// URL with a literal IP.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?}: only http:// URLs"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let addr = with_port
        .parse()
        .map_err(|e| format!("{url:?}: host must be ip[:port]: {e}"))?;
    Ok((addr, hostport.to_string(), path.to_string()))
}

/// GET `url`, returning (status, body).
pub fn get(
    ctx: &Ctx,
    pid: Option<i32>,
    url: &str,
) -> Result<Result<(u16, String), String>, String> {
    let (addr, host, path) = parse_url(url)?;
    netns::in_netns(
        &ctx.proc_root,
        pid,
        move || -> Result<(u16, String), String> {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map_err(|e| format!("connect {addr}: {e}"))?;
            s.set_read_timeout(Some(Duration::from_secs(3))).ok();
            let req = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: berth-grader\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
            let mut raw = Vec::new();
            s.read_to_end(&mut raw)
                .map_err(|e| format!("reading response: {e}"))?;
            let text = String::from_utf8_lossy(&raw);
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    format!(
                        "not an HTTP response: {:?}",
                        head.lines().next().unwrap_or("")
                    )
                })?;
            Ok((status, body.to_string()))
        },
    )
}

impl HttpCheck {
    pub fn describe(&self) -> String {
        let body = self
            .body
            .as_ref()
            .map(|b| format!(" with body ~ /{b}/"))
            .unwrap_or_default();
        format!(
            "GET {} from {} answers {}{body}",
            self.url, self.from, self.status
        )
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(pid) = ctx.hosts.pid(&self.from) else {
            return Outcome::fail(expected, format!("host {} is not running", self.from));
        };
        match get(ctx, Some(pid), &self.url) {
            Err(e) | Ok(Err(e)) => Outcome::fail(expected, e),
            Ok(Ok((status, body))) => {
                let short: String = body.chars().take(200).collect();
                let observed = format!("{status} {short:?}");
                let body_ok = self
                    .body
                    .as_ref()
                    .map(|b| {
                        regex::Regex::new(b)
                            .map(|r| r.is_match(&body))
                            .unwrap_or(false)
                    })
                    .unwrap_or(true);
                if status == self.status && body_ok {
                    Outcome::pass(observed)
                } else {
                    Outcome::fail(expected, observed)
                }
            }
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};

    /// Reads a request up to the blank line (it may arrive in several segments).
    pub fn read_head(s: &mut impl Read) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    #[test]
    fn gets_from_a_tiny_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let srv = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let req = read_head(&mut s);
            assert!(req.starts_with("GET /index.html HTTP/1.0\r\n"), "{req}");
            s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>vm2</h1>\n")
                .unwrap();
        });
        let t = tempfile::tempdir().unwrap();
        let hosts = FakeHosts::default();
        let c = ctx(t.path(), &hosts);
        let (status, body) = get(&c, None, &format!("http://127.0.0.1:{port}/index.html"))
            .unwrap()
            .unwrap();
        srv.join().unwrap();
        assert_eq!((status, body.as_str()), (200, "<h1>vm2</h1>\n"));
        assert!(parse_url("https://x").is_err());
        assert_eq!(parse_url("http://10.1.1.12").unwrap().2, "/");
    }
}
