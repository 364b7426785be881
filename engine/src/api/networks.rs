//! Network endpoints (`/networks`), Docker's shapes and status codes. The controller talks to
//! the kernel, so every handler runs on the blocking pool.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};

use super::query::Query;
use super::response::{self, Resp};
use super::router::json_body;
use crate::daemon::network_ops::{create_request, prune_json, NetFilter};
use crate::daemon::{Daemon, DaemonError};

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("network task panicked")
}

fn reply<T>(r: Result<T, DaemonError>, f: impl FnOnce(T) -> Resp) -> Resp {
    match r {
        Ok(t) => f(t),
        Err(e) => response::error(&e),
    }
}

pub async fn list(d: &Arc<Daemon>, q: &Query) -> Resp {
    let f = match NetFilter::parse(q.get("filters")) {
        Ok(f) => f,
        Err(e) => return response::error(&e),
    };
    let d = d.clone();
    let v = blocking(move || d.network_list(&f)).await;
    response::json(200, &v)
}

pub async fn inspect(d: &Arc<Daemon>, key: &str) -> Resp {
    let (d, key) = (d.clone(), key.to_string());
    reply(blocking(move || d.network_inspect(&key)).await, |v| response::json(200, &v))
}

pub async fn create(d: &Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let body: Value = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r = match create_request(&body) {
        Ok(r) => r,
        Err(e) => return response::error(&e),
    };
    let d = d.clone();
    reply(blocking(move || d.network_create(&r)).await, |id| response::json(201, &json!({"Id": id, "Warning": ""})))
}

pub async fn remove(d: &Arc<Daemon>, key: &str) -> Resp {
    let (d, key) = (d.clone(), key.to_string());
    reply(blocking(move || d.network_remove(&key)).await, |_| response::empty(204))
}

pub async fn prune(d: &Arc<Daemon>) -> Resp {
    let d = d.clone();
    reply(blocking(move || d.network_prune()).await, |names| response::json(200, &prune_json(&names)))
}

pub async fn connect(d: &Arc<Daemon>, key: &str, req: Request<Incoming>) -> Resp {
    let body: Value = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let container = body["Container"].as_str().unwrap_or("").to_string();
    let ep = &body["EndpointConfig"];
    let aliases: Vec<String> = ep["Aliases"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect();
    let ip = match ep["IPAMConfig"]["IPv4Address"].as_str().filter(|s| !s.is_empty()) {
        Some(s) => match s.parse() {
            Ok(ip) => Some(ip),
            Err(_) => return response::message(400, &format!("invalid IPv4 address: {s}")),
        },
        None => None,
    };
    let (d, key) = (d.clone(), key.to_string());
    reply(blocking(move || d.network_connect(&key, &container, aliases, ip)).await, |_| response::empty(200))
}

pub async fn disconnect(d: &Arc<Daemon>, key: &str, req: Request<Incoming>) -> Resp {
    let body: Value = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let container = body["Container"].as_str().unwrap_or("").to_string();
    let (d, key) = (d.clone(), key.to_string());
    reply(blocking(move || d.network_disconnect(&key, &container)).await, |_| response::empty(200))
}
