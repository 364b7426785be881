//! berth's registry client: Distribution API v2 / OCI, written out by hand so the protocol can
//! be read (and taught) in one place.
//!
//! # Layers of the API
//! - [`RegistryClient`]: configuration (insecure registries, CAs, platform, concurrency) and a
//!   shared token cache. [`RegistryClient::session`] pings an endpoint (`GET /v2/`) and learns
//!   its auth scheme; [`RegistryClient::login`] is `docker login`.
//! - [`Session`] (one endpoint + credentials): [`Session::catalog`], [`Session::repository`].
//! - [`Repository`]: manifests (`get_manifest`, `head_manifest`, `put_manifest`,
//!   `delete_manifest`), blobs (`fetch_blob`, `blob_exists`, `upload_blob`,
//!   `upload_blob_single_post`, `mount_blob`), `list_tags`.
//! - [`RegistryClient::pull_image`] / [`RegistryClient::push_image`]: whole images, parallel
//!   (3 downloads / 5 uploads), with Docker-shaped [`ProgressMessage`]s.
//! - [`AuthConfig`]: Docker's `X-Registry-Auth` / config.json entry → [`Credentials`].
//! - Errors: [`RegistryError`], worded like Docker (`manifest unknown: manifest unknown`,
//!   `pull access denied for …`, `filesystem layer verification failed for digest …`).
//!
//! # Not here
//! Extraction (`Extracting` / `Pull complete` lines, diff_id checks), the `Status: …` line,
//! config.json storage and `search` (catalog + filter) belong to storage and the daemon.
//!
//! # Seams the storage crate implements
//! - [`BlobSink`] (pull): `contains(digest)` lets a pull skip layers already stored
//!   (`Already exists`); `create(descriptor)` returns a [`BlobWriter`] (an `AsyncWrite`, e.g. a
//!   temp file) that the pull fills and commits **only after** the sha256 and size matched. A
//!   writer dropped without `commit` must discard its data: a failed pull leaves nothing behind.
//!   Verifying `diff_ids` (uncompressed digests) is the storage side's job while extracting.
//! - [`BlobSource`] (push): `open(digest)` returns the stored bytes of the config or a layer.
//!   [`PushRequest::mount_from`] carries storage's "this blob is known in repository X of this
//!   registry" metadata (`v2metadata-by-diffid`) for cross-repository mounts.
//! - [`ProgressSink`]: receives progress lines; implemented for an unbounded tokio channel.
//!
//! # References
//! Docker's reference parsing lives in berth-storage. This crate takes an [`ImageRef`]
//! (registry host, repository path, tag and/or digest); the daemon maps storage's parsed
//! reference to it. `docker.io` is mapped to `registry-1.docker.io` and `registry-mirrors` are
//! applied by [`mirror::pull_endpoints`], a pure function.

pub mod auth;
pub mod blob;
pub mod catalog;
pub mod challenge;
pub mod client;
pub mod config;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod media_types;
pub mod mirror;
pub mod platform;
pub mod progress;
pub mod reference;
pub mod session;
pub mod transfer;
pub mod upload;

pub use auth::auth_config::AuthConfig;
pub use auth::Credentials;
pub use blob::{BlobSink, BlobWriter};
pub use client::{AuthScheme, LoginOutcome, RegistryClient};
pub use config::ClientConfig;
pub use digest::Digest;
pub use error::{ApiError, RegistryError};
pub use manifest::{
    Descriptor, FetchedManifest, ImageIndex, ImageManifest, ParsedManifest, Platform,
};
pub use progress::{ProgressMessage, ProgressSink};
pub use reference::ImageRef;
pub use session::{Repository, Session};
pub use transfer::{PulledImage, PushRequest, PushedImage};
pub use upload::{BlobSource, MountResult};
