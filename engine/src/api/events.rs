//! `GET /events?since=&until=&filters=`: buffered events since `since`, then live ones as
//! JSON lines until `until` passes or the client goes away (moby's `getEvents`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::events::{parse_time, Filter, Message};
use crate::daemon::Daemon;

fn line(m: &Message) -> Bytes {
    let mut b = serde_json::to_vec(m).expect("event serializes");
    b.push(b'\n');
    Bytes::from(b)
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as i64
}

pub async fn events(d: &Arc<Daemon>, q: &Query) -> Resp {
    let since = match parse_time(q.get("since").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return response::message(400, &e),
    };
    let until = match parse_time(q.get("until").unwrap_or("")) {
        Ok(t) => t,
        Err(e) => return response::message(400, &e),
    };
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return response::message(
                400,
                &format!(
                    "`since` time ({}) cannot be after `until` time ({})",
                    q.get("since").unwrap_or(""),
                    q.get("until").unwrap_or("")
                ),
            );
        }
    }
    let filter = match Filter::parse(q.get("filters")) {
        Ok(f) => f,
        Err(e) => return response::message(400, &e),
    };
    let (past, mut rx) = d.events.subscribe(since, until);
    let (tx, resp) = response::channel(200, Some("application/json"));
    tokio::spawn(async move {
        for m in past.iter().filter(|m| filter.include(m)) {
            if tx.send(line(m)).await.is_err() {
                return;
            }
        }
        let deadline = match until {
            // `until` in the past: only buffered events.
            Some(u) if u <= now_nanos() => return,
            Some(u) => Some(tokio::time::Instant::now() + Duration::from_nanos((u - now_nanos()) as u64)),
            None => None,
        };
        let timeout = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timeout);
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Ok(m) => {
                        if filter.include(&m) && tx.send(line(&m)).await.is_err() {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
                _ = &mut timeout => return,
                _ = tx.closed() => return,
            }
        }
    });
    resp
}
