//! Blob download: streamed into a caller's writer, hashed on the way, resumed with `Range`
//! after a dropped connection, redirects followed by [`crate::session::Session`].
//!
//! Nothing is committed by this module: the caller's [`BlobWriter`] is only committed by the
//! transfer code once the digest matched, and dropped (discarding its data) otherwise.

use crate::digest::{Digest, DigestHasher};
use crate::error::{from_response, RegistryError};
use crate::manifest::Descriptor;
use crate::session::Repository;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};
use std::io;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Where pulled layers go; the storage crate implements it over its blob/layer store.
pub trait BlobSink: Send + Sync {
    /// Already stored (verified earlier)? Then the pull skips it (`Already exists`).
    fn contains(&self, digest: &Digest) -> bool;
    /// A fresh writer for `descriptor`'s content (e.g. a temp file). Dropping it without
    /// [`BlobWriter::commit`] must discard what was written.
    fn create(&self, descriptor: &Descriptor) -> io::Result<Box<dyn BlobWriter>>;
}

/// A temporary blob being written.
pub trait BlobWriter: AsyncWrite + Send + Unpin {
    /// Called once, after every byte was written, flushed and the digest verified: make the
    /// blob visible (rename into place).
    fn commit(self: Box<Self>) -> io::Result<()>;
}

impl Repository {
    /// Streams blob `digest` into `out`, verifying its sha256 (and `size` when known). A dropped
    /// connection resumes with `Range: bytes=<n>-` up to `download_attempts` times; a registry
    /// that ignores Range (200 instead of 206) is handled by skipping what we already have.
    /// `progress` gets the byte count so far. Returns the number of bytes written.
    pub async fn fetch_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
        out: &mut (dyn AsyncWrite + Send + Unpin),
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, RegistryError> {
        let attempts = self.session.config().download_attempts.max(1);
        // Network chunks are 8–16 KiB; writing each one to a tokio file is a blocking-pool
        // round trip. Batched into 1 MiB writes the disk keeps up with the socket.
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, out);
        let out = &mut out;
        let mut hasher = DigestHasher::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let offset = hasher.len();
            let mut req = self.req(Method::GET, &format!("blobs/{digest}"));
            if offset > 0 {
                req = req.header(RANGE, &format!("bytes={offset}-"));
            }
            let failure = match self.session.send(&req).await {
                Err(e @ RegistryError::Http { .. }) => e.to_string(),
                Err(e) => return Err(e),
                Ok(resp) => {
                    let mut skip = 0u64;
                    match resp.status() {
                        StatusCode::OK => skip = offset,
                        StatusCode::PARTIAL_CONTENT => {
                            let start = resp
                                .headers()
                                .get(CONTENT_RANGE)
                                .and_then(|v| v.to_str().ok())
                                .and_then(parse_content_range_start);
                            if start != Some(offset) {
                                return Err(RegistryError::Protocol(format!(
                                    "asked for bytes from {offset} of {digest}, got Content-Range {:?}",
                                    resp.headers().get(CONTENT_RANGE)
                                )));
                            }
                        }
                        s if s.is_success() => {
                            return Err(RegistryError::Protocol(format!(
                                "unexpected status {s} for blob {digest}"
                            )))
                        }
                        _ => return Err(from_response("GET", resp).await),
                    }
                    let mut stream = resp.bytes_stream();
                    let mut broke = None;
                    while let Some(chunk) = stream.next().await {
                        match chunk {
                            Ok(mut bytes) => {
                                if skip > 0 {
                                    let n = skip.min(bytes.len() as u64);
                                    skip -= n;
                                    bytes = bytes.slice(n as usize..);
                                }
                                write_chunk(&mut hasher, out, bytes, digest, size).await?;
                                progress(hasher.len());
                            }
                            Err(e) => {
                                broke = Some(
                                    crate::error::transport("GET", req.url.as_str(), e).to_string(),
                                );
                                break;
                            }
                        }
                    }
                    match (broke, size) {
                        (Some(why), _) => why,
                        // A clean EOF before the announced size: the connection was cut between
                        // chunks of an unsized (chunked) response.
                        (None, Some(s)) if hasher.len() < s => {
                            format!("connection closed after {} of {s} bytes", hasher.len())
                        }
                        (None, _) => break,
                    }
                }
            };
            if attempt >= attempts {
                return Err(RegistryError::DownloadFailed {
                    digest: digest.clone(),
                    attempts: attempt,
                    last: failure,
                });
            }
            tracing::info!(%digest, offset = hasher.len(), attempt, %failure, "resuming blob download");
            tokio::time::sleep(self.session.config().retry_delay).await;
        }
        out.flush()
            .await
            .map_err(|e| RegistryError::storage(format!("writing blob {digest}"), e))?;
        let len = hasher.len();
        if let Some(s) = size {
            if len != s {
                return Err(RegistryError::SizeMismatch {
                    what: format!("blob {digest}"),
                    expected: s,
                    actual: len,
                });
            }
        }
        let actual = hasher.finish();
        if &actual != digest {
            return Err(RegistryError::BlobVerification {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(len)
    }

    /// A small blob (an image config) into memory, verified.
    pub async fn fetch_blob_bytes(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Bytes, RegistryError> {
        let mut buf: Vec<u8> = Vec::new();
        self.fetch_blob(digest, size, &mut buf, &mut |_| {}).await?;
        Ok(Bytes::from(buf))
    }
}

/// Bytes gathered before a write reaches the caller's writer.
const WRITE_BUFFER: usize = 1 << 20;

async fn write_chunk(
    hasher: &mut DigestHasher,
    out: &mut (dyn AsyncWrite + Send + Unpin),
    bytes: Bytes,
    digest: &Digest,
    size: Option<u64>,
) -> Result<(), RegistryError> {
    if bytes.is_empty() {
        return Ok(());
    }
    // An endless or oversized answer is cut as soon as it passes the descriptor's size.
    if let Some(s) = size {
        if hasher.len() + bytes.len() as u64 > s {
            return Err(RegistryError::SizeMismatch {
                what: format!("blob {digest}"),
                expected: s,
                actual: hasher.len() + bytes.len() as u64,
            });
        }
    }
    hasher.update(&bytes);
    out.write_all(&bytes)
        .await
        .map_err(|e| RegistryError::storage(format!("writing blob {digest}"), e))
}

/// `bytes 100-199/1000` → 100.
fn parse_content_range_start(v: &str) -> Option<u64> {
    v.trim()
        .strip_prefix("bytes")?
        .trim()
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_range() {
        assert_eq!(
            super::parse_content_range_start("bytes 100-199/1000"),
            Some(100)
        );
        assert_eq!(super::parse_content_range_start("bytes 0-9/*"), Some(0));
        assert_eq!(super::parse_content_range_start("items 1-2"), None);
    }
}
