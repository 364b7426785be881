//! `HEAD|GET|PUT /containers/{id}/archive?path=`: the daemon half of `docker cp`. The path's
//! stat travels base64-encoded in `X-Docker-Container-Path-Stat`.

use std::sync::Arc;

use http::Response;
use hyper::body::Incoming;
use hyper::Request;

use super::images::{body_reader, ChannelWriter};
use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::archive::{ArchiveError, PathStat};
use crate::daemon::Daemon;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Standard base64 with padding (what Go's `base64.StdEncoding` writes).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for ch in data.chunks(3) {
        let n = (ch[0] as u32) << 16 | (*ch.get(1).unwrap_or(&0) as u32) << 8 | *ch.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= ch.len() {
                o.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

pub fn unbase64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim().trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for ch in s.chunks(4) {
        let mut n = 0u32;
        for (i, c) in ch.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if ch.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if ch.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

fn stat_header(st: &PathStat) -> String {
    base64(&serde_json::to_vec(st).expect("stat serializes"))
}

fn err(e: &ArchiveError) -> Resp {
    response::message(e.status(), &e.to_string())
}

/// What every archive request starts with: the container (404 first, as Docker checks it
/// before the path), the non-empty `path`, and what the blocking work needs.
struct Target {
    c: crate::container::record::Container,
    path: String,
    d: Arc<Daemon>,
    /// The container as the client named it, for Docker's error texts.
    name: String,
}

fn resolve(d: &Arc<Daemon>, r: &str, q: &Query) -> Result<Target, Resp> {
    let c = d.get(r).map_err(|e| response::error(&e))?;
    let path = match q.get("path").filter(|p| !p.is_empty()) {
        Some(p) => p.to_string(),
        None => return Err(response::message(400, "Path cannot be empty")),
    };
    Ok(Target { c, path, d: d.clone(), name: r.to_string() })
}

pub async fn head(d: &Arc<Daemon>, r: &str, q: &Query) -> Resp {
    let Target { c, path, d: d2, name } = match resolve(d, r, q) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let res = tokio::task::spawn_blocking(move || d2.with_view(&c, |v| v.stat(&path, &name))).await.expect("stat panicked");
    match res {
        Ok((st, _)) => Response::builder()
            .status(200)
            .header(STAT_HEADER, stat_header(&st))
            .body(response::empty_body())
            .expect("response builds"),
        Err(e) => err(&e),
    }
}

pub async fn get(d: &Arc<Daemon>, r: &str, q: &Query) -> Resp {
    let Target { c, path, d: d2, name } = match resolve(d, r, q) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (tx, mut resp) = response::channel(200, Some("application/x-tar"));
    let (stat_tx, stat_rx) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        // Stat first (for the header and a clean 404), then stream the tar under the same
        // rootfs mount.
        let _ = d2.with_view(&c, |v| {
            let st = v.stat(&path, &name);
            let ok = st.is_ok();
            let _ = stat_tx.send(st.map(|(s, _)| s));
            if ok {
                let mut w = ChannelWriter(tx);
                if let Err(e) = v.archive(&path, &name, &mut w) {
                    tracing::error!(container = %c.id(), path = %path, error = %e, "archive failed");
                }
            }
            Ok(())
        });
    });
    match stat_rx.await {
        Ok(Ok(st)) => {
            resp.headers_mut().insert(STAT_HEADER, stat_header(&st).parse().expect("base64 is a header value"));
            resp
        }
        Ok(Err(e)) => err(&e),
        Err(_) => response::message(500, "archive failed"),
    }
}

pub async fn put(d: &Arc<Daemon>, r: &str, q: &Query, req: Request<Incoming>) -> Resp {
    let Target { c, path, d: d2, name } = match resolve(d, r, q) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (no_overwrite, copy_uid_gid) = (q.bool("noOverwriteDirNonDir"), q.bool("copyUIDGID"));
    let mut body = body_reader(req);
    let res = tokio::task::spawn_blocking(move || d2.with_view(&c, |v| v.extract(&path, &name, &mut body, no_overwrite, copy_uid_gid)))
        .await
        .expect("extract panicked");
    match res {
        Ok(()) => response::empty(200),
        Err(e) => err(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }
}
