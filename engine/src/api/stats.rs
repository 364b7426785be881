//! `GET /containers/{id}/stats?stream=&one-shot=`: one JSON document per second while
//! streaming; `stream=false` primes the CPU counters with a first sample (so the CPU % is
//! meaningful) unless `one-shot=true`, as moby's `ContainerStats`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::stats::{self, HostCounters, Series};
use crate::daemon::Daemon;
use crate::util::time;

const INTERVAL: Duration = Duration::from_secs(1);

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("stats serialize");
    b.push(b'\n');
    Bytes::from(b)
}

/// A sample of the container as it is now, or `None` when it is not running.
fn take(d: &Daemon, id: &str) -> Option<Result<Value, ()>> {
    let c = match d.get(id) {
        Ok(c) => c,
        Err(_) => return Some(Err(())),
    };
    if !c.record.state.running || c.record.state.restarting {
        return None;
    }
    let counters = HostCounters { cgroup_path: d.cgroup_path(&c), pid: c.record.state.pid };
    Some(Ok(stats::sample(&counters, &time::now())))
}

pub async fn stats(d: &Arc<Daemon>, r: &str, q: &Query) -> Resp {
    let c = match d.get(r) {
        Ok(c) => c,
        Err(e) => return response::error(&e),
    };
    let stream = q.get("stream").map(|_| q.bool("stream")).unwrap_or(true);
    let one_shot = q.bool("one-shot");
    if one_shot && stream {
        return response::message(400, "cannot have stream=true and one-shot=true");
    }
    let (id, name) = (c.id().to_string(), c.record.name.clone());
    if !stream && (!c.record.state.running || c.record.state.restarting) {
        return response::json(200, &stats::zero(&name, &id));
    }
    let (tx, resp) = response::channel(200, Some("application/json"));
    let d = d.clone();
    tokio::spawn(async move {
        let mut series = Series::default();
        if !stream && !one_shot {
            if let Some(Ok(s)) = take(&d, &id) {
                series.next(s, &name, &id);
            }
            tokio::time::sleep(INTERVAL).await;
        }
        loop {
            let v = match take(&d, &id) {
                Some(Ok(s)) => series.next(s, &name, &id),
                // Removed: the stream ends.
                Some(Err(())) => return,
                None => stats::zero(&name, &id),
            };
            if tx.send(line(&v)).await.is_err() || !stream {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(INTERVAL) => {}
                _ = tx.closed() => return,
            }
        }
    });
    resp
}
