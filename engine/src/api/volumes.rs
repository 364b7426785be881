//! Volume endpoints (`local` driver).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;
use serde::Deserialize;
use serde_json::json;

use super::query::Query;
use super::response::{self, Resp};
use super::router::json_body;
use crate::daemon::Daemon;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
}

pub fn list(d: &Daemon) -> Resp {
    response::json(200, &json!({"Volumes": d.volume_list(), "Warnings": null}))
}

pub async fn create(d: &Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let b: CreateBody = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match d.volume_create(Some(&b.name)) {
        Ok(v) => response::json(201, &v),
        Err(e) => response::error(&e),
    }
}

pub fn inspect(d: &Daemon, name: &str) -> Resp {
    match d.volume_inspect(name) {
        Ok(v) => response::json(200, &v),
        Err(e) => response::error(&e),
    }
}

pub fn remove(d: &Daemon, name: &str, q: &Query) -> Resp {
    match d.volume_remove(name, q.bool("force")) {
        Ok(()) => response::empty(204),
        Err(e) => response::error(&e),
    }
}

pub fn prune(d: &Daemon) -> Resp {
    let (deleted, space) = d.volume_prune();
    response::json(200, &json!({"VolumesDeleted": deleted, "SpaceReclaimed": space}))
}
