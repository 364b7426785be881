//! API renderings of containers: `GET /containers/json` entries and `GET /containers/{id}/json`.

use serde_json::{json, Value};

use super::state::Daemon;
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

fn mounts(c: &Container) -> Value {
    let mut out = vec![];
    for b in c.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        if parts.len() < 2 {
            continue;
        }
        let rw = !parts.get(2).map(|o| o.split(',').any(|x| x == "ro")).unwrap_or(false);
        if parts[0].starts_with('/') {
            out.push(json!({"Type": "bind", "Source": parts[0], "Destination": parts[1], "Mode": parts.get(2).copied().unwrap_or(""), "RW": rw, "Propagation": "rprivate"}));
        } else {
            out.push(json!({"Type": "volume", "Name": parts[0], "Source": format!("/var/lib/berth/volumes/{}/_data", parts[0]), "Destination": parts[1], "Driver": "local", "Mode": parts.get(2).copied().unwrap_or("z"), "RW": rw, "Propagation": ""}));
        }
    }
    for mp in c.record.mount_points.values() {
        let mut m = mp.clone();
        if let Some(o) = m.as_object_mut() {
            o.remove("Anonymous");
        }
        out.push(m);
    }
    Value::Array(out)
}

pub fn inspect(d: &Daemon, c: &Container) -> Value {
    let s = &c.record.state;
    let mut m = mounts(c);
    for v in m.as_array_mut().into_iter().flatten() {
        if v["Type"] == "volume" {
            v["Source"] = json!(d.volumes_root().join(v["Name"].as_str().unwrap_or("")).join("_data"));
        }
    }
    let mut hc = serde_json::to_value(&c.host_config).unwrap_or(Value::Null);
    if let Some(links) = d.net_links(c) {
        hc["Links"] = links;
    }
    json!({
        "Id": c.id(),
        "Created": c.record.created,
        "Path": c.record.path,
        "Args": c.record.args,
        "State": {
            "Status": s.status(),
            "Running": s.running,
            "Paused": s.paused,
            "Restarting": s.restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Image": c.record.image,
        "ResolvConfPath": c.record.resolv_conf_path,
        "HostnamePath": c.record.hostname_path,
        "HostsPath": c.record.hosts_path,
        "LogPath": c.record.log_path,
        "Name": c.record.name,
        "RestartCount": c.record.restart_count,
        "Driver": c.record.driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": if c.record.exec_ids.is_empty() { Value::Null } else { json!(c.record.exec_ids) },
        "HostConfig": hc,
        "GraphDriver": {"Data": d.images.container_graph_data(c.id()), "Name": c.record.driver},
        "Mounts": m,
        "Config": c.record.config,
        "NetworkSettings": d.net_settings(c),
    })
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
