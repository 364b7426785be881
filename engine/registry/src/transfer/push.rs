//! `push_image`: layers 5 at a time (exists → mount → upload), config, then the manifest.

use super::PROGRESS_STEP;
use crate::auth::Credentials;
use crate::client::RegistryClient;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{Descriptor, FetchedManifest, ParsedManifest};
use crate::media_types::ManifestKind;
use crate::mirror::push_endpoint;
use crate::progress::{ProgressMessage, ProgressSink};
use crate::reference::ImageRef;
use crate::session::Repository;
use crate::upload::{BlobSource, MountResult};
use bytes::Bytes;
use futures_util::future::try_join_all;
use std::collections::{HashMap, HashSet};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// What to push: the manifest bytes exactly as stored, and where its blobs are.
pub struct PushRequest<'a> {
    pub manifest: Bytes,
    /// Content-Type for the manifest PUT; must equal the body's `mediaType`.
    pub media_type: String,
    pub source: &'a dyn BlobSource,
    /// Repositories on the same registry known to hold a blob (from storage's v2 metadata):
    /// tried as cross-repository mounts before uploading.
    pub mount_from: HashMap<Digest, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    pub digest: Digest,
    pub size: usize,
}

impl RegistryClient {
    /// Pushes one image manifest (Docker schema2 or OCI) with its config and layers to
    /// `image` (its tag, or by digest when it has none), like `docker push`.
    pub async fn push_image(
        &self,
        image: &ImageRef,
        credentials: Credentials,
        req: PushRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<PushedImage, RegistryError> {
        let fetched = FetchedManifest {
            digest: Digest::of(&req.manifest),
            bytes: req.manifest.clone(),
            media_type: req.media_type.clone(),
        };
        if fetched.kind() != Some(ManifestKind::Image) {
            return Err(RegistryError::UnsupportedMediaType {
                what: "pushed manifest".into(),
                media_type: req.media_type,
            });
        }
        let ParsedManifest::Image(parsed) = fetched.parse()? else {
            unreachable!("kind checked")
        };
        // The registry rejects a Content-Type that differs from the body's mediaType with a bare
        // "manifest invalid"; say what is wrong before uploading anything.
        if let Some(body_mt) = parsed
            .media_type
            .as_deref()
            .filter(|m| *m != req.media_type)
        {
            return Err(RegistryError::InvalidManifest {
                what: fetched.digest.to_string(),
                reason: format!(
                    "mediaType {body_mt:?} in the body but pushed as {:?}",
                    req.media_type
                ),
            });
        }
        progress.emit(ProgressMessage::status(format!(
            "The push refers to repository [{}]",
            image.full_name()
        )));
        let session = self
            .session(&push_endpoint(&image.registry), credentials)
            .await?;
        let repo = session.repository(&image.repository, true);

        // Docker's push ids are diffIDs; read them from the config (index-aligned with layers).
        let config = read_all(req.source, &parsed.config.digest).await?;
        let diff_ids = diff_ids(&config).filter(|d| d.len() == parsed.layers.len());
        let ids: Vec<String> = parsed
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                diff_ids
                    .as_ref()
                    .map(|d| d[i].short().to_string())
                    .unwrap_or_else(|| l.digest.short().to_string())
            })
            .collect();
        let mut seen = HashSet::new();
        let layers: Vec<(&Descriptor, &str)> = parsed
            .layers
            .iter()
            .zip(ids.iter().map(String::as_str))
            .filter(|(l, _)| seen.insert(l.digest.clone()))
            .collect();
        for (_, id) in &layers {
            progress.emit(ProgressMessage::layer(id, "Preparing"));
        }
        let limit = Semaphore::new(self.config().max_concurrent_uploads.max(1));
        let jobs = layers
            .iter()
            .map(|(l, id)| push_layer(&repo, l, id, &req, progress, &limit));
        try_join_all(jobs).await?;

        if repo.blob_exists(&parsed.config.digest).await?.is_none() {
            let mut cursor: &[u8] = &config;
            repo.upload_blob(
                &parsed.config.digest,
                parsed.config.size,
                &mut cursor,
                None,
                &mut |_| {},
            )
            .await?;
        }
        let reference = image
            .tag
            .clone()
            .unwrap_or_else(|| fetched.digest.to_string());
        let digest = repo
            .put_manifest(&reference, &req.media_type, req.manifest.clone())
            .await?;
        let size = req.manifest.len();
        progress.emit(ProgressMessage::status(format!(
            "{reference}: digest: {digest} size: {size}"
        )));
        progress.emit(ProgressMessage {
            progress_detail: Some(Default::default()),
            aux: Some(
                serde_json::json!({"Tag": reference, "Digest": digest.to_string(), "Size": size}),
            ),
            ..Default::default()
        });
        Ok(PushedImage { digest, size })
    }
}

async fn push_layer(
    repo: &Repository,
    layer: &Descriptor,
    id: &str,
    req: &PushRequest<'_>,
    progress: &dyn ProgressSink,
    limit: &Semaphore,
) -> Result<(), RegistryError> {
    let _permit = super::slot(limit, id, progress).await;
    if repo.blob_exists(&layer.digest).await?.is_some() {
        progress.emit(ProgressMessage::layer(id, "Layer already exists"));
        return Ok(());
    }
    let mut location = None;
    for from in req.mount_from.get(&layer.digest).into_iter().flatten() {
        if from == repo.name() {
            continue;
        }
        match repo.mount_blob(&layer.digest, from).await {
            Ok(MountResult::Mounted) => {
                progress.emit(ProgressMessage::layer(id, format!("Mounted from {from}")));
                return Ok(());
            }
            Ok(MountResult::Upload(loc)) => {
                location = Some(loc);
                break;
            }
            // A refused mount (no pull right on the source) is not fatal: upload instead.
            Err(e) => tracing::info!(%from, error = %e, "cross-repository mount failed"),
        }
    }
    // Like Docker, a layer whose upload failed on the way (connection lost, 5xx) is uploaded
    // again from the start in a new session; the registry discards the broken one.
    let attempts = repo.session().config().upload_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut reader = req
            .source
            .open(&layer.digest)
            .map_err(|e| RegistryError::storage(format!("opening blob {}", layer.digest), e))?;
        let total = layer.size;
        let mut last = 0u64;
        let mut report = |n: u64| {
            if n.saturating_sub(last) >= PROGRESS_STEP || n == total {
                last = n;
                progress.emit(ProgressMessage::bytes(id, "Pushing", n, total));
            }
        };
        let result = repo
            .upload_blob(
                &layer.digest,
                layer.size,
                &mut reader,
                location.take(),
                &mut report,
            )
            .await;
        match result {
            Ok(()) => break,
            Err(e) if attempt < attempts && is_transient(&e) => {
                tracing::info!(digest = %layer.digest, attempt, error = %e, "retrying layer upload");
                let delay = repo.session().config().upload_retry_delay * attempt;
                let secs = delay.as_millis().div_ceil(1000);
                let plural = if secs == 1 { "" } else { "s" };
                progress.emit(ProgressMessage::layer(
                    id,
                    format!("Retrying in {secs} second{plural}"),
                ));
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(e),
        }
    }
    progress.emit(ProgressMessage::layer(id, "Pushed"));
    Ok(())
}

/// Failures worth a fresh attempt: the transport, or the registry's own 5xx.
fn is_transient(e: &RegistryError) -> bool {
    match e {
        RegistryError::Http { .. } => true,
        other => other.status().is_some_and(|s| s >= 500),
    }
}

async fn read_all(source: &dyn BlobSource, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
    let mut r = source
        .open(digest)
        .map_err(|e| RegistryError::storage(format!("opening blob {digest}"), e))?;
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)
        .await
        .map_err(|e| RegistryError::storage(format!("reading blob {digest}"), e))?;
    Ok(buf)
}

fn diff_ids(config: &[u8]) -> Option<Vec<Digest>> {
    let v: serde_json::Value = serde_json::from_slice(config).ok()?;
    v.get("rootfs")?
        .get("diff_ids")?
        .as_array()?
        .iter()
        .map(|d| d.as_str()?.parse().ok())
        .collect()
}
