//! Image config JSON. Docker writes the top level with sorted keys (`image.Image.MarshalJSON` goes
//! through a map) and nested objects in Go struct order; we do the same, so configs we create hash
//! like Docker's. Configs we load are kept as raw bytes (the image ID is their sha256).

use crate::digest::{DiffId, Digest};
use crate::error::{Result, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The version string written into `docker_version` of configs berth creates.
pub const ENGINE_VERSION: &str = "20.10.24";

/// `container.Config` in Docker's field order.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    #[serde(default)]
    pub stdin_once: bool,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default, serialize_with = "health_in_go_order")]
    pub healthcheck: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub args_escaped: Option<bool>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub network_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shell: Option<Vec<String>>,
}

/// `Healthcheck` in the field order of Go's `HealthConfig` (Test, Interval, Timeout,
/// StartPeriod, then StartInterval and Retries), as dockerd writes it; keys it does not know
/// after those, sorted. (A `Value`'s own map would sort them all.)
fn health_in_go_order<S: serde::Serializer>(h: &Option<Value>, s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    const ORDER: [&str; 6] = ["Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"];
    let Some(Value::Object(m)) = h else { return h.serialize(s) };
    let mut out = s.serialize_map(Some(m.len()))?;
    for k in ORDER {
        if let Some(v) = m.get(k) {
            out.serialize_entry(k, v)?;
        }
    }
    for (k, v) in m.iter().filter(|(k, _)| !ORDER.contains(&k.as_str())) {
        out.serialize_entry(k, v)?;
    }
    out.end()
}

/// One `history` entry (Go struct order).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct History {
    #[serde(default)]
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub empty_layer: Option<bool>,
}

/// The parts of an image config berth reads (any config: ours or loaded).
#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub raw: Value,
    pub diff_ids: Vec<DiffId>,
    pub history: Vec<History>,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig> {
        let raw: Value = serde_json::from_slice(bytes).map_err(|e| StorageError::InvalidArchive(format!("invalid image config: {e}")))?;
        if !raw.is_object() {
            return Err(StorageError::InvalidArchive("invalid image config: not a JSON object".into()));
        }
        let mut diff_ids = Vec::new();
        if let Some(ids) = raw.pointer("/rootfs/diff_ids").and_then(Value::as_array) {
            for d in ids {
                let s = d.as_str().ok_or_else(|| StorageError::InvalidArchive("invalid image config: diff_ids".into()))?;
                diff_ids.push(Digest::parse(s).map_err(|_| StorageError::InvalidArchive(format!("invalid image config: bad diffID {s:?}")))?);
            }
        }
        let history = match raw.get("history") {
            Some(h) => serde_json::from_value(h.clone()).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(ImageConfig { raw, diff_ids, history })
    }

    pub fn str_field(&self, k: &str) -> String {
        self.raw.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    }

    pub fn created(&self) -> String {
        self.str_field("created")
    }

    /// The container config (`config`), defaults when absent.
    pub fn config(&self) -> ContainerConfig {
        self.raw.get("config").and_then(|c| serde_json::from_value(c.clone()).ok()).unwrap_or_default()
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config().labels.unwrap_or_default()
    }
}

/// Fields of a config berth creates (import, commit).
pub struct NewConfig<'a> {
    pub architecture: String,
    pub os: String,
    pub author: Option<&'a str>,
    pub comment: Option<&'a str>,
    pub config: &'a ContainerConfig,
    pub container: Option<&'a str>,
    pub container_config: &'a ContainerConfig,
    pub created: &'a str,
    pub parent: Option<&'a str>,
    pub diff_ids: &'a [DiffId],
    pub history: &'a [History],
}

/// Serialise a new config like Docker: top-level keys sorted, nested structs in Go order.
pub fn build(c: &NewConfig) -> Vec<u8> {
    let mut m: BTreeMap<&str, String> = BTreeMap::new();
    let j = |v: &dyn erased::Ser| v.to_json();
    m.insert("architecture", j(&c.architecture));
    if let Some(a) = c.author.filter(|a| !a.is_empty()) {
        m.insert("author", j(&a.to_string()));
    }
    if let Some(cm) = c.comment.filter(|a| !a.is_empty()) {
        m.insert("comment", j(&cm.to_string()));
    }
    m.insert("config", j(c.config));
    if let Some(ct) = c.container.filter(|a| !a.is_empty()) {
        m.insert("container", j(&ct.to_string()));
    }
    m.insert("container_config", j(c.container_config));
    m.insert("created", j(&c.created.to_string()));
    m.insert("docker_version", j(&ENGINE_VERSION.to_string()));
    m.insert("history", j(&c.history.to_vec()));
    m.insert("os", j(&c.os));
    if let Some(p) = c.parent {
        m.insert("parent", j(&p.to_string()));
    }
    let ids: Vec<String> = c.diff_ids.iter().map(|d| d.to_string()).collect();
    let rootfs = format!("{{\"type\":\"layers\",\"diff_ids\":{}}}", serde_json::to_string(&ids).unwrap());
    m.insert("rootfs", rootfs);
    let body: Vec<String> = m.into_iter().map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v)).collect();
    format!("{{{}}}", body.join(",")).into_bytes()
}

mod erased {
    pub trait Ser {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self).expect("serialise config")
        }
    }
}

/// `runtime.GOARCH` of this host.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_keys_in_go_order() {
        let c = ContainerConfig { healthcheck: Some(serde_json::json!({"Retries": 3, "Test": ["CMD", "true"], "Interval": 1})), ..Default::default() };
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains(r#""Healthcheck":{"Test":["CMD","true"],"Interval":1,"Retries":3}"#), "{j}");
    }

    #[test]
    fn import_config_shape_matches_docker() {
        let cc = ContainerConfig::default();
        let d = Digest::parse("sha256:409df6d78cff1ac6e6fb5c19cb9aa9d898aed5b96c95b21397a4b28bce75f419").unwrap();
        let h = [History { created: "2026-11-28T00:08:40.949674354Z".into(), comment: Some("Imported from -".into()), ..Default::default() }];
        let b = build(&NewConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            author: None,
            comment: Some("Imported from -"),
            config: &cc,
            container: None,
            container_config: &cc,
            created: "2026-11-28T00:08:40.949674354Z",
            parent: None,
            diff_ids: &[d],
            history: &h,
        });
        let cfg = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}"#;
        let want = format!(
            r#"{{"architecture":"amd64","comment":"Imported from -","config":{cfg},"container_config":{cfg},"created":"2026-11-28T00:08:40.949674354Z","docker_version":"20.10.24","history":[{{"created":"2026-11-28T00:08:40.949674354Z","comment":"Imported from -"}}],"os":"linux","rootfs":{{"type":"layers","diff_ids":["sha256:409df6d78cff1ac6e6fb5c19cb9aa9d898aed5b96c95b21397a4b28bce75f419"]}}}}"#
        );
        assert_eq!(String::from_utf8(b).unwrap(), want);
    }
}
