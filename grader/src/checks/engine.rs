//! Engine state: the host's berthd asked over its unix socket (Docker Engine API shapes:
//! `GET /containers/json?all=1`, `GET /images/json`), objects selected by JSON-pointer fields.
//! With `inspect`, a selected object's fields are read from its inspect document
//! (`GET /containers/{id}/json`: restart policy and count, state, mounts; `GET /images/{id}/json`:
//! the image's Config, Author, history-made fields — what the lists do not show).

use super::{procfs, Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    Containers,
    Images,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineCheck {
    pub host: String,
    /// The daemon's socket inside the host.
    #[serde(default = "default_socket")]
    pub socket: String,
    pub object: Object,
    /// JSON pointer -> value every selected object must have, e.g. { "/Names/0" = "/web" }.
    #[serde(default, rename = "match")]
    pub select: BTreeMap<String, String>,
    /// Whether a matching object must exist (default) or must not.
    #[serde(default = "yes")]
    pub present: bool,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub equals: Option<String>,
    /// A regex `field` must match (e.g. `/RepoDigests/0` = `^busybox@sha256:[0-9a-f]{64}$`:
    /// the image came from a registry).
    #[serde(default)]
    pub matches: Option<String>,
    /// Read `field` from each selected object's inspect document (`GET /containers/{id}/json`,
    /// `GET /images/{id}/json`) instead of its list entry: an image's Config, a container's
    /// restart count — what the lists do not show.
    #[serde(default)]
    pub inspect: bool,
}

fn default_socket() -> String {
    "/run/berth.sock".into()
}
fn yes() -> bool {
    true
}

/// A JSON value as the text a lab author writes (strings unquoted).
fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// GET `path` over the unix socket at `sock` and parse the JSON body.
pub fn get_json(sock: &std::path::Path, path: &str) -> Result<serde_json::Value, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is the daemon running?)",
            sock.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let req = format!("GET {path} HTTP/1.0\r\nHost: berth\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("truncated HTTP response")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("not an HTTP response")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    if status != 200 {
        return Err(format!("GET {path}: HTTP {status}: {}", body.trim()));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {path}: bad JSON: {e}"))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

impl EngineCheck {
    pub fn describe(&self) -> String {
        let sel: Vec<String> = self
            .select
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let object = if self.object == Object::Containers {
            "containers"
        } else {
            "images"
        };
        let inspected = if self.inspect { " (inspected)" } else { "" };
        let what = format!("{object}{inspected} [{}] on {}", sel.join(", "), self.host);
        match (self.present, &self.field, &self.equals, &self.matches) {
            (false, ..) => format!("no {what}"),
            (true, Some(f), Some(v), _) => format!("{what} has {f}={v}"),
            (true, Some(f), None, Some(m)) => format!("{what} has {f} matching /{m}/"),
            _ => format!("{what} exists"),
        }
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(pid) = ctx.hosts.pid(&self.host) else {
            return Outcome::fail(expected, format!("host {} is not running", self.host));
        };
        let sock = ctx
            .proc_root
            .join(procfs::pid_dir(pid))
            .join("root")
            .join(self.socket.trim_start_matches('/'));
        let path = match self.object {
            Object::Containers => "/containers/json?all=1",
            Object::Images => "/images/json",
        };
        let list = match get_json(&sock, path) {
            Ok(serde_json::Value::Array(a)) => a,
            Ok(v) => {
                return Outcome::fail(expected, format!("GET {path} returned {v}, not a list"))
            }
            Err(e) => return Outcome::fail(expected, e),
        };
        let listed: Vec<&serde_json::Value> = list
            .iter()
            .filter(|o| {
                self.select
                    .iter()
                    .all(|(k, v)| o.pointer(k).map(text).as_deref() == Some(v.as_str()))
            })
            .collect();
        let mut inspected = vec![];
        if self.inspect {
            let kind = match self.object {
                Object::Containers => "containers",
                Object::Images => "images",
            };
            for o in &listed {
                let id = o.get("Id").map(text).unwrap_or_default();
                match get_json(&sock, &format!("/{kind}/{id}/json")) {
                    Ok(v) => inspected.push(v),
                    // Removed between the list and the inspect: not selected any more.
                    Err(e) if e.contains("HTTP 404") => {}
                    Err(e) => return Outcome::fail(expected, e),
                }
            }
        }
        let selected: Vec<&serde_json::Value> = if self.inspect {
            inspected.iter().collect()
        } else {
            listed
        };
        let observed_of = |o: &serde_json::Value| match &self.field {
            Some(f) => format!(
                "{f}={}",
                o.pointer(f).map(text).unwrap_or_else(|| "(absent)".into())
            ),
            None => o
                .get("Id")
                .map(text)
                .unwrap_or_default()
                .chars()
                .take(12)
                .collect(),
        };
        if !self.present {
            return if selected.is_empty() {
                Outcome::pass(format!("{} objects, none selected", list.len()))
            } else {
                Outcome::fail(expected, format!("found {}", observed_of(selected[0])))
            };
        }
        let Some(first) = selected.first() else {
            return Outcome::fail(
                expected,
                format!("{} {path} objects, none matching", list.len()),
            );
        };
        let re = match self.matches.as_deref().map(regex::Regex::new) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => return Outcome::fail(expected, format!("bad regex: {e}")),
            None => None,
        };
        let field_ok = |o: &&&serde_json::Value| {
            let Some(f) = &self.field else { return true };
            let v = o.pointer(f).map(text);
            self.equals
                .as_ref()
                .is_none_or(|e| v.as_deref() == Some(e.as_str()))
                && re
                    .as_ref()
                    .is_none_or(|r| v.as_deref().is_some_and(|v| r.is_match(v)))
        };
        match selected.iter().find(field_ok) {
            Some(o) => Outcome::pass(observed_of(o)),
            None => Outcome::fail(expected, observed_of(first)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};
    use std::os::unix::net::UnixListener;

    /// A fake daemon answering every request with `body` (chunked, as Docker may).
    fn fake_daemon(
        sock: &std::path::Path,
        body: &'static str,
        requests: usize,
    ) -> std::thread::JoinHandle<Vec<String>> {
        let l = UnixListener::bind(sock).unwrap();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..requests {
                let (mut s, _) = l.accept().unwrap();
                let req = crate::checks::http::tests::read_head(&mut s);
                seen.push(req.lines().next().unwrap_or("").to_string());
                let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
                write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}").unwrap();
            }
            seen
        })
    }

    #[test]
    fn field_matches_a_regex() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("proc/100/root/run");
        std::fs::create_dir_all(&run).unwrap();
        let body = r#"[{"Id":"1","RepoTags":["busybox:latest"],"RepoDigests":["busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]},
                       {"Id":"2","RepoTags":["nginx:latest"],"RepoDigests":[]}]"#;
        let srv = fake_daemon(&run.join("berth.sock"), body, 2);
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut chk = EngineCheck {
            host: "vm1".into(),
            socket: default_socket(),
            object: Object::Images,
            select: [("/RepoTags/0".to_string(), "busybox:latest".to_string())].into(),
            present: true,
            field: Some("/RepoDigests/0".into()),
            equals: None,
            matches: Some("^busybox@sha256:[0-9a-f]{64}$".into()),
            inspect: false,
        };
        assert!(chk.probe(&c).passed());
        chk.select = [("/RepoTags/0".to_string(), "nginx:latest".to_string())].into();
        match chk.probe(&c) {
            Outcome::Fail { observed, expected } => {
                assert_eq!(observed, "/RepoDigests/0=(absent)");
                assert!(expected.contains("matching /^busybox@"), "{expected}");
            }
            o => panic!("{o:?}"),
        }
        srv.join().unwrap();
    }

    #[test]
    fn selects_containers_by_pointer() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("proc/100/root/run");
        std::fs::create_dir_all(&run).unwrap();
        let body = r#"[{"Id":"4a3b2c1d0e9f8a7b","Names":["/web"],"Image":"busybox","State":"running"},
                       {"Id":"99","Names":["/old"],"Image":"busybox","State":"exited"}]"#;
        let srv = fake_daemon(&run.join("berth.sock"), body, 3);
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut chk = EngineCheck {
            host: "vm1".into(),
            socket: default_socket(),
            object: Object::Containers,
            select: [("/Names/0".to_string(), "/web".to_string())].into(),
            present: true,
            field: Some("/State".into()),
            equals: Some("running".into()),
            matches: None,
            inspect: false,
        };
        let o = chk.probe(&c);
        assert!(o.passed(), "{o:?}");
        chk.select = [("/Names/0".to_string(), "/old".to_string())].into();
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => assert_eq!(observed, "/State=exited"),
            o => panic!("{o:?}"),
        }
        chk.select = [("/Names/0".to_string(), "/db".to_string())].into();
        chk.present = false;
        assert!(chk.probe(&c).passed());
        assert_eq!(
            srv.join().unwrap()[0],
            "GET /containers/json?all=1 HTTP/1.0"
        );
    }

    #[test]
    fn inspect_reads_the_selected_container_s_document() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("proc/100/root/run");
        std::fs::create_dir_all(&run).unwrap();
        let l = UnixListener::bind(run.join("berth.sock")).unwrap();
        let srv = std::thread::spawn(move || {
            let mut seen = vec![];
            for _ in 0..4 {
                let (mut s, _) = l.accept().unwrap();
                let req = crate::checks::http::tests::read_head(&mut s);
                let line = req.lines().next().unwrap_or("").to_string();
                let body = if line.starts_with("GET /containers/json") {
                    r#"[{"Id":"aaa","Names":["/mysql1"]},{"Id":"bbb","Names":["/gone"]}]"#
                } else if line.starts_with("GET /containers/aaa/json") {
                    r#"{"Id":"aaa","RestartCount":1,"HostConfig":{"RestartPolicy":{"Name":"always"}}}"#
                } else {
                    ""
                };
                let status = if body.is_empty() { "404 Not Found" } else { "200 OK" };
                let body = if body.is_empty() { r#"{"message":"No such container: bbb"}"# } else { body };
                write!(s, "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
                seen.push(line);
            }
            seen
        });
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut chk = EngineCheck {
            host: "vm1".into(),
            socket: default_socket(),
            object: Object::Containers,
            select: [("/Names/0".to_string(), "/mysql1".to_string())].into(),
            present: true,
            field: Some("/HostConfig/RestartPolicy/Name".into()),
            equals: Some("always".into()),
            matches: None,
            inspect: true,
        };
        let o = chk.probe(&c);
        assert!(o.passed(), "{o:?}");
        assert!(chk.describe().contains("(inspected)"));
        // A container removed between the list and its inspect is simply not there.
        chk.select = [("/Names/0".to_string(), "/gone".to_string())].into();
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => assert!(observed.contains("none matching"), "{observed}"),
            o => panic!("{o:?}"),
        }
        let seen = srv.join().unwrap();
        assert_eq!(seen[1], "GET /containers/aaa/json HTTP/1.0");
        assert_eq!(seen[3], "GET /containers/bbb/json HTTP/1.0");
    }

    #[test]
    fn dead_daemon_is_reported() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("proc/100/root/run")).unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let chk = EngineCheck {
            host: "vm1".into(),
            socket: default_socket(),
            object: Object::Images,
            select: BTreeMap::new(),
            present: true,
            field: None,
            equals: None,
            matches: None,
            inspect: false,
        };
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("is the daemon running?"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
    }
}
