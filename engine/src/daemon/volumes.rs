//! Local volumes: `<data-root>/volumes/<name>/_data`, as Docker's `local` driver lays them out.

use serde_json::{json, Value};

use super::error::DaemonError;
use super::state::Daemon;
use crate::container::spec::check_volume_name;

impl Daemon {
    /// `None` for a volume that does not exist, and for any name that is not a valid volume
    /// name: the router percent-decodes path segments, so `GET /volumes/..%2F..%2Fx` or
    /// `/volumes/%2Fetc` arrive as paths, which must not be looked up (let alone removed).
    fn volume_json(&self, name: &str) -> Option<Value> {
        check_volume_name(name).ok()?;
        let dir = self.volumes_root().join(name);
        let data = dir.join("_data");
        let meta = std::fs::metadata(&data).ok()?;
        let created = meta
            .created()
            .or_else(|_| meta.modified())
            .ok()
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        Some(json!({
            "CreatedAt": created, "Driver": "local", "Labels": {}, "Mountpoint": data,
            "Name": name, "Options": {}, "Scope": "local",
        }))
    }

    /// Containers whose binds name this volume.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        let g = self.inner.lock().unwrap();
        g.containers
            .values()
            .filter(|c| {
                c.host_config.binds.iter().flatten().any(|b| b.split(':').next() == Some(name))
                    || c.record.mount_points.values().any(|m| m["Name"].as_str() == Some(name))
            })
            .map(|c| c.id().to_string())
            .collect()
    }

    pub fn volume_list(&self) -> Vec<Value> {
        let mut names: Vec<String> = std::fs::read_dir(self.volumes_root())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.iter().filter_map(|n| self.volume_json(n)).collect()
    }

    pub fn volume_create(&self, name: Option<&str>) -> Result<Value, DaemonError> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => crate::util::ids::generate_id(),
        };
        check_volume_name(&name).map_err(DaemonError::InvalidParameter)?;
        let data = self.volumes_root().join(&name).join("_data");
        let existed = data.is_dir();
        std::fs::create_dir_all(&data).map_err(|e| DaemonError::System(format!("{}: {e}", data.display())))?;
        if !existed {
            self.volume_event(&name, "create");
        }
        self.volume_json(&name).ok_or_else(|| DaemonError::System(format!("{}: created but not found", data.display())))
    }

    pub fn volume_inspect(&self, name: &str) -> Result<Value, DaemonError> {
        self.volume_json(name).ok_or_else(|| DaemonError::NotFound(format!("get {name}: no such volume")))
    }

    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), DaemonError> {
        if self.volume_json(name).is_none() {
            return if force { Ok(()) } else { Err(DaemonError::NotFound(format!("get {name}: no such volume"))) };
        }
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(DaemonError::Conflict(format!("remove {name}: volume is in use - [{}]", users.join(", "))));
        }
        let dir = self.volumes_root().join(name);
        std::fs::remove_dir_all(&dir).map_err(|e| DaemonError::System(format!("{}: {e}", dir.display())))?;
        self.volume_event(name, "destroy");
        Ok(())
    }

    /// `POST /volumes/prune`: remove volumes no container uses.
    pub fn volume_prune(&self) -> (Vec<String>, u64) {
        let mut deleted = Vec::new();
        let mut space = 0;
        for v in self.volume_list() {
            let n = v["Name"].as_str().unwrap_or("").to_string();
            if self.volume_users(&n).is_empty() {
                space += dir_size(&self.volumes_root().join(&n));
                if self.volume_remove(&n, false).is_ok() {
                    deleted.push(n);
                }
            }
        }
        (deleted, space)
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else { return 0 };
    if !m.is_dir() {
        return m.len();
    }
    std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| dir_size(&e.path())).sum()
}
