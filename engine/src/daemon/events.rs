//! The daemon's event log (`GET /events`, `docker events`): a bounded ring of recent events
//! for `since` replays plus a broadcast channel for live subscribers, as moby's
//! `daemon/events` package (256 buffered events, `scope: local`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::state::Daemon;
use crate::container::record::Container;

/// moby's `eventsLimit`: how many past events `since` can replay.
const BUFFERED: usize = 256;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// `events.Message` of API 1.41; `status`/`id`/`from` are the deprecated fields moby still
/// fills for container and image events.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Message {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

pub struct Events {
    buf: Mutex<VecDeque<Message>>,
    tx: broadcast::Sender<Message>,
}

impl Default for Events {
    fn default() -> Self {
        Events { buf: Mutex::new(VecDeque::with_capacity(BUFFERED)), tx: broadcast::channel(1024).0 }
    }
}

fn now_nanos() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_nanos() as i64
}

impl Events {
    /// Record an event and hand it to every live subscriber.
    pub fn log(&self, typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        let nanos = now_nanos();
        let mut m = Message {
            typ: typ.into(),
            action: action.into(),
            actor: Actor { id: id.into(), attributes },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
            ..Default::default()
        };
        match typ {
            "container" => {
                m.status = action.into();
                m.id = id.into();
                m.from = m.actor.attributes.get("image").cloned().unwrap_or_default();
            }
            "image" => {
                m.status = action.into();
                m.id = id.into();
            }
            _ => {}
        }
        // Push and send under one lock so a subscriber sees each event exactly once.
        let mut b = self.buf.lock().unwrap();
        if b.len() == BUFFERED {
            b.pop_front();
        }
        b.push_back(m.clone());
        let _ = self.tx.send(m);
    }

    /// Past events in `[since, until]` (nanoseconds) plus a receiver for the ones that follow.
    pub fn subscribe(&self, since: Option<i64>, until: Option<i64>) -> (Vec<Message>, broadcast::Receiver<Message>) {
        let b = self.buf.lock().unwrap();
        let rx = self.tx.subscribe();
        let past = match since {
            None => vec![],
            Some(s) => b.iter().filter(|m| m.time_nano >= s && until.map(|u| m.time_nano <= u).unwrap_or(true)).cloned().collect(),
        };
        (past, rx)
    }
}

/// `secs[.nanos]` as the docker CLI sends `since`/`until` (timetypes.ParseTimestamps).
pub fn parse_time(s: &str) -> Result<Option<i64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| format!("invalid timestamp: {s:?}"))?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid timestamp: {s:?}"));
        }
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().map_err(|_| format!("invalid timestamp: {s:?}"))?;
    }
    // Saturated: nanoseconds in an i64 end in 2262; a later (or much earlier) client time
    // compares the same as the bound, and must not overflow (a panic in debug builds).
    Ok(Some(secs.saturating_mul(1_000_000_000).saturating_add(nanos)))
}

/// `filters` of `GET /events`, matched as moby's `daemon/events/filter.go`.
#[derive(Debug, Default)]
pub struct Filter(HashMap<String, Vec<String>>);

impl Filter {
    pub fn parse(s: Option<&str>) -> Result<Filter, String> {
        let mut f = HashMap::new();
        let Some(s) = s.filter(|s| !s.is_empty()) else { return Ok(Filter(f)) };
        let v: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("invalid filter: {e}"))?;
        let obj = v.as_object().ok_or("invalid filter")?;
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Object(m) => m.keys().cloned().collect(),
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
                _ => vec![],
            };
            f.insert(k.clone(), list);
        }
        Ok(Filter(f))
    }

    fn exact(&self, k: &str, v: &str) -> bool {
        self.0.get(k).map(|l| l.is_empty() || l.iter().any(|x| x == v)).unwrap_or(true)
    }

    /// Matches the value itself or any value it starts with (an id prefix).
    fn fuzzy(&self, k: &str, v: &str) -> bool {
        self.0.get(k).map(|l| l.is_empty() || l.iter().any(|x| v.starts_with(x.as_str()))).unwrap_or(true)
    }

    fn name_or_id(&self, k: &str, m: &Message) -> bool {
        if !self.0.contains_key(k) {
            return true;
        }
        let name = m.actor.attributes.get("name").map(String::as_str).unwrap_or("");
        self.fuzzy(k, &m.actor.id) || (!name.is_empty() && self.fuzzy(k, name))
    }

    pub fn include(&self, m: &Message) -> bool {
        // `exec_create` without the command matches `exec_create: sh -c …` (moby #25798).
        let event_ok = match self.0.get("event") {
            Some(l) if l.iter().any(|e| ["exec_create", "exec_start", "health_status"].contains(&e.as_str())) => {
                self.fuzzy("event", &m.action)
            }
            _ => self.exact("event", &m.action),
        };
        let image_ok = !self.0.contains_key("image") || {
            let attr = if m.typ == "image" { "name" } else { "image" };
            let name = m.actor.attributes.get(attr).cloned().unwrap_or_default();
            let strip = |s: &str| match s.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => r.to_string(),
                _ => s.to_string(),
            };
            [m.actor.id.clone(), name.clone(), strip(&m.actor.id), strip(&name)].iter().any(|c| self.exact("image", c))
        };
        let labels_ok = match self.0.get("label") {
            None => true,
            Some(l) => l.iter().all(|kv| match kv.split_once('=') {
                Some((k, v)) => m.actor.attributes.get(k).map(|x| x == v).unwrap_or(false),
                None => m.actor.attributes.contains_key(kv.as_str()),
            }),
        };
        event_ok
            && self.exact("type", &m.typ)
            && self.exact("scope", &m.scope)
            && self.name_or_id("container", m)
            && self.name_or_id("volume", m)
            && self.name_or_id("network", m)
            && image_ok
            && labels_ok
    }
}

/// Attributes of a container event: its labels, `image` and `name` (moby's
/// `LogContainerEventWithAttributes`).
pub fn container_attributes(c: &Container) -> BTreeMap<String, String> {
    let mut a: BTreeMap<String, String> = c.record.config.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    a.insert("image".into(), c.record.config.image.clone());
    a.insert("name".into(), c.record.name.trim_start_matches('/').to_string());
    a
}

impl Daemon {
    /// Log a container event; `extra` adds attributes like `exitCode` or `signal`.
    pub fn container_event(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let mut a = container_attributes(c);
        for (k, v) in extra {
            a.insert(k.to_string(), v.clone());
        }
        self.events.log("container", action, c.id(), a);
    }

    /// As [`Daemon::container_event`] for a container known by reference (no-op if gone).
    pub fn container_event_ref(&self, r: &str, action: &str, extra: &[(&str, String)]) {
        if let Ok(c) = self.get(r) {
            self.container_event(&c, action, extra);
        }
    }

    /// `LogImageEvent(id, name, action)`.
    pub fn image_event(&self, id: &str, name: &str, action: &str) {
        let a = BTreeMap::from([("name".to_string(), name.to_string())]);
        self.events.log("image", action, id, a);
    }

    pub fn volume_event(&self, name: &str, action: &str) {
        let a = BTreeMap::from([("driver".to_string(), "local".to_string())]);
        self.events.log("volume", action, name, a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Message {
        let e = Events::default();
        e.log(typ, action, id, attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        e.subscribe(Some(0), None).0.remove(0)
    }

    #[test]
    fn shape_matches_moby() {
        let m = ev("container", "die", "abc", &[("image", "busybox"), ("name", "x"), ("exitCode", "3")]);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["status"], "die");
        assert_eq!(v["id"], "abc");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(v["scope"], "local");
        assert_eq!(v["time"].as_i64().unwrap(), v["timeNano"].as_i64().unwrap() / 1_000_000_000);
        let v = serde_json::to_value(ev("volume", "create", "v1", &[("driver", "local")])).unwrap();
        assert!(v.get("status").is_none() && v.get("id").is_none(), "legacy fields only for containers and images: {v}");
    }

    #[test]
    fn filters() {
        let f = |s: &str| Filter::parse(Some(s)).unwrap();
        let m = ev("container", "exec_create: sh -c true", "abcdef", &[("image", "busybox:latest"), ("name", "web"), ("a", "b")]);
        assert!(f(r#"{"event":{"exec_create":true}}"#).include(&m));
        assert!(!f(r#"{"event":{"start":true}}"#).include(&m));
        assert!(f(r#"{"container":{"web":true}}"#).include(&m));
        assert!(f(r#"{"container":{"abc":true}}"#).include(&m), "id prefix");
        assert!(!f(r#"{"container":{"other":true}}"#).include(&m));
        assert!(f(r#"{"image":{"busybox":true}}"#).include(&m), "tag stripped");
        assert!(f(r#"{"label":{"a=b":true}}"#).include(&m));
        assert!(!f(r#"{"label":{"a=c":true}}"#).include(&m));
        assert!(!f(r#"{"type":{"image":true}}"#).include(&m));
        let v = ev("volume", "create", "v1", &[("driver", "local")]);
        assert!(!f(r#"{"container":{"web":true}}"#).include(&v));
        assert!(f(r#"{"volume":["v1"]}"#).include(&v));
    }

    #[test]
    fn since_until() {
        assert_eq!(parse_time("12.5").unwrap(), Some(12_500_000_000));
        assert_eq!(parse_time("12").unwrap(), Some(12_000_000_000));
        assert_eq!(parse_time("").unwrap(), None);
        assert!(parse_time("x").is_err());
        assert!(parse_time("1.-5").is_err());
        assert_eq!(parse_time("99999999999").unwrap(), Some(i64::MAX));
        assert_eq!(parse_time("-9223372036854775808.5").unwrap(), Some(i64::MIN + 500_000_000));
        let e = Events::default();
        e.log("volume", "create", "a", BTreeMap::new());
        let (past, _) = e.subscribe(None, None);
        assert!(past.is_empty(), "no since: live events only");
        let (past, _) = e.subscribe(Some(0), Some(1));
        assert!(past.is_empty(), "until before the event");
        for i in 0..300 {
            e.log("volume", "create", &i.to_string(), BTreeMap::new());
        }
        assert_eq!(e.subscribe(Some(0), None).0.len(), BUFFERED);
    }
}
