//! `GET /containers/{id}/logs`: the json-file log, multiplexed for non-TTY containers and
//! raw for TTY ones; `tail`, `timestamps`, `since`, `until`, `follow`.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::Daemon;
use crate::shim::log::Entry;
use crate::shim::proto;

struct Opts {
    stdout: bool,
    stderr: bool,
    timestamps: bool,
    tty: bool,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_ts(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = s.filter(|s| !s.is_empty() && *s != "0")?;
    if let Ok(f) = s.parse::<f64>() {
        let secs = f.trunc() as i64;
        let nanos = ((f - f.trunc()) * 1e9) as u32;
        return chrono::DateTime::from_timestamp(secs, nanos);
    }
    crate::util::time::parse(s)
}

fn render(e: &Entry, o: &Opts) -> Option<Bytes> {
    let stream = match e.stream.as_str() {
        "stderr" if o.stderr => proto::STDERR,
        "stdout" if o.stdout => proto::STDOUT,
        _ => return None,
    };
    if o.since.is_some() || o.until.is_some() {
        let t = crate::util::time::parse(&e.time)?;
        if o.since.map(|s| t < s).unwrap_or(false) || o.until.map(|u| t > u).unwrap_or(false) {
            return None;
        }
    }
    let mut payload = Vec::new();
    if o.timestamps {
        payload.extend_from_slice(e.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(e.log.as_bytes());
    Some(Bytes::from(if o.tty { payload } else { proto::frame(stream, &payload) }))
}

/// The whole json-file log of a container as the attach endpoint replays it with `logs=1`
/// (moby's `containerAttach`: every entry, no timestamps, one frame per entry when there is no
/// TTY). Only complete lines: a torn last line is still being written.
pub fn replay(path: &std::path::Path, stdout: bool, stderr: bool, tty: bool) -> Vec<Bytes> {
    let Ok(buf) = std::fs::read(path) else { return Vec::new() };
    let complete = buf.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
    let o = Opts { stdout, stderr, timestamps: false, tty, since: None, until: None };
    crate::shim::log::read_entries(&buf[..complete]).iter().filter_map(|e| render(e, &o)).collect()
}

pub async fn logs(d: &Arc<Daemon>, r: &str, q: &Query) -> Resp {
    let c = match d.get(r) {
        Ok(c) => c,
        Err(e) => return response::error(&e),
    };
    let o = Opts {
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        timestamps: q.bool("timestamps"),
        tty: c.record.config.tty,
        since: parse_ts(q.get("since")),
        until: parse_ts(q.get("until")),
    };
    if !o.stdout && !o.stderr {
        return response::message(400, "Bad parameters: you must choose at least one stream");
    }
    let tail: Option<usize> = match q.get("tail") {
        None | Some("") | Some("all") => None,
        Some(t) => t.parse::<i64>().ok().map(|n| n.max(0) as usize),
    };
    let follow = q.bool("follow");
    let path = std::path::PathBuf::from(&c.record.log_path);
    let id = c.id().to_string();
    let (tx, resp) = response::channel(200, None);
    let d = d.clone();
    tokio::spawn(async move {
        let mut file = std::fs::File::open(&path).ok();
        let mut buf = Vec::new();
        if let Some(f) = file.as_mut() {
            let _ = f.read_to_end(&mut buf);
        }
        // Only complete lines; a torn last line is picked up when following.
        let complete = buf.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
        let mut offset = complete as u64;
        let entries = crate::shim::log::read_entries(&buf[..complete]);
        let skip = tail.map(|t| entries.len().saturating_sub(t)).unwrap_or(0);
        for e in &entries[skip..] {
            if let Some(b) = render(e, &o) {
                if tx.send(b).await.is_err() {
                    return;
                }
            }
        }
        if !follow {
            return;
        }
        let mut rx = d.changed.subscribe();
        loop {
            let running = d.get(&id).map(|c| c.record.state.running).unwrap_or(false);
            if file.is_none() {
                file = std::fs::File::open(&path).ok();
            }
            if let Some(f) = file.as_mut() {
                let mut more = Vec::new();
                if f.seek(SeekFrom::Start(offset)).is_ok() && f.read_to_end(&mut more).is_ok() {
                    let complete = more.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
                    offset += complete as u64;
                    for e in crate::shim::log::read_entries(&more[..complete]) {
                        if let Some(b) = render(&e, &o) {
                            if tx.send(b).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
            if !running {
                return;
            }
            if tx.is_closed() {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
        }
    });
    resp
}
