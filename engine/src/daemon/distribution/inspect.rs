//! `GET /distribution/{name}/json` (docker-py `inspect_distribution`): the manifest descriptor
//! of a remote image and the platforms it is for, read from the registry as moby's
//! `getDistributionInfo` does (Docker 20.10):
//!
//! * the name is parsed as Docker's `ParseAnyReference`: a full image ID is refused
//!   (`no manifest found for full image ID`, 500), a bad name is 400;
//! * by tag (`latest` when none): the manifest is fetched by tag; by digest: by digest. The
//!   descriptor is its media type, its digest (of the bytes received) and its size;
//! * a manifest list / OCI index gives one platform per entry; an image manifest gives the
//!   platform in its config blob (`architecture`, `os`, `variant`, `os.version`,
//!   `os.features`), or none (`Platforms: null`) when the config can't be read;
//! * `registry-mirrors` are tried first for Docker Hub images, as for a pull; credentials are
//!   the request's `X-Registry-Auth`;
//! * registry errors keep the registry's text (`manifest unknown: manifest unknown`) and get
//!   the status of its error code (moby `statusCodeFromDistributionError`: 404 for
//!   MANIFEST_UNKNOWN / NAME_UNKNOWN, 401 UNAUTHORIZED, 403 DENIED …); transport failures are
//!   500 `Get "https://…": …`.

use berth_registry::media_types::ManifestKind;
use berth_registry::mirror::pull_endpoints;
use berth_registry::{Credentials, FetchedManifest, RegistryError, Repository};
use berth_storage::reference::{parse_any, AnyReference};
use serde::{Deserialize, Serialize};

use super::{image_ref, registry_client, DistributionError};
use crate::daemon::config::DaemonConfig;

/// `registrytypes.DistributionInspect`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionInspect {
    pub descriptor: Descriptor,
    /// `null` when no platform is known (as Docker's nil slice).
    pub platforms: Option<Vec<Platform>>,
}

/// The part of an OCI descriptor Docker fills in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// OCI `v1.Platform`, in its field order; also read from an image config's top level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// HTTP status for an error of [`inspect`] (see the module docs).
pub fn status(e: &DistributionError) -> u16 {
    match e {
        DistributionError::Registry(RegistryError::Api { errors, .. }) => match errors.first().map(|e| e.code.as_str()) {
            Some("UNAUTHORIZED") => 401,
            Some("DENIED") => 403,
            Some("MANIFEST_UNKNOWN" | "NAME_UNKNOWN" | "BLOB_UNKNOWN" | "MANIFEST_BLOB_UNKNOWN") => 404,
            Some("NAME_INVALID" | "TAG_INVALID" | "MANIFEST_INVALID" | "DIGEST_INVALID" | "SIZE_INVALID" | "BLOB_UPLOAD_INVALID") => 400,
            Some("UNSUPPORTED") => 405,
            Some("TOOMANYREQUESTS") => 429,
            _ => 500,
        },
        DistributionError::Invalid(_) => 400,
        DistributionError::Storage(e) if e.kind() == berth_storage::ErrorKind::InvalidInput => 400,
        _ => 500,
    }
}

/// See the module docs.
pub async fn inspect(cfg: &DaemonConfig, name: &str, credentials: Credentials) -> Result<DistributionInspect, DistributionError> {
    let reference = match parse_any(name)? {
        AnyReference::Id(_) => return Err(DistributionError::Internal("no manifest found for full image ID".into())),
        AnyReference::Named(r) => r.with_default_tag(),
    };
    let image = image_ref(&reference);
    let client = registry_client(cfg)?;
    let endpoints = pull_endpoints(&image.registry, &cfg.registry_mirrors).map_err(|e| DistributionError::Invalid(e.to_string()))?;
    let mut last = None;
    for ep in &endpoints {
        let attempt = async {
            let session = client.session(ep, credentials.clone()).await?;
            let repo = session.repository(&image.repository, false);
            let manifest = repo.get_manifest(&image.manifest_reference()).await?;
            Ok::<_, RegistryError>((repo, manifest))
        };
        match attempt.await {
            Ok((repo, manifest)) => return Ok(describe(&repo, &manifest).await),
            Err(e) if ep.mirror => {
                tracing::warn!(mirror = %ep.host, error = %e, "mirror failed, trying the next endpoint");
                last = Some(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map(Into::into).unwrap_or_else(|| DistributionError::Internal("no registry endpoint to try".into())))
}

#[derive(Deserialize)]
struct IndexEntry {
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct ConfigRef {
    digest: berth_registry::Digest,
    size: u64,
}

#[derive(Deserialize)]
struct Image {
    config: ConfigRef,
}

async fn describe(repo: &Repository, m: &FetchedManifest) -> DistributionInspect {
    let descriptor = Descriptor { media_type: m.media_type.clone(), digest: m.digest.to_string(), size: m.bytes.len() as u64 };
    let platforms = match m.kind() {
        Some(ManifestKind::Index) => serde_json::from_slice::<Index>(&m.bytes)
            .ok()
            .map(|i| i.manifests.into_iter().map(|e| e.platform.unwrap_or_default()).collect::<Vec<_>>())
            .filter(|v| !v.is_empty()),
        Some(ManifestKind::Image) => match serde_json::from_slice::<Image>(&m.bytes) {
            Ok(img) => match repo.fetch_blob_bytes(&img.config.digest, Some(img.config.size)).await {
                Ok(cfg) => serde_json::from_slice::<Platform>(&cfg)
                    .ok()
                    .filter(|p| !p.os.is_empty() || !p.architecture.is_empty())
                    .map(|p| vec![p]),
                Err(e) => {
                    tracing::debug!(error = %e, "distribution inspect: reading the image config");
                    None
                }
            },
            Err(_) => None,
        },
        None => None,
    };
    DistributionInspect { descriptor, platforms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let d = DistributionInspect {
            descriptor: Descriptor {
                media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
                digest: "sha256:ab".into(),
                size: 527,
            },
            platforms: Some(vec![Platform { architecture: "amd64".into(), os: "linux".into(), ..Default::default() }]),
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"Descriptor":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:ab","size":527},"Platforms":[{"architecture":"amd64","os":"linux"}]}"#
        );
        let none = DistributionInspect { platforms: None, ..d };
        assert!(serde_json::to_string(&none).unwrap().ends_with(r#""Platforms":null}"#));
        let p: Platform =
            serde_json::from_str(r#"{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{},"os.features":["x"]}"#).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"architecture":"arm64","os":"linux","os.features":["x"],"variant":"v8"}"#);
    }

    #[test]
    fn error_statuses() {
        let api = |code: &str| {
            DistributionError::Registry(RegistryError::Api { status: 0, errors: vec![berth_registry::ApiError::new(code, "m")] })
        };
        assert_eq!(status(&api("MANIFEST_UNKNOWN")), 404);
        assert_eq!(status(&api("NAME_UNKNOWN")), 404);
        assert_eq!(status(&api("UNAUTHORIZED")), 401);
        assert_eq!(status(&api("DENIED")), 403);
        assert_eq!(status(&api("WHATEVER")), 500);
        assert_eq!(status(&DistributionError::Internal("no manifest found for full image ID".into())), 500);
        let bad = DistributionError::from(parse_any("UPPER").unwrap_err());
        assert_eq!(status(&bad), 400);
    }
}
