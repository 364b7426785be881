//! `imagedb/content/sha256/<imageID>` (raw config bytes, 0600; ID = sha256 of the bytes) and
//! `imagedb/metadata/sha256/<imageID>/{parent,lastUpdated}`.

use super::config::ImageConfig;
use crate::digest::{Digest, ImageId};
use crate::error::{IoContext, Result, StorageError};
use crate::fsutil;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct ImageRecord {
    pub id: ImageId,
    pub bytes: Vec<u8>,
    pub config: ImageConfig,
    /// Local parent image (commit/build), `metadata/…/parent`.
    pub parent: Option<ImageId>,
    /// `metadata/…/lastUpdated` (RFC3339Nano), the last tag time.
    pub last_updated: Option<String>,
}

pub struct ImageStore {
    root: PathBuf,
    pub(crate) images: HashMap<ImageId, ImageRecord>,
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore> {
        let content = root.join("content/sha256");
        let meta = root.join("metadata/sha256");
        fsutil::mkdir_all_mode(&content, 0o700)?;
        fsutil::mkdir_all_mode(&meta, 0o700)?;
        let mut images = HashMap::new();
        for e in fs::read_dir(&content).at(&content)? {
            let name = e.at(&content)?.file_name().to_string_lossy().into_owned();
            let p = content.join(&name);
            let Ok(id) = Digest::from_hex(&name) else {
                // temp files of an interrupted write
                fsutil::remove_all(&p)?;
                continue;
            };
            let bytes = fs::read(&p).at(&p)?;
            if Digest::of(&bytes) != id {
                return Err(StorageError::Corrupt(format!("{}: content does not match its digest", p.display())));
            }
            let config = ImageConfig::parse(&bytes)?;
            let md = meta.join(&name);
            let read = |f: &str| fs::read_to_string(md.join(f)).ok();
            let parent = read("parent").and_then(|s| Digest::parse(s.trim()).ok());
            images.insert(id.clone(), ImageRecord { id, bytes, config, parent, last_updated: read("lastUpdated") });
        }
        Ok(ImageStore { root: root.to_path_buf(), images })
    }

    /// Store a config; the image ID is sha256 of `bytes`. Idempotent.
    pub fn create(&mut self, bytes: &[u8]) -> Result<ImageId> {
        let config = ImageConfig::parse(bytes)?;
        let id = Digest::of(bytes);
        if !self.images.contains_key(&id) {
            fsutil::write_atomic(&self.root.join("content/sha256").join(id.hex()), bytes, 0o600)?;
            self.images.insert(id.clone(), ImageRecord { id: id.clone(), bytes: bytes.to_vec(), config, parent: None, last_updated: None });
        }
        Ok(id)
    }

    pub fn get(&self, id: &ImageId) -> Option<&ImageRecord> {
        self.images.get(id)
    }

    pub fn all(&self) -> impl Iterator<Item = &ImageRecord> {
        self.images.values()
    }

    fn meta_dir(&self, id: &ImageId) -> Result<PathBuf> {
        let d = self.root.join("metadata/sha256").join(id.hex());
        fsutil::mkdir_all_mode(&d, 0o700)?;
        Ok(d)
    }

    pub fn set_parent(&mut self, id: &ImageId, parent: &ImageId) -> Result<()> {
        let d = self.meta_dir(id)?;
        fsutil::write_atomic(&d.join("parent"), parent.as_str().as_bytes(), 0o600)?;
        if let Some(r) = self.images.get_mut(id) {
            r.parent = Some(parent.clone());
        }
        Ok(())
    }

    pub fn set_last_updated(&mut self, id: &ImageId) -> Result<()> {
        let now = fsutil::now_rfc3339_nano();
        let d = self.meta_dir(id)?;
        fsutil::write_atomic(&d.join("lastUpdated"), now.as_bytes(), 0o600)?;
        if let Some(r) = self.images.get_mut(id) {
            r.last_updated = Some(now);
        }
        Ok(())
    }

    pub fn delete(&mut self, id: &ImageId) -> Result<()> {
        fsutil::remove_all(&self.root.join("content/sha256").join(id.hex()))?;
        fsutil::remove_all(&self.root.join("metadata/sha256").join(id.hex()))?;
        self.images.remove(id);
        Ok(())
    }

    pub fn children(&self, id: &ImageId) -> Vec<ImageId> {
        self.images.values().filter(|r| r.parent.as_ref() == Some(id)).map(|r| r.id.clone()).collect()
    }

    /// Find an image by a hex prefix of its ID (`docker rmi 53fe`).
    pub fn search(&self, prefix: &str) -> Result<Option<ImageId>> {
        let p = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let hits: Vec<&ImageId> = self.images.keys().filter(|id| id.hex().starts_with(p)).collect();
        match hits.len() {
            0 => Ok(None),
            1 => Ok(Some(hits[0].clone())),
            _ => Err(StorageError::Conflict(format!("ambiguous digest string: {prefix}"))),
        }
    }
}
