//! Response helpers: Docker's headers, `{"message":…}` errors with exact
//! `Content-Type: application/json`, streaming bodies.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;

use crate::daemon::DaemonError;

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type Resp = Response<Body>;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Add the headers every 20.10 response carries.
pub fn decorate(r: &mut Resp) {
    let h = r.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(crate::API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert("Server", HeaderValue::from_str(&format!("Berth/{} (linux)", crate::ENGINE_VERSION)).expect("ascii"));
}

pub fn json(status: u16, v: &impl serde::Serialize) -> Resp {
    let body = serde_json::to_vec(v).expect("json serializes");
    let mut body = body;
    body.push(b'\n');
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(full(body))
        .expect("response builds")
}

pub fn empty(status: u16) -> Resp {
    Response::builder().status(status).body(empty_body()).expect("response builds")
}

/// The text of an error response, kept on it for the router's log line.
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub String);

pub fn message(status: u16, msg: &str) -> Resp {
    let mut r = json(status, &serde_json::json!({ "message": msg }));
    if status >= 400 {
        r.extensions_mut().insert(ErrorMessage(msg.to_string()));
    }
    r
}

pub fn error(e: &DaemonError) -> Resp {
    match e {
        DaemonError::NotModified => empty(304),
        other => message(other.status(), &other.to_string()),
    }
}

pub fn text(status: u16, s: &str) -> Resp {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(full(s.to_string()))
        .expect("response builds")
}

/// A streaming body fed by a channel (chunked on the wire). The response head goes out at
/// once; chunks follow as they are sent.
pub fn channel(status: u16, content_type: Option<&str>) -> (tokio::sync::mpsc::Sender<Bytes>, Resp) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    let mut b = Response::builder().status(StatusCode::from_u16(status).expect("status"));
    if let Some(ct) = content_type {
        b = b.header("Content-Type", ct);
    }
    (tx, b.body(BodyExt::boxed(StreamBody::new(stream))).expect("response builds"))
}
