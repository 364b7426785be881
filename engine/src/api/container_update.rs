//! `POST /containers/{id}/update`: see `daemon::update`. Answers `200 {"Warnings":[…]}`.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;
use serde_json::json;

use super::response::{self, Resp};
use super::router::body_bytes;
use crate::daemon::update::UpdateConfig;
use crate::daemon::Daemon;

pub async fn update(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> Resp {
    let body = match body_bytes(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // moby decodes the body with json.Decoder: an empty one is io.EOF.
    if body.iter().all(u8::is_ascii_whitespace) {
        return response::message(400, "got EOF while reading request body");
    }
    let u: UpdateConfig = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => return response::message(400, &e.to_string()),
    };
    match d.container_update(id, u) {
        Ok(warnings) => response::json(200, &json!({ "Warnings": warnings })),
        Err(e) => response::error(&e),
    }
}
