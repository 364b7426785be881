//! Which hosts serve a registry: Docker Hub's API host and `registry-mirrors`.
//!
//! Docker uses mirrors for docker.io pulls only, tries them in order and falls back to the
//! origin; pushes always go to the origin. This is a pure function so the daemon, the tests and
//! the lab checker agree on the order.

use crate::reference::is_docker_hub;

/// Docker Hub's API host: `docker.io` in a reference means this host on the wire.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// `http` or `https`, when fixed by configuration (a mirror URL names its scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// One host to talk to for a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    /// `host[:port]`.
    pub host: String,
    /// `None`: decided by the insecure-registry rules when the client pings it.
    pub scheme: Option<Scheme>,
    /// Mirrors are tried first and may fail without failing the pull.
    pub mirror: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid registry mirror {0:?}: expected http(s)://host[:port] with no path")]
pub struct MirrorError(pub String);

/// The wire host for a registry name (`docker.io` → `registry-1.docker.io`).
pub fn api_host(registry: &str) -> &str {
    if is_docker_hub(registry) {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

/// Endpoints to try, in order, for pulling from `registry`.
pub fn pull_endpoints(
    registry: &str,
    mirrors: &[String],
) -> Result<Vec<EndpointSpec>, MirrorError> {
    let mut out = Vec::new();
    if is_docker_hub(registry) {
        for m in mirrors {
            out.push(parse_mirror(m)?);
        }
    }
    out.push(push_endpoint(registry));
    Ok(out)
}

/// The endpoint for pushing (mirrors are never pushed to) and for anything but pulls.
pub fn push_endpoint(registry: &str) -> EndpointSpec {
    let host = api_host(registry).to_string();
    let scheme = if is_docker_hub(registry) {
        Some(Scheme::Https)
    } else {
        None
    };
    EndpointSpec {
        host,
        scheme,
        mirror: false,
    }
}

/// A mirror is the root of a host (`https://mirror.lab:5000`, trailing `/` allowed), like
/// Docker's `registry-mirrors` entries.
pub fn parse_mirror(url: &str) -> Result<EndpointSpec, MirrorError> {
    let bad = || MirrorError(url.to_string());
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        return Err(bad());
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains('/') || host.contains('?') || host.contains('@') {
        return Err(bad());
    }
    Ok(EndpointSpec {
        host: host.to_string(),
        scheme: Some(scheme),
        mirror: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_uses_mirrors_then_origin() {
        let m = vec![
            "http://hub.lab:5000/".to_string(),
            "https://m2.lab".to_string(),
        ];
        let eps = pull_endpoints("docker.io", &m).unwrap();
        assert_eq!(
            eps,
            vec![
                EndpointSpec {
                    host: "hub.lab:5000".into(),
                    scheme: Some(Scheme::Http),
                    mirror: true
                },
                EndpointSpec {
                    host: "m2.lab".into(),
                    scheme: Some(Scheme::Https),
                    mirror: true
                },
                EndpointSpec {
                    host: "registry-1.docker.io".into(),
                    scheme: Some(Scheme::Https),
                    mirror: false
                },
            ]
        );
    }

    #[test]
    fn private_registries_ignore_mirrors() {
        let m = vec!["http://hub.lab:5000".to_string()];
        let eps = pull_endpoints("127.0.0.1:5000", &m).unwrap();
        assert_eq!(
            eps,
            vec![EndpointSpec {
                host: "127.0.0.1:5000".into(),
                scheme: None,
                mirror: false
            }]
        );
        assert_eq!(push_endpoint("docker.io").host, "registry-1.docker.io");
    }

    #[test]
    fn bad_mirrors() {
        for m in ["hub.lab:5000", "http://hub.lab/v2", "ftp://x", "http://"] {
            assert!(parse_mirror(m).is_err(), "{m}");
        }
        assert!(pull_endpoints("docker.io", &["nope".into()]).is_err());
    }
}
