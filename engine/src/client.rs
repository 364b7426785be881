//! A small blocking HTTP/1.1 client for the Engine API over unix or tcp sockets, with
//! chunked bodies and connection hijacking (used by the `berth` CLI and the tests).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

pub const DEFAULT_HOST: &str = "unix:///run/berth.sock";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Cannot connect to the berth daemon at {host}. Is the berth daemon running?")]
    Connect { host: String },
    #[error("error during connect: {0}")]
    Io(#[from] std::io::Error),
    #[error("{message}")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Protocol(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Addr {
    Unix(PathBuf),
    Tcp(String),
}

/// A connection: unix or tcp.
pub enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    pub fn try_clone(&self) -> std::io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }

    /// Half-close: the daemon sees stdin EOF.
    pub fn shutdown_write(&self) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }

    pub fn shutdown(&self) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(b),
            Conn::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(b),
            Conn::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone)]
pub struct Client {
    host: String,
    addr: Addr,
    /// API version prefix used in paths.
    pub version: String,
}

/// A response whose body is read on demand (it may be a long-lived stream).
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: Body,
}

enum Body {
    Length(std::io::Take<BufReader<Conn>>),
    Chunked { r: BufReader<Conn>, left: usize, done: bool },
    Close(BufReader<Conn>),
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Body::Length(r) => r.read(buf),
            Body::Close(r) => r.read(buf),
            Body::Chunked { r, left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    r.read_line(&mut line)?;
                    if line.trim().is_empty() {
                        // CRLF after the previous chunk.
                        line.clear();
                        r.read_line(&mut line)?;
                    }
                    let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                        .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
                    if size == 0 {
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let n = (*left).min(buf.len());
                let n = r.read(&mut buf[..n])?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n;
                Ok(n)
            }
        }
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn reader(&mut self) -> &mut dyn Read {
        &mut self.body
    }

    pub fn bytes(mut self) -> Result<Vec<u8>, ClientError> {
        let mut v = Vec::new();
        self.body.read_to_end(&mut v)?;
        Ok(v)
    }

    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, ClientError> {
        let b = self.bytes()?;
        serde_json::from_slice(&b).map_err(|e| ClientError::Protocol(format!("bad JSON from daemon: {e}")))
    }

    /// Turn a status ≥ 400 into `ClientError::Api` with the daemon's message.
    pub fn check(self) -> Result<Response, ClientError> {
        if self.status < 400 {
            return Ok(self);
        }
        let status = self.status;
        let ct = self.header("Content-Type").unwrap_or("").to_string();
        let url = String::new();
        let b = self.bytes()?;
        let message = if ct == "application/json" {
            serde_json::from_slice::<serde_json::Value>(&b)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&b).trim().to_string())
        } else if b.is_empty() {
            format!("request returned {status} for API route and version {url}, check if the server supports the requested API version")
        } else {
            String::from_utf8_lossy(&b).trim().to_string()
        };
        Err(ClientError::Api { status, message })
    }
}

/// Percent-encode a query value.
pub fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

impl Client {
    /// `host` as in `-H` / `BERTH_HOST`: `unix:///path` or `tcp://host:port`.
    pub fn new(host: &str) -> Result<Client, ClientError> {
        let addr = if let Some(p) = host.strip_prefix("unix://") {
            Addr::Unix(p.into())
        } else if let Some(a) = host.strip_prefix("tcp://") {
            let a = a.trim_end_matches('/');
            Addr::Tcp(if a.contains(':') { a.to_string() } else { format!("{a}:2375") })
        } else if host.starts_with('/') {
            Addr::Unix(host.into())
        } else {
            return Err(ClientError::Protocol(format!("unable to parse docker host `{host}`")));
        };
        Ok(Client { host: host.to_string(), addr, version: crate::API_VERSION.to_string() })
    }

    fn connect(&self) -> Result<Conn, ClientError> {
        let err = |_| ClientError::Connect { host: self.host.clone() };
        Ok(match &self.addr {
            Addr::Unix(p) => Conn::Unix(UnixStream::connect(p).map_err(err)?),
            Addr::Tcp(a) => Conn::Tcp(TcpStream::connect(a).map_err(err)?),
        })
    }

    fn send(&self, conn: &mut Conn, method: &str, path: &str, body: Option<(&str, &[u8])>, extra: &[(&str, &str)]) -> Result<(), ClientError> {
        let mut req = format!("{method} /v{}{path} HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: berth-cli/{}\r\n", self.version, crate::ENGINE_VERSION);
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        match body {
            Some((ct, b)) => req.push_str(&format!("Content-Type: {ct}\r\nContent-Length: {}\r\n", b.len())),
            None if method == "POST" || method == "PUT" => req.push_str("Content-Length: 0\r\n"),
            None => {}
        }
        req.push_str("\r\n");
        conn.write_all(req.as_bytes())?;
        if let Some((_, b)) = body {
            conn.write_all(b)?;
        }
        Ok(())
    }

    fn read_head(r: &mut BufReader<Conn>) -> Result<(u16, Vec<(String, String)>), ClientError> {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(ClientError::Protocol("daemon closed the connection".into()));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ClientError::Protocol(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Ok((status, headers))
    }

    /// One request on a fresh connection; the body is streamed on demand.
    pub fn request(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Response, ClientError> {
        self.request_with(method, path, body, &[])
    }

    /// [`Client::request`] with extra headers (e.g. `X-Registry-Auth`).
    pub fn request_with(&self, method: &str, path: &str, body: Option<(&str, &[u8])>, headers: &[(&str, &str)]) -> Result<Response, ClientError> {
        let mut conn = self.connect()?;
        let mut extra = vec![("Connection", "close")];
        extra.extend_from_slice(headers);
        self.send(&mut conn, method, path, body, &extra)?;
        let mut r = BufReader::new(conn);
        let (status, headers) = Self::read_head(&mut r)?;
        let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let body = if get("Transfer-Encoding").map(|v| v.eq_ignore_ascii_case("chunked")).unwrap_or(false) {
            Body::Chunked { r, left: 0, done: false }
        } else if let Some(n) = get("Content-Length").and_then(|v| v.parse::<u64>().ok()) {
            Body::Length(r.take(if method == "HEAD" { 0 } else { n }))
        } else if status == 204 || status == 304 || method == "HEAD" {
            Body::Length(r.take(0))
        } else {
            Body::Close(r)
        };
        Ok(Response { status, headers, body })
    }

    pub fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("GET", path, None)?.check()?.json()
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Response, ClientError> {
        let b = serde_json::to_vec(body).expect("json");
        self.request("POST", path, Some(("application/json", &b)))?.check()
    }

    pub fn post(&self, path: &str) -> Result<Response, ClientError> {
        self.request("POST", path, None)?.check()
    }

    /// Hijack: send with `Upgrade: tcp`, require `101`, return the raw connection. Bytes the
    /// daemon sent right after the header are returned in `early`.
    pub fn hijack(&self, path: &str, body: Option<&serde_json::Value>) -> Result<(Conn, Vec<u8>), ClientError> {
        let mut conn = self.connect()?;
        let b = body.map(|v| serde_json::to_vec(v).expect("json"));
        let body = b.as_deref().map(|b| ("application/json", b)).or(Some(("text/plain", &b""[..])));
        self.send(&mut conn, "POST", path, body, &[("Connection", "Upgrade"), ("Upgrade", "tcp")])?;
        let mut r = BufReader::new(conn);
        let (status, headers) = Self::read_head(&mut r)?;
        if status != 101 {
            let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
            let body = if let Some(n) = get("Content-Length").and_then(|v| v.parse::<u64>().ok()) {
                Body::Length(r.take(n))
            } else if get("Transfer-Encoding").is_some() {
                Body::Chunked { r, left: 0, done: false }
            } else {
                Body::Length(r.take(0))
            };
            Response { status, headers, body }.check()?;
            return Err(ClientError::Protocol(format!("unable to upgrade to tcp, received {status}")));
        }
        let early = r.buffer().to_vec();
        Ok((r.into_inner(), early))
    }
}
