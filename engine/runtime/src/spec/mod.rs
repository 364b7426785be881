//! OCI runtime-spec `config.json`, hand-written serde types (only what berth implements, unknown
//! fields ignored as the spec requires). Loading goes through serde_path_to_error so an error names
//! the field: `linux.namespaces[2].type: unknown namespace type "foo"`.

mod linux;
mod process;

pub use linux::*;
pub use process::*;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("open {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config.json: {0}")]
    Parse(String),
    #[error("config.json: {field}: {msg}")]
    Invalid { field: String, msg: String },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub oci_version: String,
    #[serde(default)]
    pub process: Option<Process>,
    #[serde(default)]
    pub root: Option<Root>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub linux: Option<Linux>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Root {
    pub path: PathBuf,
    #[serde(default)]
    pub readonly: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Mount {
    pub destination: PathBuf,
    #[serde(default, rename = "type")]
    pub typ: Option<String>,
    #[serde(default)]
    pub source: Option<PathBuf>,
    #[serde(default)]
    pub options: Vec<String>,
}

impl Spec {
    /// Parses `config.json` text; errors carry the JSON path of the offending field.
    pub fn from_json(text: &str) -> Result<Spec, SpecError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                SpecError::Parse(inner.to_string())
            } else {
                SpecError::Invalid { field: path, msg: strip_position(&inner.to_string()) }
            }
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Loads `<bundle>/config.json`.
    pub fn load(bundle: &Path) -> Result<Spec, SpecError> {
        let path = bundle.join("config.json");
        let text =
            std::fs::read_to_string(&path).map_err(|source| SpecError::Read { path, source })?;
        Spec::from_json(&text)
    }

    /// Semantic checks serde cannot express.
    fn validate(&self) -> Result<(), SpecError> {
        let invalid = |field: &str, msg: String| SpecError::Invalid { field: field.into(), msg };
        let process = self.process.as_ref().ok_or_else(|| invalid("process", "missing".into()))?;
        if process.args.is_empty() {
            return Err(invalid("process.args", "must contain at least one argument".into()));
        }
        if self.root.as_ref().is_none_or(|r| r.path.as_os_str().is_empty()) {
            return Err(invalid("root.path", "missing".into()));
        }
        for (i, m) in self.mounts.iter().enumerate() {
            if !m.destination.is_absolute() {
                return Err(invalid(
                    &format!("mounts[{i}].destination"),
                    format!("{:?} is not an absolute path", m.destination),
                ));
            }
        }
        if let Some(linux) = &self.linux {
            let mut seen = Vec::new();
            for (i, ns) in linux.namespaces.iter().enumerate() {
                if seen.contains(&ns.typ) {
                    return Err(invalid(
                        &format!("linux.namespaces[{i}].type"),
                        format!("duplicate namespace type \"{}\"", ns.typ.name()),
                    ));
                }
                seen.push(ns.typ);
            }
            let has_userns = seen.contains(&NamespaceType::User);
            if (!linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty()) && !has_userns {
                return Err(invalid(
                    "linux.uidMappings",
                    "mappings given without a user namespace".into(),
                ));
            }
        }
        if let Some(caps) = &process.capabilities {
            caps.validate()?;
        }
        for (i, r) in process.rlimits.iter().enumerate() {
            if crate::rlimits::resource_of(&r.typ).is_none() {
                return Err(invalid(
                    &format!("process.rlimits[{i}].type"),
                    format!("unknown rlimit \"{}\"", r.typ),
                ));
            }
        }
        Ok(())
    }

    pub fn process(&self) -> &Process {
        self.process.as_ref().expect("validated")
    }

    pub fn linux(&self) -> Linux {
        self.linux.clone().unwrap_or_default()
    }

    pub fn has_namespace(&self, typ: NamespaceType) -> bool {
        self.linux.as_ref().is_some_and(|l| l.namespaces.iter().any(|n| n.typ == typ))
    }
}

/// serde_json appends " at line L column C"; the field path already says where.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests;
