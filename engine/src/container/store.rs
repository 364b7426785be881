//! `containers/<id>/` on disk: config.v2.json (0600) and hostconfig.json (0644), written
//! atomically; loading everything back at daemon start.

use std::path::{Path, PathBuf};

use crate::container::config::HostConfig;
use crate::container::record::{Container, Record};
use crate::util::fs::write_atomic;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone)]
pub struct ContainerStore {
    root: PathBuf,
}

impl ContainerStore {
    /// `root` is `<data-root>/containers`.
    pub fn new(root: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(ContainerStore { root })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn create_dir(&self, id: &str) -> Result<PathBuf, StoreError> {
        use std::os::unix::fs::PermissionsExt;
        let d = self.dir(id);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o710)).map_err(io(&d))?;
        Ok(d)
    }

    pub fn save(&self, c: &Container) -> Result<(), StoreError> {
        self.save_record(c)?;
        self.save_host_config(c)
    }

    /// `config.v2.json` alone: what state changes (start, exit, rename) touch. Rewriting an
    /// unchanged hostconfig.json with them cost an fsync on every start.
    pub fn save_record(&self, c: &Container) -> Result<(), StoreError> {
        let cfg = self.dir(c.id()).join("config.v2.json");
        let data = serde_json::to_vec(&c.record).map_err(|source| StoreError::Json { path: cfg.clone(), source })?;
        write_atomic(&cfg, &data, 0o600).map_err(io(&cfg))
    }

    pub fn save_host_config(&self, c: &Container) -> Result<(), StoreError> {
        let hc = self.dir(c.id()).join("hostconfig.json");
        let data = serde_json::to_vec(&c.host_config).map_err(|source| StoreError::Json { path: hc.clone(), source })?;
        write_atomic(&hc, &data, 0o644).map_err(io(&hc))
    }

    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        let d = self.dir(id);
        match std::fs::remove_dir_all(&d) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&d)(e)),
            _ => Ok(()),
        }
    }

    /// Every container that has a readable record. Broken directories are reported, not fatal.
    pub fn load_all(&self) -> (Vec<Container>, Vec<StoreError>) {
        let mut out = Vec::new();
        let mut errs = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) => return (out, vec![io(&self.root)(e)]),
        };
        for e in entries.flatten() {
            if !e.path().join("config.v2.json").exists() {
                continue;
            }
            match self.load(&e.path()) {
                Ok(c) => out.push(c),
                Err(e) => errs.push(e),
            }
        }
        (out, errs)
    }

    fn load(&self, dir: &Path) -> Result<Container, StoreError> {
        let cfg = dir.join("config.v2.json");
        let data = std::fs::read(&cfg).map_err(io(&cfg))?;
        let record: Record = serde_json::from_slice(&data).map_err(|source| StoreError::Json { path: cfg, source })?;
        let hc = dir.join("hostconfig.json");
        let host_config: HostConfig = match std::fs::read(&hc) {
            Ok(d) => serde_json::from_slice(&d).map_err(|source| StoreError::Json { path: hc, source })?,
            Err(_) => HostConfig::default(),
        };
        Ok(Container { record, host_config })
    }
}
