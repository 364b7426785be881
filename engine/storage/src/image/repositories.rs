//! `repositories.json`: `{"Repositories":{"<familiar name>":{"<familiar name:tag>":"sha256:<id>"}}}`.

use crate::digest::{Digest, ImageId};
use crate::error::{IoContext, Result, StorageError};
use crate::reference::Reference;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Default)]
struct File {
    #[serde(rename = "Repositories", default)]
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

pub struct Repositories {
    path: PathBuf,
    repos: BTreeMap<String, BTreeMap<String, String>>,
}

impl Repositories {
    pub fn open(path: &Path) -> Result<Repositories> {
        let repos = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice::<File>(&b)
                .map_err(|e| StorageError::Corrupt(format!("{}: {e}", path.display())))?
                .repositories,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).at(path),
        };
        Ok(Repositories { path: path.to_path_buf(), repos })
    }

    fn save(&self) -> Result<()> {
        let f = File { repositories: self.repos.clone() };
        crate::fsutil::write_atomic(&self.path, &serde_json::to_vec(&f).expect("serialise"), 0o600)
    }

    /// Point `r` at `id` (replacing what it pointed to).
    pub fn set(&mut self, r: &Reference, id: &ImageId) -> Result<()> {
        self.repos.entry(r.familiar_name()).or_default().insert(r.familiar_string(), id.to_string());
        self.save()
    }

    pub fn get(&self, r: &Reference) -> Option<ImageId> {
        self.repos.get(&r.familiar_name())?.get(&r.familiar_string()).and_then(|s| Digest::parse(s).ok())
    }

    /// Remove one reference; true if it existed.
    pub fn remove(&mut self, r: &Reference) -> Result<bool> {
        let name = r.familiar_name();
        let Some(m) = self.repos.get_mut(&name) else { return Ok(false) };
        if m.remove(&r.familiar_string()).is_none() {
            return Ok(false);
        }
        if m.is_empty() {
            self.repos.remove(&name);
        }
        self.save()?;
        Ok(true)
    }

    /// Every reference to `id`, sorted (tags and digests).
    pub fn references(&self, id: &ImageId) -> Vec<Reference> {
        let mut out: Vec<Reference> = self
            .repos
            .values()
            .flat_map(|m| m.iter())
            .filter(|(_, v)| v.as_str() == id.as_str())
            .filter_map(|(k, _)| Reference::parse_normalized(k).ok())
            .collect();
        out.sort_by_key(|r| r.familiar_string());
        out
    }

    pub fn all(&self) -> Vec<(Reference, ImageId)> {
        self.repos
            .values()
            .flat_map(|m| m.iter())
            .filter_map(|(k, v)| Some((Reference::parse_normalized(k).ok()?, Digest::parse(v).ok()?)))
            .collect()
    }
}
