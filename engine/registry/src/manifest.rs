//! Manifests: fetch by tag or digest (always with the full `Accept` set), verify, classify,
//! choose a platform from a list/index, and PUT.

use crate::digest::Digest;
use crate::error::{from_response, RegistryError};
use crate::media_types::{self as mt, ManifestKind};
use crate::session::Repository;
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::platform::{choose_platform, Platform};

/// Manifests larger than this are refused (containerd uses the same bound): a hostile registry
/// must not make us buffer gigabytes.
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Docker schema2 or OCI image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// Docker manifest list or OCI index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageIndex {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

// Parsed once per pull; boxing the bigger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ParsedManifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// A manifest exactly as received: its bytes are never re-serialised (the digest is of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub bytes: Bytes,
    pub digest: Digest,
    pub media_type: String,
}

/// What `HEAD` tells about a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: Option<Digest>,
    pub media_type: String,
    pub size: Option<u64>,
}

impl FetchedManifest {
    pub fn kind(&self) -> Option<ManifestKind> {
        mt::manifest_kind(&self.media_type)
    }

    pub fn parse(&self) -> Result<ParsedManifest, RegistryError> {
        let what = self.digest.to_string();
        let invalid = |e: serde_json::Error| RegistryError::InvalidManifest {
            what: what.clone(),
            reason: e.to_string(),
        };
        match self.kind() {
            Some(ManifestKind::Image) => {
                let m: ImageManifest = serde_json::from_slice(&self.bytes).map_err(invalid)?;
                if m.schema_version != 2 {
                    return Err(RegistryError::InvalidManifest {
                        what,
                        reason: format!("schemaVersion {}", m.schema_version),
                    });
                }
                if !mt::is_config(&m.config.media_type) {
                    return Err(RegistryError::UnsupportedMediaType {
                        what: format!("config {}", m.config.digest),
                        media_type: m.config.media_type,
                    });
                }
                if let Some(l) = m.layers.iter().find(|l| !mt::is_layer(&l.media_type)) {
                    return Err(RegistryError::UnsupportedMediaType {
                        what: format!("layer {}", l.digest),
                        media_type: l.media_type.clone(),
                    });
                }
                Ok(ParsedManifest::Image(m))
            }
            Some(ManifestKind::Index) => Ok(ParsedManifest::Index(
                serde_json::from_slice(&self.bytes).map_err(invalid)?,
            )),
            None => Err(RegistryError::UnsupportedMediaType {
                what: format!("manifest {what}"),
                media_type: self.media_type.clone(),
            }),
        }
    }
}

/// The media type of a received manifest: the Content-Type when it names a manifest type,
/// else the body's `mediaType`, else the OCI shape (OCI allows omitting `mediaType`).
fn effective_media_type(content_type: &str, body: &[u8]) -> String {
    let ct = mt::bare(content_type);
    let generic = matches!(
        ct,
        "" | "application/json" | "text/plain" | "application/octet-stream" | "binary/octet-stream"
    );
    if !generic {
        return ct.to_string();
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        #[serde(rename = "schemaVersion")]
        schema_version: Option<u32>,
        manifests: Option<serde_json::Value>,
        layers: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(body) {
        Ok(p) => match p.media_type {
            Some(m) => m,
            None if p.schema_version == Some(1) => mt::DOCKER_MANIFEST_V1.to_string(),
            None if p.manifests.is_some() => mt::OCI_INDEX.to_string(),
            None if p.layers.is_some() => mt::OCI_MANIFEST.to_string(),
            None => ct.to_string(),
        },
        Err(_) => ct.to_string(),
    }
}

impl Repository {
    /// `HEAD /v2/<name>/manifests/<reference>`: tag → digest without downloading.
    pub async fn head_manifest(&self, reference: &str) -> Result<ManifestHead, RegistryError> {
        let req = self
            .req(Method::HEAD, &format!("manifests/{reference}"))
            .header(ACCEPT, mt::MANIFEST_ACCEPT);
        let resp = self.session.send(&req).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(RegistryError::Api {
                status: 404,
                errors: vec![crate::error::ApiError::new(
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                )],
            });
        }
        if !resp.status().is_success() {
            return Err(from_response("HEAD", resp).await);
        }
        let h = resp.headers();
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
        Ok(ManifestHead {
            digest: get("docker-content-digest").and_then(|d| d.parse().ok()),
            media_type: mt::bare(get("content-type").unwrap_or("")).to_string(),
            size: get("content-length").and_then(|s| s.parse().ok()),
        })
    }

    /// `GET /v2/<name>/manifests/<reference>`. The body is checked against the requested digest
    /// (by digest) or the `Docker-Content-Digest` header (by tag).
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, RegistryError> {
        let req = self
            .req(Method::GET, &format!("manifests/{reference}"))
            .header(ACCEPT, mt::MANIFEST_ACCEPT);
        let resp = self.session.send_ok(&req).await?;
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let url = resp.url().to_string();
        if resp
            .content_length()
            .is_some_and(|l| l > MAX_MANIFEST_SIZE as u64)
        {
            return Err(RegistryError::InvalidManifest {
                what: reference.into(),
                reason: "larger than 4 MiB".into(),
            });
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| crate::error::transport("GET", &url, e))?;
            body.extend_from_slice(&chunk);
            if body.len() > MAX_MANIFEST_SIZE {
                return Err(RegistryError::InvalidManifest {
                    what: reference.into(),
                    reason: "larger than 4 MiB".into(),
                });
            }
        }
        let actual = Digest::of(&body);
        let expected: Option<Digest> = match reference.parse::<Digest>() {
            Ok(d) => Some(d),
            Err(_) => match header_digest {
                // A header we cannot parse (another algorithm) is not a reason to fail a tag pull.
                Some(h) => h.parse().ok(),
                None => None,
            },
        };
        if let Some(exp) = expected {
            if exp != actual {
                return Err(RegistryError::ManifestVerification {
                    expected: exp,
                    actual,
                });
            }
        }
        let media_type = effective_media_type(&content_type, &body);
        if mt::manifest_kind(&media_type).is_none() {
            return Err(RegistryError::UnsupportedMediaType {
                what: format!("manifest {reference}"),
                media_type,
            });
        }
        Ok(FetchedManifest {
            bytes: Bytes::from(body),
            digest: actual,
            media_type,
        })
    }

    /// `PUT /v2/<name>/manifests/<reference>` with the exact bytes and their media type. Returns
    /// the digest after checking the registry computed the same one.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        let req = self
            .req(Method::PUT, &format!("manifests/{reference}"))
            .header(CONTENT_TYPE, media_type)
            .body(bytes);
        let resp = self.session.send_ok(&req).await?;
        if let Some(h) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            if let Ok(d) = h.parse::<Digest>() {
                if d != digest {
                    return Err(RegistryError::DigestMismatch {
                        what: format!("pushed manifest {reference}"),
                        expected: digest,
                        actual: d,
                    });
                }
            }
        }
        Ok(digest)
    }
}

impl Repository {
    /// `DELETE /v2/<name>/manifests/<digest>` (needs `storage.delete.enabled` on the registry;
    /// 405 `UNSUPPORTED` otherwise). A tag is first resolved with HEAD: registry 2.8 cannot
    /// delete by tag, and deleting the digest removes every tag pointing at it.
    pub async fn delete_manifest(&self, reference: &str) -> Result<Digest, RegistryError> {
        let digest = match reference.parse::<Digest>() {
            Ok(d) => d,
            Err(_) => self.head_manifest(reference).await?.digest.ok_or_else(|| {
                RegistryError::Protocol(format!(
                    "HEAD of manifest {reference} gave no Docker-Content-Digest"
                ))
            })?,
        };
        let mut req = self.req(Method::DELETE, &format!("manifests/{digest}"));
        req.scopes.push(format!("repository:{}:delete", self.name));
        self.session.send_ok(&req).await?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_fallbacks() {
        assert_eq!(
            effective_media_type("application/vnd.oci.image.index.v1+json; charset=x", b"{}"),
            mt::OCI_INDEX
        );
        assert_eq!(
            effective_media_type("application/json", br#"{"schemaVersion":2,"layers":[]}"#),
            mt::OCI_MANIFEST
        );
        assert_eq!(
            effective_media_type("text/plain", br#"{"schemaVersion":2,"mediaType":"x/y"}"#),
            "x/y"
        );
        assert_eq!(
            effective_media_type(mt::DOCKER_MANIFEST_V1_SIGNED, br#"{"schemaVersion":1}"#),
            mt::DOCKER_MANIFEST_V1_SIGNED
        );
        assert_eq!(
            effective_media_type("application/json", br#"{"schemaVersion":1}"#),
            mt::DOCKER_MANIFEST_V1
        );
    }
}
