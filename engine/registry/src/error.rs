//! Typed errors, worded like Docker's so the CLI can print them unchanged.
//!
//! A registry error body is `{"errors":[{"code","message","detail"}]}`; Docker prints each entry as
//! `<code lower-cased, _ → space>: <message>` (`manifest unknown: manifest unknown`,
//! `unauthorized: authentication required`). Non-JSON bodies (an HTML proxy page, the router's
//! plain-text 404) become [`RegistryError::UnexpectedResponse`], naming status and content type.

use crate::digest::Digest;
use serde::Deserialize;
use std::fmt;

/// One entry of a registry error body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: &str, message: &str) -> Self {
        ApiError {
            code: code.to_string(),
            message: message.to_string(),
            detail: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.replace('_', " ").to_lowercase();
        let message = if self.message.is_empty() {
            default_message(&self.code)
        } else {
            &self.message
        };
        write!(f, "{code}: {message}")
    }
}

/// Messages of distribution's error descriptors, for bodies that omit `message`.
fn default_message(code: &str) -> &'static str {
    match code {
        "UNAUTHORIZED" => "authentication required",
        "DENIED" => "requested access to the resource is denied",
        "MANIFEST_UNKNOWN" => "manifest unknown",
        "BLOB_UNKNOWN" => "blob unknown to registry",
        "NAME_UNKNOWN" => "repository name not known to registry",
        "TOOMANYREQUESTS" => "too many requests",
        "UNSUPPORTED" => "The operation is unsupported.",
        _ => "unknown error",
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<ApiError>,
}

/// Parses a registry error body; `None` when it is not the registry JSON shape.
pub fn parse_error_body(body: &[u8]) -> Option<Vec<ApiError>> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .filter(|b| !b.errors.is_empty())
        .map(|b| b.errors)
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with its JSON error format.
    #[error("{}", format_api(errors))]
    Api { status: u16, errors: Vec<ApiError> },

    /// An error status whose body is not registry JSON (HTML, plain text, empty).
    #[error("{method} {url}: registry returned HTTP {status} with a non-JSON body (Content-Type: {content_type}): {snippet:?}")]
    UnexpectedResponse {
        method: String,
        url: String,
        status: String,
        content_type: String,
        snippet: String,
    },

    /// Transport failure (connection refused, TLS, DNS), in Go's `Get "<url>": <cause>` shape.
    #[error("{method} \"{url}\": {cause}")]
    Http {
        method: String,
        url: String,
        cause: String,
    },

    /// `docker login` wording.
    #[error("login attempt to {url} failed with status: {status}")]
    LoginFailed { url: String, status: String },

    /// The token endpoint refused or answered garbage.
    #[error("getting a token from {realm}: {reason}")]
    Token { realm: String, reason: String },

    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },

    /// Docker's text for a blob whose content does not hash to its digest.
    #[error(
        "filesystem layer verification failed for digest {expected} (content hashes to {actual})"
    )]
    BlobVerification { expected: Digest, actual: Digest },

    /// Docker's text for a manifest whose bytes do not hash to the requested digest.
    #[error("manifest verification failed for digest {expected} (content hashes to {actual})")]
    ManifestVerification { expected: Digest, actual: Digest },

    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("unsupported media type {media_type:?} for {what}")]
    UnsupportedMediaType { what: String, media_type: String },

    /// Docker: `no matching manifest for linux/arm64/v8 in the manifest list entries`.
    #[error("no matching manifest for {wanted} in the manifest list entries (available: {})", available.join(", "))]
    NoMatchingPlatform {
        wanted: String,
        available: Vec<String>,
    },

    #[error("invalid manifest {what}: {reason}")]
    InvalidManifest { what: String, reason: String },

    /// The registry broke the protocol (missing Location, wrong Range, ...).
    #[error("registry protocol error: {0}")]
    Protocol(String),

    #[error("downloading {digest}: connection lost after {attempts} attempts: {last}")]
    DownloadFailed {
        digest: Digest,
        attempts: u32,
        last: String,
    },

    /// The caller's blob sink or source failed.
    #[error("{what}: {source}")]
    Storage {
        what: String,
        source: std::io::Error,
    },

    #[error("invalid configuration: {0}")]
    Config(String),

    /// Docker's pull-level wording wrapped around the registry error:
    /// `manifest for X not found: manifest unknown: manifest unknown`.
    #[error("{prefix}: {cause}")]
    Pull {
        prefix: String,
        cause: Box<RegistryError>,
    },
}

fn format_api(errors: &[ApiError]) -> String {
    // Same shape as distribution's errcode.Errors: one entry prints alone.
    match errors {
        [one] => one.to_string(),
        many => {
            let mut s = String::from("errors:\n");
            for e in many {
                s.push_str(&e.to_string());
                s.push('\n');
            }
            s
        }
    }
}

impl RegistryError {
    /// The first registry error code, if this is a registry JSON error.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            RegistryError::Api { errors, .. } => errors.first().map(|e| e.code.as_str()),
            RegistryError::Pull { cause, .. } => cause.api_code(),
            _ => None,
        }
    }

    /// HTTP status of a registry answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Api { status, .. } => Some(*status),
            RegistryError::UnexpectedResponse { status, .. } => {
                status.split(' ').next()?.parse().ok()
            }
            RegistryError::Pull { cause, .. } => cause.status(),
            _ => None,
        }
    }

    /// Docker's `translatePullError`: repository-level failures get the image name in front.
    /// `familiar_name` is e.g. `busybox`, `familiar_ref` is `busybox:latest`.
    pub fn into_pull_error(self, familiar_name: &str, familiar_ref: &str) -> RegistryError {
        let prefix = match self.api_code() {
            Some("DENIED") | Some("UNAUTHORIZED") => format!(
                "pull access denied for {familiar_name}, repository does not exist or may require 'docker login'"
            ),
            Some("MANIFEST_UNKNOWN") => format!("manifest for {familiar_ref} not found"),
            Some("NAME_UNKNOWN") => format!("repository {familiar_name} not found"),
            _ => return self,
        };
        RegistryError::Pull {
            prefix,
            cause: Box::new(self),
        }
    }

    pub(crate) fn storage(what: impl Into<String>, source: std::io::Error) -> Self {
        RegistryError::Storage {
            what: what.into(),
            source,
        }
    }
}

/// Builds the error for a non-success answer. HEAD answers carry no body (but a Content-Length
/// of the JSON they would have sent): the error is synthesized from the status.
pub(crate) async fn from_response(method: &str, resp: reqwest::Response) -> RegistryError {
    let status = resp.status();
    let url = resp.url().to_string();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default()
    };
    if let Some(errors) = parse_error_body(&body) {
        return RegistryError::Api {
            status: status.as_u16(),
            errors,
        };
    }
    if body.is_empty() {
        let synth = match status.as_u16() {
            401 => Some(ApiError::new("UNAUTHORIZED", "authentication required")),
            403 => Some(ApiError::new(
                "DENIED",
                "requested access to the resource is denied",
            )),
            429 => Some(ApiError::new("TOOMANYREQUESTS", "too many requests")),
            _ => None,
        };
        if let Some(e) = synth {
            return RegistryError::Api {
                status: status.as_u16(),
                errors: vec![e],
            };
        }
    }
    let mut snippet = String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_string();
    if body.len() > 200 {
        snippet.push('…');
    }
    RegistryError::UnexpectedResponse {
        method: method.to_string(),
        url,
        status: status.to_string(),
        content_type: if content_type.is_empty() {
            "none".into()
        } else {
            content_type
        },
        snippet,
    }
}

pub(crate) fn transport(method: &str, url: &str, err: reqwest::Error) -> RegistryError {
    // reqwest's own Display only says "error sending request for url (…)"; the cause chain
    // names what happened (connection refused, certificate, reset). Layers often repeat each
    // other, so consecutive duplicates are dropped.
    let mut parts: Vec<String> = Vec::new();
    let mut src = std::error::Error::source(&err);
    while let Some(s) = src {
        let m = s.to_string();
        if parts.last() != Some(&m) {
            parts.push(m);
        }
        src = s.source();
    }
    if err.is_timeout() {
        parts.push("timed out".into());
    }
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    RegistryError::Http {
        method: method.to_string(),
        url: url.to_string(),
        cause: parts.join(": "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_wording() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let e = RegistryError::Api {
            status: 404,
            errors: parse_error_body(body).unwrap(),
        };
        assert_eq!(e.to_string(), "manifest unknown: manifest unknown");
        let p = e.into_pull_error("research/nope", "127.0.0.1:5055/research/nope:latest");
        assert_eq!(
            p.to_string(),
            "manifest for 127.0.0.1:5055/research/nope:latest not found: manifest unknown: manifest unknown"
        );
        let denied = RegistryError::Api {
            status: 403,
            errors: vec![ApiError::new("DENIED", "")],
        };
        assert_eq!(
            denied.into_pull_error("nosuchimage", "nosuchimage:latest").to_string(),
            "pull access denied for nosuchimage, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
        );
        let unauth = RegistryError::Api {
            status: 401,
            errors: vec![ApiError::new("UNAUTHORIZED", "authentication required")],
        };
        assert_eq!(unauth.to_string(), "unauthorized: authentication required");
    }

    #[test]
    fn non_registry_json_is_not_parsed() {
        assert!(parse_error_body(b"<html>502</html>").is_none());
        assert!(parse_error_body(b"{}").is_none());
        assert!(parse_error_body(b"").is_none());
    }
}
