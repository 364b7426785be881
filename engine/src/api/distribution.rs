//! Registry endpoints in Docker's shapes: `POST /images/create?fromImage=` (pull),
//! `POST /images/{name}/push`, `POST /auth`, `GET /images/search`.
//!
//! Pull and push stream JSON progress lines. As in dockerd, the `200` head is only sent with
//! the first progress line: an error before that (unknown manifest, access denied, no such
//! local image) is an ordinary JSON error with its status; an error after it is an
//! `{"errorDetail":{"message":…},"error":…}` line in the stream.

use std::future::Future;
use std::sync::Arc;

use berth_registry::{AuthConfig, Credentials, ProgressMessage};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::json;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::distribution::{self as dist, DistributionError};
use crate::daemon::Daemon;

/// Credentials from `X-Registry-Auth`. Like dockerd, an undecodable header counts as none.
pub fn header_credentials(headers: &http::HeaderMap) -> Credentials {
    headers
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| AuthConfig::from_x_registry_auth(h).ok())
        .and_then(|a| a.credentials().ok())
        .unwrap_or_default()
}

fn error(e: &DistributionError) -> Resp {
    response::message(e.status(), &e.to_string())
}

fn line(v: &serde_json::Value) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("json");
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

fn progress_line(m: &ProgressMessage) -> Bytes {
    let mut b = m.to_json_line().into_bytes();
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

/// Runs `op` with a progress channel and answers as described in the module docs. `op`
/// returns the final status lines (`Status: Downloaded newer image for …`).
async fn streamed<F, Fut>(op: F) -> Resp
where
    F: FnOnce(UnboundedSender<ProgressMessage>) -> Fut,
    Fut: Future<Output = Result<Vec<String>, DistributionError>> + Send + 'static,
{
    let (ptx, mut prx) = unbounded_channel::<ProgressMessage>();
    let mut handle = tokio::spawn(op(ptx));
    let mut result = None;
    let first = tokio::select! {
        biased;
        m = prx.recv() => m,
        r = &mut handle => {
            result = Some(r);
            prx.try_recv().ok()
        }
    };
    if first.is_none() {
        let r = match result {
            Some(r) => r,
            None => (&mut handle).await,
        };
        return match r {
            Ok(Ok(lines)) => lines_resp(lines.iter().map(|l| line(&json!({"status": l}))).collect()),
            Ok(Err(e)) => error(&e),
            Err(e) => response::message(500, &format!("registry operation panicked: {e}")),
        };
    }
    let (tx, resp) = response::channel(200, Some("application/json"));
    tokio::spawn(async move {
        let _ = tx.send(progress_line(first.as_ref().expect("checked"))).await;
        loop {
            if result.is_some() {
                while let Ok(m) = prx.try_recv() {
                    let _ = tx.send(progress_line(&m)).await;
                }
                break;
            }
            tokio::select! {
                biased;
                m = prx.recv() => match m {
                    Some(m) => { let _ = tx.send(progress_line(&m)).await; }
                    None => break,
                },
                r = &mut handle => result = Some(r),
            }
        }
        let r = match result {
            Some(r) => r,
            None => handle.await,
        };
        let tail: Vec<Bytes> = match r {
            Ok(Ok(lines)) => lines.iter().map(|l| line(&json!({"status": l}))).collect(),
            Ok(Err(e)) => vec![line(&json!({"errorDetail": {"message": e.to_string()}, "error": e.to_string()}))],
            Err(e) => vec![line(&json!({"errorDetail": {"message": format!("panicked: {e}")}, "error": format!("panicked: {e}")}))],
        };
        for b in tail {
            let _ = tx.send(b).await;
        }
    });
    resp
}

fn store(d: &Daemon) -> Result<Arc<berth_storage::Store>, Resp> {
    d.images.store().ok_or_else(|| response::message(500, "image store is not available"))
}

/// `POST /images/create?fromImage=&tag=`.
pub async fn pull(d: &Arc<Daemon>, q: &Query, headers: &http::HeaderMap) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reference = match dist::pull_reference(q.get("fromImage").unwrap_or(""), q.get("tag").unwrap_or("")) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let creds = header_credentials(headers);
    let cfg = d.config.clone();
    streamed(move |tx| async move { dist::pull::pull(&cfg, s, &reference, creds, tx).await.map(|l| vec![l]) }).await
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(d: &Arc<Daemon>, name: &str, q: &Query, headers: &http::HeaderMap) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let repo = match berth_storage::Reference::parse_normalized(name) {
        Ok(r) if r.tag.is_none() && r.digest.is_none() => r,
        Ok(_) => return response::message(400, &format!("invalid repository name {name:?}: a tag goes in the tag parameter")),
        Err(e) => return error(&DistributionError::from(e)),
    };
    let tags = match dist::push::tags_to_push(&s, &repo, q.get("tag").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let creds = header_credentials(headers);
    let cfg = d.config.clone();
    streamed(move |tx| async move {
        for t in &tags {
            dist::push::push(&cfg, s.clone(), t, creds.clone(), tx.clone()).await?;
        }
        Ok(Vec::new())
    })
    .await
}

/// `POST /auth`: `{"Status":"Login Succeeded","IdentityToken":""}` or Docker's 401 text.
pub async fn auth(d: &Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let a: AuthConfig = match super::router::json_body(req).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match dist::login::login(&d.config, &a).await {
        Ok(out) => response::json(200, &json!({"IdentityToken": out.identity_token.unwrap_or_default(), "Status": "Login Succeeded"})),
        Err(e) => error(&e),
    }
}

/// `GET /images/search?term=&limit=`.
pub async fn search(d: &Arc<Daemon>, q: &Query, headers: &http::HeaderMap) -> Resp {
    let term = q.get("term").unwrap_or("").to_string();
    let limit = q.int("limit").unwrap_or(25).max(0) as usize;
    match dist::search::search(&d.config, &term, limit, header_credentials(headers)).await {
        Ok(v) => response::json(200, &v),
        Err(e) => error(&e),
    }
}

/// A complete (non-streamed) JSON-lines answer.
fn lines_resp(lines: Vec<Bytes>) -> Resp {
    let body: Vec<u8> = lines.iter().flat_map(|b| b.iter().copied()).collect();
    http::Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(response::full(body))
        .expect("response builds")
}
