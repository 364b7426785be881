//! The seam between the daemon and image storage: what the container lifecycle needs from an
//! image store (lookup, container rootfs lifecycle). `berth-storage` implements it in
//! production; tests can use a fake.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// `No such image: <ref>` (404; drives the CLI's auto-pull and inspect fall-through).
    #[error("No such image: {0}")]
    NotFound(String),
    #[error("invalid reference format: {0}")]
    InvalidReference(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Storage(String),
}

/// The parts of an image's config a container inherits.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageConfig {
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::container::config::str_slice")]
    pub cmd: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::container::config::str_slice")]
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub user: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    /// `EXPOSE`d ports (`-P` publishes them; `--link` env lists them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    /// `sha256:<hex>`
    pub id: String,
    pub config: ImageConfig,
}

pub trait ImageBackend: Send + Sync {
    /// Resolve a reference (`bb`, `bb:1`, `docker.io/library/bb`, an ID or ID prefix).
    fn lookup(&self, reference: &str) -> Result<ImageInfo, ImageError>;
    /// Create the container's rw layer (and init layer) on top of the image.
    fn create_rootfs(&self, container_id: &str, image_id: &str) -> Result<(), ImageError>;
    /// Mount the container's rootfs; returns the merged path.
    fn mount_rootfs(&self, container_id: &str) -> Result<PathBuf, ImageError>;
    fn unmount_rootfs(&self, container_id: &str) -> Result<(), ImageError>;
    fn remove_rootfs(&self, container_id: &str) -> Result<(), ImageError>;
    /// Storage driver name for `GraphDriver.Name` / `docker info`.
    fn driver_name(&self) -> String;
    /// The driver's `GraphDriver.Data` for a container's rw layer (overlay2: LowerDir,
    /// MergedDir, UpperDir, WorkDir); `None` where the driver has none (vfs), as Docker's null.
    fn container_graph_data(&self, _container_id: &str) -> Option<std::collections::BTreeMap<String, String>> {
        None
    }
    /// The full image store, for the image endpoints (tag, rmi, save, load, commit…).
    fn store(&self) -> Option<std::sync::Arc<berth_storage::Store>> {
        None
    }
}

/// Used while no image store is available: every lookup fails with a clear message.
pub struct NoImages {
    pub reason: String,
}

impl ImageBackend for NoImages {
    fn lookup(&self, reference: &str) -> Result<ImageInfo, ImageError> {
        let _ = &self.reason;
        Err(ImageError::NotFound(with_default_tag(reference)))
    }
    fn create_rootfs(&self, _: &str, _: &str) -> Result<(), ImageError> {
        Err(ImageError::Storage(self.reason.clone()))
    }
    fn mount_rootfs(&self, _: &str) -> Result<PathBuf, ImageError> {
        Err(ImageError::Storage(self.reason.clone()))
    }
    fn unmount_rootfs(&self, _: &str) -> Result<(), ImageError> {
        Ok(())
    }
    fn remove_rootfs(&self, _: &str) -> Result<(), ImageError> {
        Ok(())
    }
    fn driver_name(&self) -> String {
        "none".into()
    }
}

/// `bb` → `bb:latest`, as Docker's "No such image" text shows it (IDs and digests unchanged).
pub fn with_default_tag(r: &str) -> String {
    let last = r.rsplit('/').next().unwrap_or(r);
    if r.contains('@') || last.contains(':') || crate::util::ids::is_hex_prefix(r) && r.len() >= 12 {
        r.to_string()
    } else {
        format!("{r}:latest")
    }
}

/// Merge image config into a container config, as moby's `mergeAndVerifyConfig`.
pub fn merge_config(c: &mut crate::container::config::Config, img: &ImageConfig) {
    if c.user.is_empty() {
        c.user = img.user.clone();
    }
    if c.working_dir.is_empty() {
        c.working_dir = img.working_dir.clone();
    }
    let mut env: Vec<String> = img.env.clone().unwrap_or_default();
    for kv in c.env.clone().unwrap_or_default() {
        let k = kv.split('=').next().unwrap_or("").to_string();
        match env.iter_mut().find(|e| e.split('=').next() == Some(k.as_str())) {
            Some(slot) => *slot = kv,
            None => env.push(kv),
        }
    }
    c.env = if env.is_empty() && c.env.is_none() && img.env.is_none() { None } else { Some(env) };
    let no_entry = c.entrypoint.as_ref().map(|e| e.is_empty()).unwrap_or(true);
    let no_cmd = c.cmd.as_ref().map(|e| e.is_empty()).unwrap_or(true);
    if no_entry && no_cmd {
        c.cmd = img.cmd.clone();
    }
    if no_entry {
        c.entrypoint = img.entrypoint.clone();
    }
    if let Some(l) = &img.labels {
        for (k, v) in l {
            c.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if let Some(v) = &img.volumes {
        let vols = c.volumes.get_or_insert_with(BTreeMap::new);
        for (k, val) in v {
            vols.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
    if c.stop_signal.is_none() {
        c.stop_signal = img.stop_signal.clone();
    }
    if let Some(p) = &img.exposed_ports {
        let ports = c.exposed_ports.get_or_insert_with(BTreeMap::new);
        for (k, v) in p {
            ports.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::config::Config;

    #[test]
    fn default_tag() {
        assert_eq!(with_default_tag("bb"), "bb:latest");
        assert_eq!(with_default_tag("127.0.0.1:5055/research/bb"), "127.0.0.1:5055/research/bb:latest");
        assert_eq!(with_default_tag("bb:1"), "bb:1");
    }

    #[test]
    fn merge_follows_moby() {
        let img = ImageConfig {
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            cmd: Some(vec!["sh".into()]),
            working_dir: "/w".into(),
            ..Default::default()
        };
        let mut c = Config { env: Some(vec!["A=2".into(), "B=3".into()]), ..Default::default() };
        merge_config(&mut c, &img);
        assert_eq!(c.env, Some(vec!["PATH=/bin".into(), "A=2".into(), "B=3".into()]));
        assert_eq!(c.cmd, Some(vec!["sh".into()]));
        assert_eq!(c.working_dir, "/w");
        let mut c = Config { entrypoint: Some(vec!["/e".into()]), ..Default::default() };
        merge_config(&mut c, &img);
        assert_eq!(c.cmd, None, "image Cmd is dropped when the user sets an entrypoint");
    }
}
