//! `image/<driver>/distribution/` (reference §2.6): which compressed blob is which layer, so pulls
//! can say `Already exists` and pushes can skip or cross-mount layers.
//! `diffid-by-digest/sha256/<blob hex>` = `sha256:<diffID>` (no newline);
//! `v2metadata-by-diffid/sha256/<diffID hex>` = `[{"Digest":…,"SourceRepository":…,"HMAC":…}]`.

use crate::digest::{DiffId, Digest};
use crate::error::{Result, StorageError};
use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One `v2metadata-by-diffid` entry (Go field names).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct V2Metadata {
    #[serde(rename = "Digest")]
    pub digest: String,
    #[serde(rename = "SourceRepository")]
    pub source_repository: String,
    #[serde(rename = "HMAC", default)]
    pub hmac: String,
}

/// Docker keeps at most this many entries per diffID.
const MAX_METADATA: usize = 50;

pub struct Distribution {
    root: PathBuf,
}

impl Distribution {
    pub fn new(image_root: &Path) -> Distribution {
        Distribution { root: image_root.join("distribution") }
    }

    fn path(&self, ns: &str, d: &Digest) -> Result<PathBuf> {
        let dir = self.root.join(ns).join("sha256");
        fsutil::mkdir_all_mode(&dir, 0o700)?;
        Ok(dir.join(d.hex()))
    }

    pub fn set_diff_id(&self, blob: &Digest, diff: &DiffId) -> Result<()> {
        fsutil::write_atomic(&self.path("diffid-by-digest", blob)?, diff.as_str().as_bytes(), 0o644)
    }

    pub fn diff_id(&self, blob: &Digest) -> Result<Option<DiffId>> {
        match std::fs::read_to_string(self.path("diffid-by-digest", blob)?) {
            Ok(s) => Ok(Digest::parse(s.trim()).ok()),
            Err(_) => Ok(None),
        }
    }

    pub fn metadata(&self, diff: &DiffId) -> Result<Vec<V2Metadata>> {
        let p = self.path("v2metadata-by-diffid", diff)?;
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StorageError::Corrupt(format!("{}: {e}", p.display()))),
            Err(_) => Ok(Vec::new()),
        }
    }

    pub fn add_metadata(&self, diff: &DiffId, m: V2Metadata) -> Result<()> {
        let mut all = self.metadata(diff)?;
        all.retain(|x| !(x.digest == m.digest && x.source_repository == m.source_repository));
        all.push(m);
        if all.len() > MAX_METADATA {
            all.drain(..all.len() - MAX_METADATA);
        }
        fsutil::write_atomic(&self.path("v2metadata-by-diffid", diff)?, &serde_json::to_vec(&all).expect("serialise"), 0o644)
    }
}
