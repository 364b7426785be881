//! The client's view of an image reference.
//!
//! Docker's reference grammar (normalisation of `busybox` to `docker.io/library/busybox:latest`,
//! validation) lives in berth-storage. To stay independent, this crate takes the already-parsed
//! parts; the daemon maps storage's parsed reference to [`ImageRef`] field by field.

use crate::digest::Digest;

/// Docker Hub's canonical name, as it appears in references.
pub const DOCKER_HUB: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host as written in the reference (`docker.io`, `127.0.0.1:5000`, `harbor.lab`).
    pub registry: String,
    /// Repository path (`library/busybox`, `project/app`).
    pub repository: String,
    /// Tag, when the reference has one.
    pub tag: Option<String>,
    /// Digest, when the reference has one (it wins over the tag for fetching, as in Docker).
    pub digest: Option<Digest>,
}

impl ImageRef {
    pub fn tagged(registry: &str, repository: &str, tag: &str) -> Self {
        ImageRef {
            registry: registry.into(),
            repository: repository.into(),
            tag: Some(tag.into()),
            digest: None,
        }
    }
    pub fn digested(registry: &str, repository: &str, digest: Digest) -> Self {
        ImageRef {
            registry: registry.into(),
            repository: repository.into(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// The `<reference>` path segment of `/v2/<name>/manifests/<reference>`.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// Docker's `FamiliarName`: `busybox` for `docker.io/library/busybox`.
    pub fn familiar_name(&self) -> String {
        if is_docker_hub(&self.registry) {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// Docker's `FamiliarString`: `busybox:latest`, `127.0.0.1:5000/app@sha256:…`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        } else if self.digest.is_none() {
            s.push_str(":latest");
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }

    /// `127.0.0.1:5000/app` / `docker.io/library/busybox`: the push banner's repository.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

pub fn is_docker_hub(registry: &str) -> bool {
    matches!(
        registry,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}
