//! The store side of `docker pull`: downloaded (verified) blobs become layers, the config
//! becomes the image, the tag and the RepoDigest are set, and `distribution/` records which
//! blob is which layer (so the next pull says `Already exists`).
//!
//! All or nothing: layers created by a pull that then fails are released again, and the
//! distribution records are only written once the image exists.

use crate::digest::{chain_id, ChainId, DiffId, Digest, ImageId};
use crate::error::{IoContext, Result, StorageError};
use crate::image::config::ImageConfig;
use crate::image::distribution::V2Metadata;
use crate::reference::Reference;
use crate::store::Store;
use std::path::PathBuf;

/// One layer of the manifest, in order.
#[derive(Debug, Clone)]
pub struct PulledLayer {
    /// The registry (compressed) digest.
    pub blob: Digest,
    /// The downloaded, digest-verified blob; `None` when the pull skipped it because the store
    /// already has a layer with its content ([`Store::blob_available`]).
    pub file: Option<PathBuf>,
}

/// What to commit after the downloads.
#[derive(Debug, Clone)]
pub struct PullCommit {
    pub config: Vec<u8>,
    pub layers: Vec<PulledLayer>,
    /// Tag to set (`127.0.0.1:5000/app:v1`), if the pull was by tag.
    pub tag: Option<String>,
    /// Repository digest for `RepoDigests` (`sha256:…`).
    pub repo_digest: Option<String>,
    /// `host/path` the layers came from (v2metadata's `SourceRepository`).
    pub source_repository: String,
}

/// `progress(id, status, bytes)`: Docker's `Extracting` / `Pull complete` lines.
pub type PullProgress<'a> = &'a mut dyn FnMut(&str, &str, Option<(u64, u64)>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome {
    pub id: ImageId,
    /// The tag already pointed at this image: Docker's `Image is up to date for …`.
    pub up_to_date: bool,
}

impl Store {
    /// Whether a blob is already here as a layer (Docker's `Already exists`): the blob's diffID
    /// is known and some layer has that content. The layer may sit on another parent; then
    /// [`Store::commit_pull`] rebuilds it from that layer's content.
    pub fn blob_available(&self, blob: &Digest) -> bool {
        let Ok(Some(diff)) = self.blob_diff_id(blob) else { return false };
        self.lock().layers.all().any(|l| l.diff_id == diff)
    }

    /// Registers the pulled layers on top of each other, checking every diffID against the
    /// config, then creates, tags and digest-references the image. `progress(id, status,
    /// bytes)` gets Docker's `Extracting` / `Pull complete` lines (id = short blob digest).
    pub fn commit_pull(&self, c: &PullCommit, progress: PullProgress<'_>) -> Result<PullOutcome> {
        let parsed = ImageConfig::parse(&c.config)?;
        if parsed.diff_ids.len() != c.layers.len() {
            return Err(StorageError::InvalidArchive(format!(
                "image config lists {} layers (rootfs.diff_ids) but the manifest has {}",
                parsed.diff_ids.len(),
                c.layers.len()
            )));
        }
        let tag = c.tag.as_deref().map(Reference::parse_normalized_tagged).transpose()?;
        let digest_ref = match &c.repo_digest {
            Some(d) => Some(Reference::parse_normalized(&format!("{}@{d}", c.source_repository))?),
            None => None,
        };
        let mut created: Vec<ChainId> = Vec::new();
        let res = self.commit_layers(c, &parsed.diff_ids, &mut created, progress).and_then(|top| {
            let mut g = self.lock();
            let before = tag.as_ref().and_then(|t| g.repos.get(t));
            let id = g.images.create(&c.config)?;
            debug_assert_eq!(top, crate::digest::chain_ids(&parsed.diff_ids).pop());
            if let Some(t) = &tag {
                g.tag_ref(t, &id)?;
            }
            if let Some(r) = &digest_ref {
                g.tag_ref(r, &id)?;
            }
            Ok(PullOutcome { up_to_date: before.as_ref() == Some(&id), id })
        });
        match res {
            Ok(out) => {
                for (l, diff) in c.layers.iter().zip(&parsed.diff_ids) {
                    self.set_blob_diff_id(&l.blob, diff)?;
                    self.add_v2_metadata(diff, V2Metadata { digest: l.blob.to_string(), source_repository: c.source_repository.clone(), hmac: String::new() })?;
                }
                Ok(out)
            }
            Err(e) => {
                created.reverse();
                self.lock().release_unreferenced(&created);
                Err(e)
            }
        }
    }

    fn commit_layers(
        &self,
        c: &PullCommit,
        diff_ids: &[DiffId],
        created: &mut Vec<ChainId>,
        progress: PullProgress<'_>,
    ) -> Result<Option<ChainId>> {
        let mut parent: Option<ChainId> = None;
        for (i, (l, diff)) in c.layers.iter().zip(diff_ids).enumerate() {
            let id = l.blob.short().to_string();
            let chain = chain_id(parent.as_ref(), diff);
            if !self.layer_exists(&chain) {
                let (got, new) = match &l.file {
                    Some(path) => {
                        let size = std::fs::metadata(path).at(path)?.len();
                        progress(&id, "Extracting", Some((size, size)));
                        let mut f = std::fs::File::open(path).at(path)?;
                        self.lock().layers.register(parent.as_ref(), &mut f, Some((i, diff)))?
                    }
                    None => self.register_from_existing(parent.as_ref(), i, diff)?,
                };
                if new {
                    created.push(got.clone());
                }
                if got != chain {
                    return Err(StorageError::Corrupt(format!("layer {i}: registered as {got}, expected {chain}")));
                }
            }
            if l.file.is_some() {
                progress(&id, "Pull complete", None);
            }
            parent = Some(chain);
        }
        Ok(parent)
    }

    /// A skipped blob whose content exists under another parent: re-export that layer (its tar
    /// hashes to the same diffID) and apply it on the wanted parent.
    fn register_from_existing(&self, parent: Option<&ChainId>, i: usize, diff: &DiffId) -> Result<(ChainId, bool)> {
        let source = self
            .lock()
            .layers
            .all()
            .find(|l| &l.diff_id == diff)
            .map(|l| l.chain_id.clone())
            .ok_or_else(|| StorageError::NotFound(format!("layer with diffID {diff} disappeared during the pull")))?;
        let tmp = self.lock().tmp.clone();
        let scratch = super::ScratchDir::new(&tmp, "relayer")?;
        let path = scratch.path().join("layer.tar");
        let mut f = std::fs::File::create(&path).at(&path)?;
        self.write_layer_tar(&source, &mut f)?;
        let mut f = std::fs::File::open(&path).at(&path)?;
        self.lock().layers.register(parent, &mut f, Some((i, diff)))
    }

    /// `<data-root>/tmp`: where pulls put their downloads (same filesystem as the layers).
    pub fn tmp_dir(&self) -> PathBuf {
        self.lock().tmp.clone()
    }
}
