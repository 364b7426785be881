//! Blob upload: existence check, cross-repository mount, monolithic and chunked uploads.
//!
//! Registry 2.8.2 facts this code relies on (registry-build.md §1.6–1.7): a POST with `?digest=`
//! answers 202 and ignores the body (so the body goes in a PUT to the session); every answer
//! carries a new HMAC-signed `Location` and only the newest one is valid; `Content-Range` on PATCH
//! is not checked by 2.8.2, so the client checks the returned `Range` itself.

use crate::digest::{Digest, DigestHasher};
use crate::error::{from_response, RegistryError};
use crate::session::Repository;
use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Where pushed blobs come from; the storage crate implements it over its blob store.
pub trait BlobSource: Send + Sync {
    /// The stored (compressed) bytes of blob `digest`: layers, config.
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn AsyncRead + Send + Unpin>>;
}

/// Result of a cross-repository mount attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountResult {
    /// 201: the blob is now linked into this repository.
    Mounted,
    /// 202: the registry could not mount and opened an ordinary upload session instead.
    Upload(Url),
}

impl Repository {
    /// `HEAD /v2/<name>/blobs/<digest>`: the size if the blob is in this repository.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        let resp = self
            .session
            .send(&self.req(Method::HEAD, &format!("blobs/{digest}")))
            .await?;
        match resp.status() {
            // reqwest's content_length() is the (empty) body's size for HEAD: read the header.
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(from_response("HEAD", resp).await),
        }
    }

    /// `POST /v2/<name>/blobs/uploads/` → the session URL.
    pub async fn start_upload(&self) -> Result<Url, RegistryError> {
        let req = self
            .req(Method::POST, "blobs/uploads/")
            .header(CONTENT_LENGTH, "0");
        let resp = self.session.send_ok(&req).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(RegistryError::Protocol(format!(
                "upload POST answered {} instead of 202",
                resp.status()
            )));
        }
        self.session.resolve_location(&resp)
    }

    /// `POST …/uploads/?mount=<digest>&from=<repo>`; the token must also cover
    /// `repository:<from>:pull`.
    pub async fn mount_blob(
        &self,
        digest: &Digest,
        from: &str,
    ) -> Result<MountResult, RegistryError> {
        let mut req = self
            .req(Method::POST, "blobs/uploads/")
            .header(CONTENT_LENGTH, "0");
        req.url
            .query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
        req.scopes.push(crate::auth::repository_scope(from, false));
        let resp = self.session.send_ok(&req).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(MountResult::Mounted),
            StatusCode::ACCEPTED => Ok(MountResult::Upload(self.session.resolve_location(&resp)?)),
            s => Err(RegistryError::Protocol(format!("mount answered {s}"))),
        }
    }

    /// Monolithic upload in one request: `POST …/uploads/?digest=` with the body. A registry
    /// may answer 201 (done) or, like 2.8.2, 202 with a session and without storing anything:
    /// then the body is PUT to the session.
    pub async fn upload_blob_single_post(
        &self,
        digest: &Digest,
        body: Bytes,
    ) -> Result<(), RegistryError> {
        let mut req = self
            .req(Method::POST, "blobs/uploads/")
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body.clone());
        req.url
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        let resp = self.session.send_ok(&req).await?;
        match resp.status() {
            StatusCode::CREATED => check_created(&resp, digest),
            StatusCode::ACCEPTED => {
                let loc = self.session.resolve_location(&resp)?;
                self.finish_upload(loc, digest, body).await
            }
            s => Err(RegistryError::Protocol(format!("upload POST answered {s}"))),
        }
    }

    /// Uploads `size` bytes from `reader` as blob `digest`, into the session `location` (or a
    /// new one). Blobs up to `upload_chunk_size` go in one PUT (`POST` then `PUT ?digest=`);
    /// larger ones in PATCH chunks with `Content-Range`, then an empty PUT. The content is hashed
    /// on the way: a source that does not match `digest` fails before the final PUT.
    pub async fn upload_blob(
        &self,
        digest: &Digest,
        size: u64,
        reader: &mut (dyn AsyncRead + Send + Unpin),
        location: Option<Url>,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), RegistryError> {
        let mut location = match location {
            Some(l) => l,
            None => self.start_upload().await?,
        };
        let chunk_size = self.session.config().upload_chunk_size.max(1);
        let mut hasher = DigestHasher::new();
        let read_err = |e| RegistryError::storage(format!("reading blob {digest}"), e);
        if size <= chunk_size as u64 {
            let chunk = read_chunk(reader, size as usize).await.map_err(read_err)?;
            hasher.update(&chunk);
            self.check_source(hasher, digest, size, &location).await?;
            self.finish_upload(location, digest, chunk).await?;
            progress(size);
            return Ok(());
        }
        let mut offset = 0u64;
        while offset < size {
            let want = chunk_size.min((size - offset) as usize);
            let chunk = read_chunk(reader, want).await.map_err(read_err)?;
            if chunk.is_empty() {
                break;
            }
            hasher.update(&chunk);
            let end = offset + chunk.len() as u64 - 1;
            let req =
                crate::session::Req::new(Method::PATCH, location.clone(), vec![self.scope.clone()])
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(reqwest::header::CONTENT_RANGE, &format!("{offset}-{end}"))
                    .body(chunk);
            let resp = self.session.send_ok(&req).await?;
            // Registries are not all strict about Content-Range (2.8.2 appends blindly): check
            // that the registry holds exactly what we sent.
            let range_end = resp
                .headers()
                .get("range")
                .and_then(|v| v.to_str().ok())
                .and_then(|r| r.rsplit('-').next())
                .and_then(|e| e.trim().parse::<u64>().ok());
            if range_end.is_some_and(|e| e != end) {
                return Err(RegistryError::Protocol(format!(
                    "after PATCH {offset}-{end} the registry reports Range {range_end:?} for blob {digest}"
                )));
            }
            location = self.session.resolve_location(&resp)?;
            offset = end + 1;
            progress(offset);
        }
        self.check_source(hasher, digest, size, &location).await?;
        self.finish_upload(location, digest, Bytes::new()).await
    }

    async fn check_source(
        &self,
        hasher: DigestHasher,
        digest: &Digest,
        size: u64,
        location: &Url,
    ) -> Result<(), RegistryError> {
        let len = hasher.len();
        let actual = hasher.finish();
        if len == size && &actual == digest {
            return Ok(());
        }
        self.cancel_upload(location).await;
        if len != size {
            return Err(RegistryError::SizeMismatch {
                what: format!("local blob {digest}"),
                expected: size,
                actual: len,
            });
        }
        Err(RegistryError::DigestMismatch {
            what: format!("local blob {digest}"),
            expected: digest.clone(),
            actual,
        })
    }

    /// `PUT <location>&digest=<digest>` with the remaining bytes; expects 201.
    async fn finish_upload(
        &self,
        mut location: Url,
        digest: &Digest,
        body: Bytes,
    ) -> Result<(), RegistryError> {
        location
            .query_pairs_mut()
            .append_pair("digest", digest.as_str());
        let req = crate::session::Req::new(Method::PUT, location, vec![self.scope.clone()])
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body);
        let resp = self.session.send_ok(&req).await?;
        check_created(&resp, digest)
    }

    /// `DELETE <location>`: best effort, so an aborted push does not leave a session open.
    pub async fn cancel_upload(&self, location: &Url) {
        let req =
            crate::session::Req::new(Method::DELETE, location.clone(), vec![self.scope.clone()]);
        let _ = self.session.send(&req).await;
    }
}

fn check_created(resp: &reqwest::Response, digest: &Digest) -> Result<(), RegistryError> {
    if resp.status() != StatusCode::CREATED {
        return Err(RegistryError::Protocol(format!(
            "upload finished with {} instead of 201",
            resp.status()
        )));
    }
    match resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::parse::<Digest>)
    {
        Some(Ok(d)) if &d != digest => Err(RegistryError::DigestMismatch {
            what: "uploaded blob".into(),
            expected: digest.clone(),
            actual: d,
        }),
        _ => Ok(()),
    }
}

/// Reads up to `n` bytes (fewer only at EOF).
async fn read_chunk(reader: &mut (dyn AsyncRead + Send + Unpin), n: usize) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(n);
    (&mut *reader).take(n as u64).read_to_end(&mut buf).await?;
    Ok(Bytes::from(buf))
}
