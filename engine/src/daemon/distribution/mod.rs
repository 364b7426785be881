//! berthd's registry operations: `pull`, `push`, `login`, `search`, over berth-registry (the
//! protocol) and berth-storage (layers and images). The API handlers in
//! `api/distribution.rs` only turn these into Docker's HTTP shapes.

pub mod config;
pub mod inspect;
pub mod login;
pub mod pull;
pub mod push;
pub mod search;
pub mod sink;

use berth_registry::{ImageRef, RegistryError};
use berth_storage::{Reference, StorageError};

pub use config::{certs_dir, registry_client};

#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// `An image does not exist locally with the tag: …` (push of a missing image).
    #[error("An image does not exist locally with the tag: {0}")]
    NoLocalImage(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

impl DistributionError {
    /// The HTTP status Docker uses when the error happens before anything was streamed.
    pub fn status(&self) -> u16 {
        match self {
            // translatePullError: repository-level failures are NotFound.
            DistributionError::Registry(RegistryError::Pull { .. }) => 404,
            DistributionError::Registry(RegistryError::LoginFailed { .. }) => 401,
            DistributionError::Registry(e) if e.status() == Some(401) => 401,
            DistributionError::NoLocalImage(_) => 404,
            DistributionError::Invalid(_) => 400,
            DistributionError::Storage(e) => match e.kind() {
                berth_storage::ErrorKind::InvalidInput => 400,
                berth_storage::ErrorKind::NotFound => 404,
                berth_storage::ErrorKind::Conflict => 409,
                berth_storage::ErrorKind::Internal => 500,
            },
            _ => 500,
        }
    }
}

/// storage's parsed reference → the client's view of it.
pub fn image_ref(r: &Reference) -> ImageRef {
    ImageRef {
        registry: r.domain.clone(),
        repository: r.path.clone(),
        tag: r.tag.clone(),
        digest: r.digest.as_deref().and_then(|d| d.parse().ok()),
    }
}

/// Parses `fromImage` + `tag` the way Docker's pull does: a tag in the parameter wins, a
/// digest may come in either (`tag=sha256:…` as the old CLI sent it), `latest` is the default.
pub fn pull_reference(from_image: &str, tag: &str) -> Result<Reference, DistributionError> {
    let mut r = Reference::parse_normalized(from_image)?;
    if !tag.is_empty() {
        if tag.starts_with("sha256:") {
            r.digest = Some(tag.to_string());
            r.tag = None;
        } else {
            r = Reference::parse_normalized(&format!("{}:{tag}", r.familiar_name()))?;
        }
    }
    Ok(r.with_default_tag())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_references() {
        let r = pull_reference("busybox", "latest").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        let r = pull_reference("127.0.0.1:5000/demo/app", "").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/demo/app:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = pull_reference("127.0.0.1:5000/app", &d).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(r.tag.is_none());
        assert!(pull_reference("Upper", "").is_err());
        let i = image_ref(&pull_reference("busybox:1.36", "").unwrap());
        assert_eq!((i.registry.as_str(), i.repository.as_str(), i.tag.as_deref()), ("docker.io", "library/busybox", Some("1.36")));
    }
}
