//! Hijacked streams: `101 UPGRADED` then raw bytes (TTY) or Docker's 8-byte multiplexed
//! frames (no TTY) from the shim to the client, raw stdin from the client to the shim.

use std::future::Future;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::state::PendingAttach;
use crate::daemon::Daemon;
use crate::shim::proto::{self, Request as ShimRequest};

pub mod escape;

/// Detach keys for one hijacked session (a TTY attach with stdin only, as moby's
/// `CopyStreams`): the sequence, and what to do when the client typed it (log the event).
pub struct Detach {
    pub keys: Vec<u8>,
    pub on_detach: Box<dyn FnOnce() + Send>,
}

/// Answer with 101 and bridge the upgraded connection to the shim stream `source` yields.
/// Without an `Upgrade` header, stream the output as a plain 200 body.
pub fn hijack<F>(req: &mut Request<Incoming>, tty: bool, source: F) -> Resp
where
    F: Future<Output = Option<StdUnixStream>> + Send + 'static,
{
    hijack_replay(req, tty, Vec::new(), None, source)
}

/// [`hijack`], writing `replay` (already framed for the client) before anything `source`
/// yields; a `source` yielding None ends the session after the replay. `detach` watches the
/// client's stdin for the detach keys.
fn hijack_replay<F>(req: &mut Request<Incoming>, tty: bool, replay: Vec<Bytes>, detach: Option<Detach>, source: F) -> Resp
where
    F: Future<Output = Option<StdUnixStream>> + Send + 'static,
{
    if req.headers().contains_key(http::header::UPGRADE) {
        let on = hyper::upgrade::on(req);
        tokio::spawn(async move {
            let Ok(up) = on.await else { return };
            let mut io = TokioIo::new(up);
            for b in &replay {
                if io.write_all(b).await.is_err() {
                    return;
                }
            }
            let _ = io.flush().await;
            match source.await {
                Some(s) => {
                    bridge(io, s, tty, detach).await;
                }
                None => {
                    let _ = io.shutdown().await;
                }
            }
        });
        return Response::builder()
            .status(101)
            .header("Content-Type", "application/vnd.docker.raw-stream")
            .header("Connection", "Upgrade")
            .header("Upgrade", "tcp")
            .body(response::empty_body())
            .expect("response builds");
    }
    let (tx, resp) = response::channel(200, Some("application/vnd.docker.raw-stream"));
    tokio::spawn(async move {
        for b in replay {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let Some(s) = source.await else { return };
        let Ok(s) = to_tokio(s) else { return };
        let (mut r, _w) = s.into_split();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let chunk = if tty {
                match read_frame(&mut r).await {
                    Some((_, p)) => p,
                    None => break,
                }
            } else {
                match r.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf[..n].to_vec(),
                }
            };
            if tx.send(Bytes::from(chunk)).await.is_err() {
                break;
            }
        }
    });
    resp
}

/// Answer 101 and hand the upgraded connection to `f`.
pub fn hijack_with<F, Fut>(req: &mut Request<Incoming>, f: F) -> Resp
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let on = hyper::upgrade::on(req);
    tokio::spawn(async move {
        if let Ok(up) = on.await {
            f(TokioIo::new(up)).await;
        }
    });
    Response::builder()
        .status(101)
        .header("Content-Type", "application/vnd.docker.raw-stream")
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(response::empty_body())
        .expect("response builds")
}

fn to_tokio(s: StdUnixStream) -> std::io::Result<tokio::net::UnixStream> {
    s.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(s)
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 8];
    r.read_exact(&mut h).await.ok()?;
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let mut p = vec![0u8; len];
    r.read_exact(&mut p).await.ok()?;
    Some((h[0], p))
}

/// Copy both ways. Client EOF half-closes the shim side (closes stdin with StdinOnce) but
/// keeps output flowing; shim EOF (process gone) ends the session. A client that vanishes
/// (detach) never affects the container. With `detach`, the client's stdin goes through the
/// escape proxy: the whole key sequence ends the session — the shim connection is dropped
/// (a TTY process keeps its stdin) and the client's stream closed — and `on_detach` runs.
/// Returns whether the session ended by the detach keys.
pub async fn bridge<C>(client: C, shim: StdUnixStream, tty: bool, detach: Option<Detach>) -> bool
where
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    let Ok(shim) = to_tokio(shim) else { return false };
    let (mut sr, mut sw) = shim.into_split();
    let (mut cr, mut cw) = tokio::io::split(client);
    let (keys, on_detach) = match detach {
        Some(d) => (Some(d.keys), Some(d.on_detach)),
        None => (None, None),
    };
    let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
    let up = tokio::spawn(async move {
        let Some(keys) = keys else {
            let _ = tokio::io::copy(&mut cr, &mut sw).await;
            let _ = sw.shutdown().await;
            return;
        };
        let mut proxy = escape::EscapeProxy::new(keys);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (out, done) = proxy.feed(&buf[..n]);
            if !out.is_empty() && sw.write_all(&out).await.is_err() {
                break;
            }
            if done {
                // Dropping `sw` (and `sr` with the session) is no StdinOnce close: TTY only.
                let _ = detached_tx.send(());
                return;
            }
        }
        let held = proxy.flush();
        if !held.is_empty() {
            let _ = sw.write_all(&held).await;
        }
        let _ = sw.shutdown().await;
    });
    // Output until the shim's end, unless the detach keys come first. One output future for
    // the whole session: it is dropped (mid-frame, perhaps) only when the session ends.
    let output = async {
        let mut buf = vec![0u8; 32 * 1024];
        while let Some(chunk) = next_output(&mut sr, tty, &mut buf).await {
            if cw.write_all(&chunk).await.is_err() {
                break;
            }
            let _ = cw.flush().await;
        }
    };
    let detached = tokio::select! {
        _ = output => false,
        // Err (the input ended without the keys) disables this branch: output goes on.
        Ok(()) = &mut detached_rx => true,
    };
    let _ = cw.shutdown().await;
    up.abort();
    if detached {
        if let Some(f) = on_detach {
            f();
        }
    }
    detached
}

/// The next piece of output for the client: a frame's payload (TTY: raw for the client) or
/// the frames as they are (no TTY: the client demultiplexes). None at the end.
async fn next_output<R: AsyncRead + Unpin>(sr: &mut R, tty: bool, buf: &mut [u8]) -> Option<Vec<u8>> {
    if tty {
        return read_frame(sr).await.map(|(_, p)| p);
    }
    match sr.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(buf[..n].to_vec()),
    }
}

/// `POST /containers/{id}/attach?logs=&stream=&stdin=&stdout=&stderr=`. As moby's
/// `containerAttach`: with `logs=1` the json-file log is replayed first (framed unless TTY);
/// with `stream=0` the session ends there, otherwise live output follows.
///
/// `detachKeys` (default `ctrl-p,ctrl-q`; checked first, 400 `Invalid detach keys (…)
/// provided`) ends a TTY attach with stdin when the client types them: the stream closes, the
/// container keeps running, a `detach` event is logged.
pub async fn attach(d: &Arc<Daemon>, r: &str, q: &Query, mut req: Request<Incoming>) -> Resp {
    let keys = match escape::daemon_keys(q.get("detachKeys").unwrap_or(""), "detach") {
        Ok(k) => k,
        Err(m) => return response::message(400, &m),
    };
    let c = match d.get(r) {
        Ok(c) => c,
        Err(e) => return response::error(&e),
    };
    let id = c.id().to_string();
    d.container_event(&c, "attach", &[]);
    let (stdin, stdout, stderr) = (q.bool("stdin"), q.bool("stdout"), q.bool("stderr"));
    let (logs, stream) = (q.bool("logs"), q.bool("stream"));
    let tty = c.record.config.tty;
    let detach = (tty && stdin).then(|| {
        let (d, id) = (d.clone(), id.clone());
        Detach { keys, on_detach: Box::new(move || d.container_event_ref(&id, "detach", &[])) as Box<dyn FnOnce() + Send> }
    });
    let running = c.record.state.running && !c.record.state.restarting;
    let log_path = std::path::PathBuf::from(&c.record.log_path);
    let read_log = move || async move {
        if !logs {
            return Vec::new();
        }
        tokio::task::spawn_blocking(move || super::logs::replay(&log_path, stdout, stderr, tty)).await.unwrap_or_default()
    };
    if !stream {
        let replay = read_log().await;
        return hijack_replay(&mut req, tty, replay, None, async { None });
    }
    if running {
        // Live output is subscribed before the log is read (moby's order): a line written in
        // between is replayed and streamed rather than lost.
        let sock = crate::shim::socket_path(&d.state_dir(&id));
        let live = tokio::task::spawn_blocking(move || {
            let req = ShimRequest::Attach { stdin, stdout, stderr };
            proto::call_keep(&sock, &req, Some(Duration::from_secs(5))).ok().map(|(_, r)| r.into_inner())
        })
        .await
        .ok()
        .flatten();
        let replay = read_log().await;
        return hijack_replay(&mut req, tty, replay, detach, async move { live });
    }
    // Not running yet: the CLI attaches before `start`; start connects us to the shim.
    let replay = read_log().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    {
        let mut g = d.inner.lock().unwrap();
        g.live.entry(id).or_default().pending_attach.push(PendingAttach { stdin, stdout, stderr, tx });
    }
    hijack_replay(&mut req, tty, replay, detach, async move { rx.await.ok() })
}
