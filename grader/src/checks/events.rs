//! Timing from the engine's own record: the host's berthd event log (`GET /events?since=0&until=
//! <now>`, Docker Engine API JSON lines with `timeNano`), read over its unix socket. A container
//! whose `from` event (e.g. `create`) is followed by its `to` event (e.g. `die`) within
//! `within_ms` proves how fast the engine took it from one to the other, whatever the student
//! wrote down.

use super::{procfs, Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineEventsCheck {
    pub host: String,
    /// The daemon's socket inside the host.
    #[serde(default = "default_socket")]
    pub socket: String,
    /// Actor attributes the container's `from` event must have (`image`, `name`, labels), e.g.
    /// { name = "quick" }.
    #[serde(default, rename = "match")]
    pub select: BTreeMap<String, String>,
    /// Container actions: `create`, `start`, `die`, `destroy`…
    pub from: String,
    pub to: String,
    /// The most the engine may have taken from `from` to `to`.
    pub within_ms: u64,
}

fn default_socket() -> String {
    "/run/berth.sock".into()
}

/// One container event of the log.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    id: String,
    action: String,
    time_nano: i64,
    attributes: BTreeMap<String, String>,
}

/// A `from` event followed by a `to` event of the same container.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    name: String,
    id: String,
    nanos: i64,
}

/// GET `path` over the unix socket at `sock`; the body (de-chunked) of a 200 answer.
fn get_text(sock: &Path, path: &str) -> Result<String, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("cannot connect to {}: {e} (is the daemon running?)", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let req = format!("GET {path} HTTP/1.0\r\nHost: berth\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("GET {path}: {e}"))?;
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("truncated HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..at]).to_string();
    let body = &raw[at + 4..];
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("not an HTTP response")?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_vec() };
    let body = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        return Err(format!("GET {path}: HTTP {status}: {}", body.trim()));
    }
    Ok(body)
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]);
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else { break };
        let tail = &rest[eol + 2..];
        if n == 0 || tail.len() < n {
            break;
        }
        out.extend_from_slice(&tail[..n]);
        rest = tail[n..].strip_prefix(b"\r\n").unwrap_or(&tail[n..]);
    }
    out
}

/// Container events of a JSON-lines event stream, in order.
fn parse(body: &str) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("bad event line {line:?}: {e}"))?;
        if v["Type"] != "container" {
            continue;
        }
        let attributes = v["Actor"]["Attributes"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect())
            .unwrap_or_default();
        out.push(Event {
            id: v["Actor"]["ID"].as_str().unwrap_or_default().to_string(),
            action: v["Action"].as_str().unwrap_or_default().to_string(),
            time_nano: v["timeNano"].as_i64().ok_or_else(|| format!("event without timeNano: {line}"))?,
            attributes,
        });
    }
    Ok(out)
}

impl EngineEventsCheck {
    pub fn describe(&self) -> String {
        let sel: Vec<String> = self.select.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "a container [{}] on {} went from {} to {} within {} ms (engine events)",
            sel.join(", "),
            self.host,
            self.from,
            self.to,
            self.within_ms
        )
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.from.trim().is_empty() || self.to.trim().is_empty() {
            return Err(("from".into(), "from and to name container actions (create, start, die, destroy…)".into()));
        }
        if self.from == self.to {
            return Err(("to".into(), format!("from and to are both {:?}", self.from)));
        }
        if self.within_ms == 0 {
            return Err(("within_ms".into(), "must be more than 0".into()));
        }
        Ok(())
    }

    /// Each `from` event of a selected container paired with the next `to` event of the same
    /// container; and the names of selected containers still waiting for their `to`.
    fn spans(&self, events: &[Event]) -> (Vec<Span>, Vec<String>) {
        let mut open: BTreeMap<&str, (i64, String)> = BTreeMap::new();
        let mut spans = Vec::new();
        for e in events {
            if e.action == self.from && self.select.iter().all(|(k, v)| e.attributes.get(k) == Some(v)) {
                let name = e.attributes.get("name").cloned().unwrap_or_default();
                open.insert(&e.id, (e.time_nano, name));
            } else if e.action == self.to {
                if let Some((t0, name)) = open.remove(e.id.as_str()) {
                    spans.push(Span { name, id: e.id.clone(), nanos: e.time_nano - t0 });
                }
            }
        }
        (spans, open.into_values().map(|(_, n)| n).collect())
    }

    fn judge(&self, events: &[Event]) -> Outcome {
        let expected = self.describe();
        let (mut spans, waiting) = self.spans(events);
        spans.sort_by_key(|s| s.nanos);
        let show = |s: &Span| {
            let id: String = s.id.chars().take(12).collect();
            format!("container {} ({id}): {}→{} {} ms", s.name, self.from, self.to, s.nanos / 1_000_000)
        };
        match spans.first() {
            Some(s) if s.nanos <= self.within_ms as i64 * 1_000_000 => Outcome::pass(show(s)),
            Some(s) => Outcome::fail(expected, format!("fastest: {}", show(s))),
            None if waiting.is_empty() => {
                Outcome::fail(expected, format!("{} container events, none a {} of a selected container", events.len(), self.from))
            }
            None => Outcome::fail(expected, format!("{} without a {} yet: {}", self.from, self.to, waiting.join(", "))),
        }
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let Some(pid) = ctx.hosts.pid(&self.host) else {
            return Outcome::fail(self.describe(), format!("host {} is not running", self.host));
        };
        let sock = ctx.proc_root.join(procfs::pid_dir(pid)).join("root").join(self.socket.trim_start_matches('/'));
        // `until` now: the daemon replays what it buffered and ends the stream.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let path = format!("/events?since=0&until={}.{:09}", now.as_secs(), now.subsec_nanos());
        match get_text(&sock, &path).and_then(|b| parse(&b)) {
            Ok(events) => self.judge(&events),
            Err(e) => Outcome::fail(self.describe(), e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};
    use std::os::unix::net::UnixListener;

    fn line(action: &str, id: &str, name: &str, ms: i64) -> String {
        let t = 1_700_000_000_000_000_000i64 + ms * 1_000_000;
        format!(
            r#"{{"status":"{action}","id":"{id}","from":"busybox","Type":"container","Action":"{action}","Actor":{{"ID":"{id}","Attributes":{{"image":"busybox","name":"{name}"}}}},"scope":"local","time":{},"timeNano":{t}}}"#,
            t / 1_000_000_000
        )
    }

    fn check(from: &str, to: &str, within_ms: u64) -> EngineEventsCheck {
        EngineEventsCheck {
            host: "vm1".into(),
            socket: default_socket(),
            select: [("image".to_string(), "busybox".to_string())].into(),
            from: from.into(),
            to: to.into(),
            within_ms,
        }
    }

    /// A lab's log: a long-running container (no die), a quick --rm run, a slow one.
    fn log() -> String {
        [
            r#"{"Type":"image","Action":"pull","Actor":{"ID":"busybox:latest","Attributes":{"name":"busybox"}},"scope":"local","time":1700000000,"timeNano":1700000000000000000}"#.to_string(),
            line("create", "aaaa", "kernel", 0),
            line("start", "aaaa", "kernel", 40),
            line("exec_create: uname -r", "aaaa", "kernel", 100),
            line("create", "bbbb", "quick", 1000),
            line("attach", "bbbb", "quick", 1010),
            line("start", "bbbb", "quick", 1180),
            line("die", "bbbb", "quick", 1210),
            line("destroy", "bbbb", "quick", 1230),
            line("create", "cccc", "slow", 2000),
            line("start", "cccc", "slow", 5000),
            line("die", "cccc", "slow", 11000),
        ]
        .join("\n")
    }

    #[test]
    fn pairs_a_containers_events() {
        let ev = parse(&log()).unwrap();
        assert_eq!(ev.len(), 11, "only container events");
        match check("create", "die", 1000).judge(&ev) {
            Outcome::Pass { observed } => assert_eq!(observed, "container quick (bbbb): create→die 210 ms"),
            o => panic!("{o:?}"),
        }
        match check("create", "start", 100).judge(&ev) {
            Outcome::Pass { observed } => assert_eq!(observed, "container kernel (aaaa): create→start 40 ms"),
            o => panic!("{o:?}"),
        }
        let mut slow = check("create", "die", 1000);
        slow.select.insert("name".into(), "slow".into());
        match slow.judge(&ev) {
            Outcome::Fail { observed, expected } => {
                assert_eq!(observed, "fastest: container slow (cccc): create→die 9000 ms");
                assert_eq!(
                    expected,
                    "a container [image=busybox, name=slow] on vm1 went from create to die within 1000 ms (engine events)"
                );
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn a_container_still_running_or_none_fails() {
        let ev = parse(&log()).unwrap();
        let mut kernel = check("create", "die", 1000);
        kernel.select.insert("name".into(), "kernel".into());
        match kernel.judge(&ev) {
            Outcome::Fail { observed, .. } => assert_eq!(observed, "create without a die yet: kernel"),
            o => panic!("{o:?}"),
        }
        match check("create", "die", 1000).judge(&[]) {
            Outcome::Fail { observed, .. } => assert_eq!(observed, "0 container events, none a create of a selected container"),
            o => panic!("{o:?}"),
        }
        assert!(check("die", "die", 1).validate().is_err());
        assert!(check("create", "die", 0).validate().is_err());
        assert!(check("create", "die", 1).validate().is_ok());
    }

    #[test]
    fn asks_the_daemon_for_its_buffered_events() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("proc/100/root/run");
        std::fs::create_dir_all(&run).unwrap();
        let l = UnixListener::bind(run.join("berth.sock")).unwrap();
        let srv = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let req = crate::checks::http::tests::read_head(&mut s);
            // Chunked, one chunk per line, as a streaming daemon sends them.
            let mut body = String::new();
            for l in log().lines() {
                let l = format!("{l}\n");
                body.push_str(&format!("{:x}\r\n{l}\r\n", l.len()));
            }
            write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{body}0\r\n\r\n").unwrap();
            req.lines().next().unwrap_or("").to_string()
        });
        let hosts = FakeHosts { pids: [("vm1".to_string(), 100)].into(), ..Default::default() };
        let c = ctx(t.path(), &hosts);
        let o = check("create", "die", 1000).probe(&c);
        assert!(o.passed(), "{o:?}");
        let req = srv.join().unwrap();
        assert!(regex::Regex::new(r"^GET /events\?since=0&until=\d{10}\.\d{9} HTTP/1\.0$").unwrap().is_match(&req), "{req}");
        // No daemon: said so.
        std::fs::remove_file(run.join("berth.sock")).unwrap();
        match check("create", "die", 1000).probe(&c) {
            Outcome::Fail { observed, .. } => assert!(observed.contains("is the daemon running?"), "{observed}"),
            o => panic!("{o:?}"),
        }
    }
}
