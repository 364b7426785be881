//! Whole-image transfers: `pull_image` and `push_image`, with Docker's concurrency limits
//! (3 downloads, 5 uploads) and Docker's progress lines.
//!
//! Pull ends at `Download complete` per layer and a final `Digest: …` line; extraction
//! (`Extracting`, `Pull complete`) and the `Status: …` line belong to the storage/daemon side,
//! which knows whether the image is new.

use crate::auth::Credentials;
use crate::blob::BlobSink;
use crate::client::RegistryClient;
use crate::session::Repository;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{choose_platform, Descriptor, FetchedManifest, ParsedManifest};
use crate::media_types::{self as mt, ManifestKind};
use crate::mirror::{pull_endpoints, push_endpoint};
use crate::progress::{ProgressMessage, ProgressSink};
use crate::reference::ImageRef;
use crate::upload::{BlobSource, MountResult};
use bytes::Bytes;
use futures_util::future::try_join_all;
use std::collections::{HashMap, HashSet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// Emit a `Downloading`/`Pushing` line at most every this many bytes (and at the end).
const PROGRESS_STEP: u64 = 512 * 1024;

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
        let endpoints = pull_endpoints(&image.registry, mirrors).map_err(|e| RegistryError::Config(e.to_string()))?;
        let mut resolved = None;
        let mut last_err = None;
        for ep in &endpoints {
            let attempt = async {
                let session = self.session(ep, credentials.clone()).await?;
                let repo = session.repository(&image.repository, false);
                let (index, manifest) = resolve_manifest(self, &repo, &image.manifest_reference()).await?;
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
        let (repo, index, manifest) = resolved.ok_or_else(|| last_err.expect("an endpoint was tried"))?;
        let ParsedManifest::Image(parsed) = manifest.parse()? else {
            return Err(RegistryError::InvalidManifest { what: manifest.digest.to_string(), reason: "expected an image manifest".into() });
        };
        let tag_or_digest = image.tag.clone().unwrap_or_else(|| image.manifest_reference());
        progress.emit(ProgressMessage { id: Some(tag_or_digest), ..ProgressMessage::status(format!("Pulling from {}", image.repository)) });

        let config = repo.fetch_blob_bytes(&parsed.config.digest, Some(parsed.config.size)).await?;

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
        let jobs = todo.iter().map(|l| download_layer(&repo, l, sink, progress, &limit));
        try_join_all(jobs).await?;

        let repo_digest = index.as_ref().map(|i| i.digest.clone()).unwrap_or_else(|| manifest.digest.clone());
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

    /// Pushes one image manifest (Docker schema2 or OCI) with its config and layers to
    /// `image` (its tag, or by digest when it has none), like `docker push`.
    pub async fn push_image(
        &self,
        image: &ImageRef,
        credentials: Credentials,
        req: PushRequest<'_>,
        progress: &dyn ProgressSink,
    ) -> Result<PushedImage, RegistryError> {
        let fetched = FetchedManifest { digest: Digest::of(&req.manifest), bytes: req.manifest.clone(), media_type: req.media_type.clone() };
        if fetched.kind() != Some(ManifestKind::Image) {
            return Err(RegistryError::UnsupportedMediaType { what: "pushed manifest".into(), media_type: req.media_type });
        }
        let ParsedManifest::Image(parsed) = fetched.parse()? else { unreachable!("kind checked") };
        // The registry rejects a Content-Type that differs from the body's mediaType with a bare
        // "manifest invalid"; say what is wrong before uploading anything.
        if let Some(body_mt) = parsed.media_type.as_deref().filter(|m| *m != req.media_type) {
            return Err(RegistryError::InvalidManifest {
                what: fetched.digest.to_string(),
                reason: format!("mediaType {body_mt:?} in the body but pushed as {:?}", req.media_type),
            });
        }
        progress.emit(ProgressMessage::status(format!("The push refers to repository [{}]", image.full_name())));
        let session = self.session(&push_endpoint(&image.registry), credentials).await?;
        let repo = session.repository(&image.repository, true);

        // Docker's push ids are diffIDs; read them from the config (index-aligned with layers).
        let config = read_all(req.source, &parsed.config.digest).await?;
        let diff_ids = diff_ids(&config).filter(|d| d.len() == parsed.layers.len());
        let ids: Vec<String> = parsed
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| diff_ids.as_ref().map(|d| d[i].short().to_string()).unwrap_or_else(|| l.digest.short().to_string()))
            .collect();
        let mut seen = HashSet::new();
        let layers: Vec<(&Descriptor, &str)> =
            parsed.layers.iter().zip(ids.iter().map(String::as_str)).filter(|(l, _)| seen.insert(l.digest.clone())).collect();
        for (_, id) in &layers {
            progress.emit(ProgressMessage::layer(id, "Preparing"));
        }
        let limit = Semaphore::new(self.config().max_concurrent_uploads.max(1));
        let jobs = layers.iter().map(|(l, id)| push_layer(&repo, l, id, &req, progress, &limit));
        try_join_all(jobs).await?;

        if repo.blob_exists(&parsed.config.digest).await?.is_none() {
            let mut cursor: &[u8] = &config;
            repo.upload_blob(&parsed.config.digest, parsed.config.size, &mut cursor, None, &mut |_| {}).await?;
        }
        let reference = image.tag.clone().unwrap_or_else(|| fetched.digest.to_string());
        let digest = repo.put_manifest(&reference, &req.media_type, req.manifest.clone()).await?;
        let size = req.manifest.len();
        progress.emit(ProgressMessage::status(format!("{reference}: digest: {digest} size: {size}")));
        progress.emit(ProgressMessage {
            progress_detail: Some(Default::default()),
            aux: Some(serde_json::json!({"Tag": reference, "Digest": digest.to_string(), "Size": size})),
            ..Default::default()
        });
        Ok(PushedImage { digest, size })
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
                return Err(RegistryError::InvalidManifest { what: m.digest.to_string(), reason: "a list entry must be an image manifest".into() });
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
    let _permit = match limit.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            progress.emit(ProgressMessage::layer(id, "Waiting"));
            limit.acquire().await.expect("semaphore is never closed")
        }
    };
    let mut writer = sink.create(layer).map_err(|e| RegistryError::storage(format!("creating blob {}", layer.digest), e))?;
    let total = layer.size;
    let mut last = 0u64;
    let mut report = |n: u64| {
        if n - last >= PROGRESS_STEP || n == total {
            last = n;
            progress.emit(ProgressMessage::bytes(id, "Downloading", n, total));
        }
    };
    repo.fetch_blob(&layer.digest, Some(layer.size), &mut writer, &mut report).await?;
    progress.emit(ProgressMessage::layer(id, "Verifying Checksum"));
    writer.shutdown().await.map_err(|e| RegistryError::storage(format!("closing blob {}", layer.digest), e))?;
    writer.commit().map_err(|e| RegistryError::storage(format!("committing blob {}", layer.digest), e))?;
    progress.emit(ProgressMessage::layer(id, "Download complete"));
    Ok(())
}

async fn push_layer(
    repo: &Repository,
    layer: &Descriptor,
    id: &str,
    req: &PushRequest<'_>,
    progress: &dyn ProgressSink,
    limit: &Semaphore,
) -> Result<(), RegistryError> {
    let _permit = match limit.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            progress.emit(ProgressMessage::layer(id, "Waiting"));
            limit.acquire().await.expect("semaphore is never closed")
        }
    };
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
    let mut reader = req
        .source
        .open(&layer.digest)
        .map_err(|e| RegistryError::storage(format!("opening blob {}", layer.digest), e))?;
    let total = layer.size;
    let mut last = 0u64;
    let mut report = |n: u64| {
        if n - last >= PROGRESS_STEP || n == total {
            last = n;
            progress.emit(ProgressMessage::bytes(id, "Pushing", n, total));
        }
    };
    repo.upload_blob(&layer.digest, layer.size, &mut reader, location, &mut report).await?;
    progress.emit(ProgressMessage::layer(id, "Pushed"));
    Ok(())
}

async fn read_all(source: &dyn BlobSource, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
    let mut r = source.open(digest).map_err(|e| RegistryError::storage(format!("opening blob {digest}"), e))?;
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).await.map_err(|e| RegistryError::storage(format!("reading blob {digest}"), e))?;
    Ok(buf)
}

fn diff_ids(config: &[u8]) -> Option<Vec<Digest>> {
    let v: serde_json::Value = serde_json::from_slice(config).ok()?;
    v.get("rootfs")?.get("diff_ids")?.as_array()?.iter().map(|d| d.as_str()?.parse().ok()).collect()
}
