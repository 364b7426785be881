//! `GET /system/df` (`docker system df [-v]`, docker-py `df()`) in Docker 20.10's shape
//! (`types.DiskUsage`, moby `daemon/disk_usage.go`):
//!
//! * `LayersSize`: bytes of the layers some image holds, each counted once;
//! * `Images`: the top images as `GET /images/json` lists them, with `Containers` (how many
//!   containers use the image) and `SharedSize` (bytes of its layers other images also hold)
//!   filled in instead of `-1`;
//! * `Containers`: every container as `GET /containers/json?all=1` lists it, with `SizeRw`
//!   (files of its rw layer) and `SizeRootFs` (that plus its image);
//! * `Volumes`: as `GET /volumes` lists them, with `UsageData` `{Size, RefCount}` (bytes under
//!   `_data`, hard links once; containers that mount the volume);
//! * `BuildCache`: `[]` (berthd has no builder cache), `BuilderSize`: 0 (deprecated, still sent).
//!
//! Sizes walk the filesystem, so the work runs on a blocking thread.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use super::response::{self, Resp};
use crate::daemon::view;
use crate::daemon::Daemon;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    pub layers_size: u64,
    pub images: Vec<Value>,
    pub containers: Vec<Value>,
    pub volumes: Vec<Value>,
    pub build_cache: Vec<Value>,
    pub builder_size: u64,
}

pub async fn df(d: &Arc<Daemon>) -> Resp {
    let d = d.clone();
    match tokio::task::spawn_blocking(move || disk_usage(&d)).await {
        Ok(Ok(du)) => response::json(200, &du),
        Ok(Err(e)) => response::message(500, &e),
        Err(e) => response::message(500, &format!("computing disk usage failed: {e}")),
    }
}

/// See the module docs.
pub fn disk_usage(d: &Daemon) -> Result<DiskUsage, String> {
    let mut cs: Vec<_> = d.inner.lock().unwrap().containers.values().cloned().collect();
    // Newest first, as `GET /containers/json`.
    cs.sort_by(|a, b| b.record.created.cmp(&a.record.created));
    let mut du = DiskUsage::default();
    let store = d.images.store();
    if let Some(s) = &store {
        let usage = s.image_usage();
        let mut users: HashMap<&str, i64> = HashMap::new();
        for c in &cs {
            *users.entry(c.record.image.as_str()).or_default() += 1;
        }
        let images = s.list_images(&Default::default()).map_err(|e| e.to_string())?;
        du.layers_size = usage.layers_size;
        du.images = images
            .iter()
            .map(|i| {
                let mut j = i.to_json();
                j["Containers"] = json!(users.get(i.id.as_str()).copied().unwrap_or(0));
                j["SharedSize"] = json!(usage.shared_size.get(&i.id).copied().unwrap_or(0));
                j
            })
            .collect();
    }
    du.containers = cs
        .iter()
        .map(|c| {
            let mut v = view::list_entry(c);
            (v["Ports"], v["NetworkSettings"]) = d.net_list_fields(c);
            // A container whose rw layer is gone (being removed) counts as empty.
            let (rw, root) = store.as_ref().and_then(|s| s.container_size(c.id()).ok()).unwrap_or((0, 0));
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(root);
            v
        })
        .collect();
    du.volumes = d
        .volume_list()
        .into_iter()
        .map(|mut v| {
            let name = v["Name"].as_str().unwrap_or_default().to_string();
            let data = std::path::PathBuf::from(v["Mountpoint"].as_str().unwrap_or_default());
            let size = berth_storage::archive::tar_safe::dir_size(&data).map(|n| n as i64).unwrap_or(-1);
            v["UsageData"] = json!({"Size": size, "RefCount": d.volume_users(&name).len()});
            v
        })
        .collect();
    Ok(du)
}
