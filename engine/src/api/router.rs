//! Request routing: version prefix checks, then method + path to a handler.

use std::sync::Arc;

use http::Method;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Request;

use super::query::Query;
use super::response::{self, decorate, Resp};
use crate::daemon::Daemon;

/// `(major, minor)` of an API version string like `1.41`.
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Split `/v1.41/containers/json` into (`Some("1.41")`, `/containers/json`).
pub fn strip_version(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let ver = &rest[..end];
        if parse_version(ver).is_some() {
            let tail = &rest[end..];
            return (Some(ver), if tail.is_empty() { "/" } else { tail });
        }
    }
    (None, path)
}

/// Docker's version gate: too new is JSON 400, too old is text/plain 400.
pub fn check_version(v: &str) -> Option<Resp> {
    let have = parse_version(v)?;
    let max = parse_version(crate::API_VERSION).expect("valid");
    let min = parse_version(crate::MIN_API_VERSION).expect("valid");
    if have > max {
        return Some(response::message(
            400,
            &format!("client version {v} is too new. Maximum supported API version is {}", crate::API_VERSION),
        ));
    }
    if have < min {
        return Some(response::text(
            400,
            &format!(
                "client version {v} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                crate::MIN_API_VERSION
            ),
        ));
    }
    None
}

/// The most a JSON request body may be. dockerd has no such cap (it decodes the stream), but
/// berth reads a JSON body whole before parsing it, and an unbounded read is a memory DoS
/// (one `POST /containers/create` with a 10 GB body). The largest real bodies (a create with
/// thousands of env vars, labels or binds) are a few hundred KiB; 16 MiB leaves ample room.
/// Streaming endpoints (load, import, archive PUT, build context) don't go through here.
pub const MAX_JSON_BODY: usize = 16 << 20;

fn body_too_large() -> Resp {
    response::message(413, &format!("request body too large: JSON request bodies are limited to {} MiB", MAX_JSON_BODY >> 20))
}

/// The body of a JSON request, at most [`MAX_JSON_BODY`] bytes: a larger declared length is
/// refused before reading, a chunked body as soon as it passes the cap (the rest is never
/// read; hyper closes the connection after the answer).
pub async fn body_bytes(req: Request<Incoming>) -> Result<bytes::Bytes, Resp> {
    let declared = req.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_JSON_BODY as u64) {
        return Err(body_too_large());
    }
    match http_body_util::Limited::new(req.into_body(), MAX_JSON_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(body_too_large()),
        Err(e) => Err(response::message(400, &format!("reading body: {e}"))),
    }
}

/// Parse a JSON body (capped, see [`body_bytes`]); an empty body is the type's default.
pub async fn json_body<T: serde::de::DeserializeOwned + Default>(req: Request<Incoming>) -> Result<T, Resp> {
    let b = body_bytes(req).await?;
    if b.iter().all(|c| c.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(&b).map_err(|e| response::message(400, &e.to_string()))
}

pub async fn route(d: Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let (m, path) = (req.method().clone(), req.uri().path().to_string());
    tracing::debug!("Calling {m} {path}");
    let mut r = dispatch(d, req).await;
    // As dockerd: a server error is logged, a client error only in debug mode.
    if let Some(super::response::ErrorMessage(msg)) = r.extensions().get() {
        if r.status().is_server_error() {
            tracing::error!("Handler for {m} {path} returned error: {msg}");
        } else {
            tracing::debug!(status = r.status().as_u16(), "Handler for {m} {path} returned error: {msg}");
        }
    }
    decorate(&mut r);
    r
}

async fn dispatch(d: Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    let q = Query::parse(req.uri().query());
    let (ver, rest) = strip_version(&path);
    if let Some(v) = ver {
        if let Some(resp) = check_version(v) {
            return resp;
        }
    }
    let rest = rest.trim_end_matches('/').to_string();
    let segs: Vec<String> = rest.trim_start_matches('/').split('/').map(super::query::percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method().clone();
    use super::{containers as c, exec as x, images as i, system as s};
    // Image names contain `/` and `:`: match on the raw rest with a known suffix stripped.
    if let Some(name) = rest.strip_prefix("/images/") {
        let name = super::query::percent_decode(name);
        let routed = match m {
            Method::GET if name == "json" => Some(i::list(&d, &q).await),
            Method::GET if name == "search" => Some(super::distribution::search(&d, &q, req.headers()).await),
            Method::POST if name.ends_with("/push") => Some(super::distribution::push(&d, name.trim_end_matches("/push"), &q, req.headers()).await),
            Method::GET if name == "get" => Some(i::save(&d, q.all("names")).await),
            Method::POST if name == "load" => Some(i::load(&d, req).await),
            Method::POST if name == "create" => Some(i::create(&d, &q, req).await),
            Method::POST if name == "prune" => Some(i::prune(&d, &q).await),
            Method::GET if name.ends_with("/json") => Some(i::inspect(&d, name.trim_end_matches("/json")).await),
            Method::GET if name.ends_with("/history") => Some(i::history(&d, name.trim_end_matches("/history")).await),
            Method::GET if name.ends_with("/get") => Some(i::save(&d, vec![name.trim_end_matches("/get").to_string()]).await),
            Method::POST if name.ends_with("/tag") => Some(i::tag(&d, name.trim_end_matches("/tag"), &q).await),
            Method::DELETE => Some(i::remove(&d, &name, &q).await),
            _ => None,
        };
        return routed.unwrap_or_else(|| response::message(404, "page not found"));
    }
    match (&m, segs.as_slice()) {
        (&Method::POST, ["commit"]) => i::commit(&d, &q).await,
        (&Method::POST, ["auth"]) => super::distribution::auth(&d, req).await,
        (&Method::GET, ["volumes"]) => super::volumes::list(&d),
        (&Method::POST, ["volumes", "create"]) => super::volumes::create(&d, req).await,
        (&Method::POST, ["volumes", "prune"]) => super::volumes::prune(&d),
        (&Method::GET, ["volumes", name]) => super::volumes::inspect(&d, name),
        (&Method::DELETE, ["volumes", name]) => super::volumes::remove(&d, name, &q),
        (&Method::GET, ["networks"]) => super::networks::list(&d, &q).await,
        (&Method::POST, ["networks", "create"]) => super::networks::create(&d, req).await,
        (&Method::POST, ["networks", "prune"]) => super::networks::prune(&d).await,
        (&Method::GET, ["networks", id]) => super::networks::inspect(&d, id).await,
        (&Method::DELETE, ["networks", id]) => super::networks::remove(&d, id).await,
        (&Method::POST, ["networks", id, "connect"]) => super::networks::connect(&d, id, req).await,
        (&Method::POST, ["networks", id, "disconnect"]) => super::networks::disconnect(&d, id, req).await,
        (&Method::GET, ["containers", id, "export"]) => i::export(&d, id).await,
        (&Method::GET, ["containers", id, "changes"]) => i::changes(&d, id).await,
        (&Method::GET | &Method::HEAD, ["_ping"]) => s::ping(&m),
        (&Method::GET, ["version"]) => s::version(&d),
        (&Method::GET, ["info"]) => s::info(&d),
        (&Method::GET, ["events"]) => super::events::events(&d, &q).await,
        (&Method::GET, ["containers", "json"]) => c::list(&d, &q),
        (&Method::POST, ["containers", "prune"]) => c::prune(&d).await,
        (&Method::POST, ["containers", "create"]) => c::create(&d, &q, req).await,
        (&Method::GET, ["containers", id, "json"]) => c::inspect(&d, id),
        (&Method::GET, ["containers", id, "logs"]) => super::logs::logs(&d, id, &q).await,
        (&Method::GET, ["containers", id, "top"]) => c::top(&d, id, &q).await,
        (&Method::HEAD, ["containers", id, "archive"]) => super::archive::head(&d, id, &q).await,
        (&Method::GET, ["containers", id, "archive"]) => super::archive::get(&d, id, &q).await,
        (&Method::PUT, ["containers", id, "archive"]) => super::archive::put(&d, id, &q, req).await,
        (&Method::GET, ["containers", id, "stats"]) => super::stats::stats(&d, id, &q).await,
        (&Method::POST, ["containers", id, "start"]) => c::start(&d, id).await,
        (&Method::POST, ["containers", id, "stop"]) => c::stop(&d, id, &q).await,
        (&Method::POST, ["containers", id, "restart"]) => c::restart(&d, id, &q).await,
        (&Method::POST, ["containers", id, "kill"]) => c::kill(&d, id, &q).await,
        (&Method::POST, ["containers", id, "wait"]) => c::wait(&d, id, &q).await,
        (&Method::POST, ["containers", id, "attach"]) => super::attach::attach(&d, id, &q, req).await,
        (&Method::POST, ["containers", id, "resize"]) => c::resize(&d, id, &q),
        (&Method::POST, ["containers", id, "rename"]) => c::rename(&d, id, &q),
        (&Method::POST, ["containers", id, "pause"]) => c::pause(&d, id, true).await,
        (&Method::POST, ["containers", id, "unpause"]) => c::pause(&d, id, false).await,
        (&Method::POST, ["containers", id, "exec"]) => x::create(&d, id, req).await,
        (&Method::DELETE, ["containers", id]) => c::remove(&d, id, &q).await,
        (&Method::POST, ["exec", id, "start"]) => x::start(&d, id, req).await,
        (&Method::POST, ["exec", id, "resize"]) => x::resize(&d, id, &q),
        (&Method::GET, ["exec", id, "json"]) => x::inspect(&d, id),
        _ => super::extra_routes::dispatch(&d, &m, &segs, &q, req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(strip_version("/v1.41/containers/json"), (Some("1.41"), "/containers/json"));
        assert_eq!(strip_version("/_ping"), (None, "/_ping"));
        assert_eq!(strip_version("/v1.24/_ping"), (Some("1.24"), "/_ping"));
        assert!(check_version("1.41").is_none());
        assert!(check_version("1.24").is_none());
        assert_eq!(check_version("1.47").unwrap().status(), 400);
        let old = check_version("1.11").unwrap();
        assert_eq!(old.headers()["content-type"], "text/plain; charset=utf-8");
    }
}
