//! API renderings of containers: `GET /containers/json` entries and `GET /containers/{id}/json`.

use serde_json::{json, Value};

use super::state::Daemon;
use crate::api_types::container::{ContainerJson, ContainerState, GraphDriverData, MountPoint};
use crate::container::record::Container;
use crate::util::time;

/// Filters of `GET /containers/json` (`{"status":{"exited":true},"name":{"web":true}}`).
#[derive(Debug, Default)]
pub struct ListFilter {
    pub status: Vec<String>,
    pub name: Vec<String>,
    pub id: Vec<String>,
    pub label: Vec<String>,
    pub exited: Vec<i64>,
}

impl ListFilter {
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        let mut f = ListFilter::default();
        let Some(s) = s.filter(|s| !s.is_empty()) else { return Ok(f) };
        let v: Value = serde_json::from_str(s).map_err(|e| format!("invalid filter: {e}"))?;
        let obj = v.as_object().ok_or("invalid filter")?;
        for (k, vals) in obj {
            // Both {"k":{"v":true}} and the legacy {"k":["v"]} forms.
            let list: Vec<String> = match vals {
                Value::Object(m) => m.keys().cloned().collect(),
                Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
                _ => vec![],
            };
            match k.as_str() {
                "status" => f.status = list,
                "name" => f.name = list,
                "id" => f.id = list,
                "label" => f.label = list,
                "exited" => f.exited = list.iter().filter_map(|x| x.parse().ok()).collect(),
                "before" | "since" | "ancestor" | "network" | "volume" | "health" | "isolation" | "publish" | "expose" | "is-task" => {}
                other => return Err(format!("invalid filter '{other}'")),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, c: &Container) -> bool {
        let st = c.record.state.status();
        (self.status.is_empty() || self.status.iter().any(|s| s == st))
            && (self.name.is_empty() || self.name.iter().any(|n| c.record.name.trim_start_matches('/').contains(n.trim_start_matches('/'))))
            && (self.id.is_empty() || self.id.iter().any(|i| c.id().starts_with(i)))
            && (self.label.is_empty()
                || self.label.iter().all(|l| match l.split_once('=') {
                    Some((k, v)) => c.record.config.labels.get(k).map(|x| x == v).unwrap_or(false),
                    None => c.record.config.labels.contains_key(l),
                }))
            && (self.exited.is_empty() || (st == "exited" && self.exited.contains(&c.record.state.exit_code)))
    }
}

fn created_unix(c: &Container) -> i64 {
    time::parse(&c.record.created).map(|t| t.timestamp()).unwrap_or(0)
}

pub fn list_entry(c: &Container) -> Value {
    let now = chrono::Utc::now();
    json!({
        "Id": c.id(),
        "Names": [c.record.name],
        "Image": c.record.config.image,
        "ImageID": c.record.image,
        "Command": c.command_line(),
        "Created": created_unix(c),
        "Ports": [],
        "Labels": c.record.config.labels,
        "State": c.record.state.status(),
        "Status": c.record.state.human(now),
        "HostConfig": {"NetworkMode": c.host_config.network_mode},
        "NetworkSettings": {"Networks": {}},
        "Mounts": mounts(c),
    })
}

fn mounts(c: &Container) -> Vec<MountPoint> {
    let mut out = vec![];
    for b in c.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        if parts.len() < 2 {
            continue;
        }
        let rw = !parts.get(2).map(|o| o.split(',').any(|x| x == "ro")).unwrap_or(false);
        let mode = parts.get(2).copied();
        let (source, destination) = (parts[0].to_string(), parts[1].to_string());
        if parts[0].starts_with('/') {
            out.push(MountPoint {
                kind: "bind".into(),
                source,
                destination,
                mode: mode.unwrap_or("").into(),
                rw,
                propagation: "rprivate".into(),
                ..Default::default()
            });
        } else {
            out.push(MountPoint {
                kind: "volume".into(),
                name: source.clone(),
                source: format!("/var/lib/berth/volumes/{source}/_data"),
                destination,
                driver: "local".into(),
                mode: mode.unwrap_or("z").into(),
                rw,
                propagation: String::new(),
            });
        }
    }
    // The record's MountPoints (anonymous volumes) carry config.v2's extra `Anonymous`: the
    // API's MountPoint has no such field.
    out.extend(c.record.mount_points.values().map(|mp| serde_json::from_value(mp.clone()).unwrap_or_default()));
    out
}

/// `GET /containers/{id}/json`, in Docker's field order.
pub fn inspect(d: &Daemon, c: &Container) -> ContainerJson {
    let s = &c.record.state;
    let mut mounts = mounts(c);
    for m in mounts.iter_mut().filter(|m| m.kind == "volume") {
        m.source = d.volumes_root().join(&m.name).join("_data").display().to_string();
    }
    let mut host_config = c.host_config.clone();
    if let Some(links) = d.net_links(c) {
        host_config.links = Some(links);
    }
    ContainerJson {
        id: c.id().to_string(),
        created: c.record.created.clone(),
        path: c.record.path.clone(),
        args: c.record.args.clone(),
        state: ContainerState {
            status: s.status().into(),
            running: s.running,
            paused: s.paused,
            restarting: s.restarting,
            oom_killed: s.oom_killed,
            dead: s.dead,
            pid: s.pid,
            exit_code: s.exit_code,
            error: s.error.clone(),
            started_at: s.started_at.clone(),
            finished_at: s.finished_at.clone(),
            health: s.health.clone().and_then(|h| serde_json::from_value(h).ok()),
        },
        image: c.record.image.clone(),
        resolv_conf_path: c.record.resolv_conf_path.clone(),
        hostname_path: c.record.hostname_path.clone(),
        hosts_path: c.record.hosts_path.clone(),
        log_path: c.record.log_path.clone(),
        name: c.record.name.clone(),
        restart_count: c.record.restart_count,
        driver: c.record.driver.clone(),
        platform: "linux".into(),
        mount_label: String::new(),
        process_label: String::new(),
        app_armor_profile: String::new(),
        exec_ids: Some(c.record.exec_ids.clone()).filter(|e| !e.is_empty()),
        host_config,
        graph_driver: GraphDriverData { data: d.images.container_graph_data(c.id()), name: c.record.driver.clone() },
        size_rw: None,
        size_root_fs: None,
        mounts,
        config: c.record.config.clone(),
        network_settings: d.net_settings(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_both_forms() {
        let f = ListFilter::parse(Some(r#"{"status":{"exited":true},"name":["web"]}"#)).unwrap();
        assert_eq!(f.status, vec!["exited"]);
        assert_eq!(f.name, vec!["web"]);
        assert!(ListFilter::parse(Some(r#"{"bogus":{"x":true}}"#)).is_err());
    }
}
