//! Container endpoints (except attach and logs, which stream).

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::json;

use super::query::Query;
use super::response::{self, Resp};
use super::router::json_body;
use crate::container::config::CreateRequest;
use crate::daemon::lifecycle::WaitCondition;
use crate::daemon::view::{self, ListFilter};
use crate::daemon::{Daemon, DaemonError};

fn ok_or<T>(r: Result<T, DaemonError>, f: impl FnOnce(T) -> Resp) -> Resp {
    match r {
        Ok(t) => f(t),
        Err(e) => response::error(&e),
    }
}

pub fn list(d: &Daemon, q: &Query) -> Resp {
    let filter = match ListFilter::parse(q.get("filters")) {
        Ok(f) => f,
        Err(e) => return response::message(400, &e),
    };
    let all = q.bool("all");
    let limit = q.int("limit").filter(|l| *l > 0);
    let g = d.inner.lock().unwrap();
    let mut cs: Vec<_> = g
        .containers
        .values()
        .filter(|c| all || limit.is_some() || c.record.state.running || !filter.status.is_empty())
        .filter(|c| filter.matches(c))
        .collect();
    // Newest first, as Docker lists them.
    cs.sort_by(|a, b| b.record.created.cmp(&a.record.created));
    if let Some(l) = limit {
        cs.truncate(l as usize);
    }
    let out: Vec<_> = cs
        .into_iter()
        .map(|c| {
            let mut v = view::list_entry(c);
            (v["Ports"], v["NetworkSettings"]) = d.net_list_fields(c);
            v
        })
        .collect();
    response::json(200, &out)
}

pub async fn create(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> Resp {
    let body: CreateRequest = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let d2 = d.clone();
    let name = q.get("name").map(String::from);
    let r = tokio::task::spawn_blocking(move || d2.create(name.as_deref(), body))
        .await
        .unwrap_or_else(|e| Err(DaemonError::System(format!("creating the container failed: {e}"))));
    ok_or(r, |(id, warnings)| response::json(201, &json!({"Id": id, "Warnings": warnings})))
}

pub fn inspect(d: &Daemon, id: &str) -> Resp {
    ok_or(d.get(id), |c| response::json(200, &view::inspect(d, &c)))
}

pub async fn start(d: &Arc<Daemon>, id: &str) -> Resp {
    ok_or(d.start(id).await, |_| response::empty(204))
}

pub async fn stop(d: &Arc<Daemon>, id: &str, q: &Query) -> Resp {
    ok_or(d.stop(id, q.int("t")).await, |_| response::empty(204))
}

pub async fn restart(d: &Arc<Daemon>, id: &str, q: &Query) -> Resp {
    ok_or(d.restart(id, q.int("t")).await, |_| response::empty(204))
}

pub async fn kill(d: &Arc<Daemon>, id: &str, q: &Query) -> Resp {
    ok_or(d.kill(id, q.get("signal")).await, |_| response::empty(204))
}

pub async fn remove(d: &Arc<Daemon>, id: &str, q: &Query) -> Resp {
    ok_or(d.remove(id, q.bool("force"), q.bool("v")).await, |_| response::empty(204))
}

pub async fn pause(d: &Arc<Daemon>, id: &str, p: bool) -> Resp {
    ok_or(d.pause(id, p).await, |_| response::empty(204))
}

pub fn rename(d: &Daemon, id: &str, q: &Query) -> Resp {
    let Some(name) = q.get("name").filter(|n| !n.is_empty()) else {
        return response::message(400, "Neither old nor new names may be empty");
    };
    ok_or(d.rename(id, name), |_| response::empty(204))
}

pub fn resize(d: &Daemon, id: &str, q: &Query) -> Resp {
    let h = q.int("h").unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = q.int("w").unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    ok_or(d.resize(id, h, w), |_| response::empty(200))
}

/// Headers go out at once (the CLI waits for them before `start`); the body when it's over.
pub async fn wait(d: &Arc<Daemon>, r: &str, q: &Query) -> Resp {
    let cond = match WaitCondition::parse(q.get("condition")) {
        Ok(c) => c,
        Err(e) => return response::error(&e),
    };
    let id = match d.resolve(r) {
        Ok(id) => id,
        Err(e) => return response::error(&e),
    };
    let (tx, resp) = response::channel(200, Some("application/json"));
    let d = d.clone();
    tokio::spawn(async move {
        let body = match d.wait(&id, cond).await {
            Ok(code) => json!({"Error": null, "StatusCode": code}),
            Err(e) => json!({"Error": {"Message": e.to_string()}, "StatusCode": -1}),
        };
        let mut b = serde_json::to_vec(&body).expect("json");
        b.push(b'\n');
        let _ = tx.send(Bytes::from(b)).await;
    });
    resp
}

/// `GET /containers/{id}/top?ps_args=`: host `ps` filtered to the container's cgroup.
pub async fn top(d: &Arc<Daemon>, r: &str, q: &Query) -> Resp {
    let c = match d.get(r) {
        Ok(c) => c,
        Err(e) => return response::error(&e),
    };
    if !c.record.state.running {
        return response::message(409, &format!("Container {} is not running", c.id()));
    }
    let parent = if c.host_config.cgroup_parent.is_empty() { d.config.cgroup_parent.clone() } else { c.host_config.cgroup_parent.clone() };
    let cg = format!("{}/{}", crate::container::config::clean_cgroup_parent(&parent).trim_matches('/'), c.id());
    let procs = ["pids", "memory", "cpu", "freezer"]
        .iter()
        .find_map(|ctrl| std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}/{cg}/cgroup.procs")).ok())
        .or_else(|| std::fs::read_to_string(format!("/sys/fs/cgroup/{cg}/cgroup.procs")).ok())
        .unwrap_or_default();
    let pids: Vec<String> = procs.split_whitespace().map(String::from).collect();
    let args = q.get("ps_args").filter(|a| !a.is_empty()).unwrap_or("-ef").to_string();
    let out = tokio::process::Command::new("ps").args(args.split_whitespace()).output().await;
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => return response::message(500, &format!("ps: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => return response::message(500, &format!("ps: {e}")),
    };
    let mut lines = out.lines();
    let titles: Vec<String> = lines.next().unwrap_or("").split_whitespace().map(String::from).collect();
    let Some(pid_col) = titles.iter().position(|t| t == "PID") else {
        return response::message(500, "Couldn't find PID field in ps output");
    };
    let n = titles.len();
    let procs: Vec<Vec<String>> = lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < n || !pids.iter().any(|p| p == f[pid_col]) {
                return None;
            }
            let mut row: Vec<String> = f[..n - 1].iter().map(|s| s.to_string()).collect();
            row.push(f[n - 1..].join(" "));
            Some(row)
        })
        .collect();
    response::json(200, &json!({"Titles": titles, "Processes": procs}))
}

/// `POST /containers/prune`: remove every stopped container.
pub async fn prune(d: &Arc<Daemon>) -> Resp {
    let stopped: Vec<String> = d
        .inner
        .lock()
        .unwrap()
        .containers
        .values()
        .filter(|c| !c.record.state.running)
        .map(|c| c.id().to_string())
        .collect();
    let mut deleted = Vec::new();
    for id in stopped {
        if d.remove(&id, false, false).await.is_ok() {
            deleted.push(id);
        }
    }
    response::json(200, &json!({"ContainersDeleted": deleted, "SpaceReclaimed": 0}))
}
