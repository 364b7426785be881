//! The shim's control protocol on `<state-dir>/shim.sock`: one JSON request line per
//! connection, one JSON response line; `attach` then turns the connection into a stream
//! (shim→client: Docker's 8-byte multiplexed frames; client→shim: raw stdin bytes).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Create and start the process (init: runtime create + start; exec: runtime exec).
    Start,
    Status,
    /// Block until the process has exited and its output is drained.
    Wait,
    Kill { signal: i32 },
    Resize { height: u16, width: u16 },
    Attach { stdin: bool, stdout: bool, stderr: bool },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Response {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub pid: i64,
    #[serde(default)]
    pub running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitStatus>,
}

/// What the shim records in `<state-dir>/exit.json` when the process is gone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExitStatus {
    pub exit_code: i64,
    #[serde(default)]
    pub oom_killed: bool,
    pub finished_at: String,
}

pub fn read_exit_file(state_dir: &Path) -> Option<ExitStatus> {
    let data = std::fs::read(state_dir.join("exit.json")).ok()?;
    serde_json::from_slice(&data).ok()
}

#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("shim at {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("shim at {path}: bad response: {detail}")]
    Bad { path: String, detail: String },
    #[error("{0}")]
    Remote(String),
}

/// One request/response exchange with the shim (blocking; use from a blocking thread).
pub fn call(sock: &Path, req: &Request, timeout: Option<Duration>) -> Result<Response, ProtoError> {
    let (resp, _) = call_keep(sock, req, timeout)?;
    Ok(resp)
}

/// Like `call`, returning the connection too (for `attach`, which streams afterwards).
pub fn call_keep(sock: &Path, req: &Request, timeout: Option<Duration>) -> Result<(Response, BufReader<UnixStream>), ProtoError> {
    let path = sock.display().to_string();
    let ioe = |source| ProtoError::Io { path: path.clone(), source };
    let mut s = crate::util::sock::connect(sock).map_err(ioe)?;
    s.set_read_timeout(timeout).map_err(ioe)?;
    let mut line = serde_json::to_vec(req).expect("request serializes");
    line.push(b'\n');
    s.write_all(&line).map_err(ioe)?;
    let mut r = BufReader::new(s);
    let mut buf = String::new();
    r.read_line(&mut buf).map_err(ioe)?;
    if buf.is_empty() {
        return Err(ProtoError::Bad { path, detail: "connection closed".into() });
    }
    let resp: Response = serde_json::from_str(&buf).map_err(|e| ProtoError::Bad { path: path.clone(), detail: e.to_string() })?;
    r.get_ref().set_read_timeout(None).map_err(ioe)?;
    if let Some(e) = resp.error.clone() {
        return Err(ProtoError::Remote(e));
    }
    Ok((resp, r))
}

/// Docker's stream ids in the 8-byte header.
pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const SYSTEMERR: u8 = 3;

/// Frame `payload` with Docker's multiplexing header.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[stream, 0, 0, 0]);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Read one frame; `Ok(None)` at a clean EOF.
pub fn read_frame<R: Read + ?Sized>(r: &mut R) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut h = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        let n = r.read(&mut h[got..])?;
        if n == 0 {
            return if got == 0 { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        got += n;
    }
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let mut p = vec![0u8; len];
    r.read_exact(&mut p)?;
    Ok(Some((h[0], p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = frame(STDOUT, b"line1\nline2\n");
        assert_eq!(&f[..8], &[1, 0, 0, 0, 0, 0, 0, 12]);
        let mut r = &f[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((1, b"line1\nline2\n".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn requests_are_tagged() {
        assert_eq!(serde_json::to_string(&Request::Kill { signal: 15 }).unwrap(), r#"{"op":"kill","signal":15}"#);
    }
}
