//! `pull_image`: manifest (through a list if needed), config, then layers, 3 at a time.

use super::PROGRESS_STEP;
use crate::auth::Credentials;
use crate::blob::BlobSink;
use crate::client::RegistryClient;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{choose_platform, Descriptor, FetchedManifest, ParsedManifest};
use crate::media_types::{self as mt, ManifestKind};
use crate::mirror::pull_endpoints;
use crate::progress::{ProgressMessage, ProgressSink};
use crate::reference::ImageRef;
use crate::session::Repository;
use bytes::Bytes;
use futures_util::future::try_join_all;
use std::collections::HashSet;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// What a pull produced. Layers are in the caller's sink; manifests and config are returned
/// as exact bytes (their digests are of these bytes).
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// `host[:port]` the image came from (a mirror or the origin).
    pub endpoint: String,
    /// The repository digest Docker records in `RepoDigests`: the list/index digest when the
    /// reference pointed at one, else the manifest digest.
    pub repo_digest: Digest,
    /// The manifest list / OCI index, when there was one.
    pub index: Option<FetchedManifest>,
    /// The platform's image manifest.
    pub manifest: FetchedManifest,
    pub config_digest: Digest,
    pub config: Bytes,
    /// Layer descriptors in manifest order (compressed digests).
    pub layers: Vec<Descriptor>,
    /// Layers that were downloaded now (the others were already in the sink).
    pub downloaded: Vec<Digest>,
}

impl RegistryClient {
    /// Pulls `image` for the configured platform: manifest (through a list if needed), config,
    /// and every layer not already in `sink`. `mirrors` are tried first for Docker Hub images.
    pub async fn pull_image(
        &self,
        image: &ImageRef,
        credentials: Credentials,
        mirrors: &[String],
        sink: &dyn BlobSink,
        progress: &dyn ProgressSink,
    ) -> Result<PulledImage, RegistryError> {
        self.pull_inner(image, credentials, mirrors, sink, progress)
            .await
            .map_err(|e| e.into_pull_error(&image.familiar_name(), &image.familiar_string()))
    }

    async fn pull_inner(
        &self,
        image: &ImageRef,
        credentials: Credentials,
        mirrors: &[String],
        sink: &dyn BlobSink,
        progress: &dyn ProgressSink,
    ) -> Result<PulledImage, RegistryError> {
        let endpoints = pull_endpoints(&image.registry, mirrors)
            .map_err(|e| RegistryError::Config(e.to_string()))?;
        let mut resolved = None;
        let mut last_err = None;
        for ep in &endpoints {
            let attempt = async {
                let session = self.session(ep, credentials.clone()).await?;
                let repo = session.repository(&image.repository, false);
                let (index, manifest) =
                    resolve_manifest(self, &repo, &image.manifest_reference()).await?;
                Ok::<_, RegistryError>((repo, index, manifest))
            };
            match attempt.await {
                Ok(r) => {
                    resolved = Some(r);
                    break;
                }
                Err(e) if ep.mirror => {
                    tracing::warn!(mirror = %ep.host, error = %e, "mirror failed, trying the next endpoint");
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        let (repo, index, manifest) =
            resolved.ok_or_else(|| last_err.expect("an endpoint was tried"))?;
        let ParsedManifest::Image(parsed) = manifest.parse()? else {
            return Err(RegistryError::InvalidManifest {
                what: manifest.digest.to_string(),
                reason: "expected an image manifest".into(),
            });
        };
        let tag_or_digest = image
            .tag
            .clone()
            .unwrap_or_else(|| image.manifest_reference());
        progress.emit(ProgressMessage {
            id: Some(tag_or_digest),
            ..ProgressMessage::status(format!("Pulling from {}", image.repository))
        });

        let config = repo
            .fetch_blob_bytes(&parsed.config.digest, Some(parsed.config.size))
            .await?;

        let mut seen = HashSet::new();
        let mut todo = Vec::new();
        for l in &parsed.layers {
            if !seen.insert(l.digest.clone()) {
                continue;
            }
            if sink.contains(&l.digest) {
                progress.emit(ProgressMessage::layer(l.digest.short(), "Already exists"));
            } else {
                progress.emit(ProgressMessage::layer(l.digest.short(), "Pulling fs layer"));
                todo.push(l.clone());
            }
        }
        let limit = Semaphore::new(self.config().max_concurrent_downloads.max(1));
        let jobs = todo
            .iter()
            .map(|l| download_layer(&repo, l, sink, progress, &limit));
        try_join_all(jobs).await?;

        let repo_digest = index
            .as_ref()
            .map(|i| i.digest.clone())
            .unwrap_or_else(|| manifest.digest.clone());
        progress.emit(ProgressMessage::status(format!("Digest: {repo_digest}")));
        Ok(PulledImage {
            endpoint: repo.session().host().to_string(),
            repo_digest,
            index,
            config_digest: parsed.config.digest.clone(),
            config,
            layers: parsed.layers,
            downloaded: todo.into_iter().map(|l| l.digest).collect(),
            manifest,
        })
    }
}

/// Fetches the manifest for `reference`; a list/index is resolved to the configured platform.
async fn resolve_manifest(
    client: &RegistryClient,
    repo: &Repository,
    reference: &str,
) -> Result<(Option<FetchedManifest>, FetchedManifest), RegistryError> {
    let top = repo.get_manifest(reference).await?;
    match top.parse()? {
        ParsedManifest::Image(_) => Ok((None, top)),
        ParsedManifest::Index(index) => {
            let child = choose_platform(&index, &client.config().platform)?;
            if mt::manifest_kind(&child.media_type) != Some(ManifestKind::Image) {
                return Err(RegistryError::UnsupportedMediaType {
                    what: format!("manifest {} in list {}", child.digest, top.digest),
                    media_type: child.media_type.clone(),
                });
            }
            let m = repo.get_manifest(child.digest.as_str()).await?;
            if m.kind() != Some(ManifestKind::Image) {
                return Err(RegistryError::InvalidManifest {
                    what: m.digest.to_string(),
                    reason: "a list entry must be an image manifest".into(),
                });
            }
            Ok((Some(top), m))
        }
    }
}

async fn download_layer(
    repo: &Repository,
    layer: &Descriptor,
    sink: &dyn BlobSink,
    progress: &dyn ProgressSink,
    limit: &Semaphore,
) -> Result<(), RegistryError> {
    let id = layer.digest.short();
    let _permit = super::slot(limit, id, progress).await;
    let mut writer = sink
        .create(layer)
        .map_err(|e| RegistryError::storage(format!("creating blob {}", layer.digest), e))?;
    let total = layer.size;
    let mut last = 0u64;
    let mut report = |n: u64| {
        if n - last >= PROGRESS_STEP || n == total {
            last = n;
            progress.emit(ProgressMessage::bytes(id, "Downloading", n, total));
        }
    };
    repo.fetch_blob(&layer.digest, Some(layer.size), &mut writer, &mut report)
        .await?;
    progress.emit(ProgressMessage::layer(id, "Verifying Checksum"));
    writer
        .shutdown()
        .await
        .map_err(|e| RegistryError::storage(format!("closing blob {}", layer.digest), e))?;
    writer
        .commit()
        .map_err(|e| RegistryError::storage(format!("committing blob {}", layer.digest), e))?;
    progress.emit(ProgressMessage::layer(id, "Download complete"));
    Ok(())
}
