//! Credentials, the token protocol, and how long a token lives.
//!
//! Flow (what Docker does): ping `/v2/`; a `Basic` challenge means the credentials go on every
//! request; a `Bearer` challenge means asking `realm?service=&scope=` for a token covering the
//! scopes the operation needs (`repository:<repo>:pull` or `:pull,push`), with the user's Basic
//! credentials sent to the realm, or a refresh-token POST when the user holds an identity token.

pub mod auth_config;
pub mod token_cache;

use crate::error::{transport, RegistryError};
use base64::Engine as _;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// Docker's minimum token lifetime, and the spec's default when `expires_in` is absent.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// What the user gave (`X-Registry-Auth` / `~/.berth/config.json`).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// A refresh token from an earlier login (`identitytoken` in config.json).
    IdentityToken {
        username: String,
        token: String,
    },
    /// A ready registry token, sent as `Bearer` as is (`registrytoken`).
    RegistryToken(String),
}

impl fmt::Debug for Credentials {
    // Never print secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::IdentityToken { username, .. } => {
                write!(f, "IdentityToken({username}, <redacted>)")
            }
            Credentials::RegistryToken(_) => f.write_str("RegistryToken(<redacted>)"),
        }
    }
}

impl Credentials {
    pub fn basic(username: &str, password: &str) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Token cache key part: tokens of different users must not be shared.
    pub fn account(&self) -> &str {
        match self {
            Credentials::Basic { username, .. } | Credentials::IdentityToken { username, .. } => {
                username
            }
            Credentials::RegistryToken(_) => "<registry-token>",
            Credentials::Anonymous => "",
        }
    }

    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(basic_header(username, password)),
            _ => None,
        }
    }
}

pub fn basic_header(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// `repository:<name>:<actions>`.
pub fn repository_scope(name: &str, push: bool) -> String {
    format!(
        "repository:{name}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

/// Merges scopes: actions of the same resource are unioned (`repository:a:pull` +
/// `repository:a:push` → `repository:a:pull,push`), so a widened request stays one scope per
/// resource as token servers expect.
pub fn merge_scopes(a: &[String], b: &[String]) -> Vec<String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for s in a.iter().chain(b) {
        let (resource, actions) = match s.rsplit_once(':') {
            Some((r, acts)) => (
                r.to_string(),
                acts.split(',').map(String::from).collect::<Vec<_>>(),
            ),
            None => (s.clone(), vec![]),
        };
        match out.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, acts)) => {
                for x in actions {
                    if !acts.contains(&x) {
                        acts.push(x);
                    }
                }
            }
            None => out.push((resource, actions)),
        }
    }
    out.into_iter()
        .map(|(r, mut acts)| {
            acts.sort();
            if acts.is_empty() {
                r
            } else {
                format!("{r}:{}", acts.join(","))
            }
        })
        .collect()
}

/// The token endpoint's answer (`token` and `access_token` are synonyms).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub issued_at: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A token and how long it may be cached.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub lifetime: Duration,
    pub refresh_token: Option<String>,
}

/// What to ask the token endpoint for.
pub struct TokenRequest<'a> {
    pub realm: &'a str,
    pub service: Option<&'a str>,
    pub scopes: &'a [String],
    pub credentials: &'a Credentials,
    /// `docker login`: ask for a refresh token (`offline_token=true&client_id=docker`).
    pub offline: bool,
}

pub async fn fetch_token(
    http: &reqwest::Client,
    req: TokenRequest<'_>,
) -> Result<IssuedToken, RegistryError> {
    let err = |reason: String| RegistryError::Token {
        realm: req.realm.to_string(),
        reason,
    };
    let mut url = reqwest::Url::parse(req.realm).map_err(|e| err(format!("invalid realm: {e}")))?;
    let builder = match req.credentials {
        Credentials::IdentityToken { token, .. } => {
            let mut form: Vec<(&str, String)> = vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", token.clone()),
                ("client_id", "docker".into()),
                ("scope", req.scopes.join(" ")),
            ];
            if let Some(s) = req.service {
                form.push(("service", s.into()));
            }
            http.post(url.clone()).form(&form)
        }
        creds => {
            {
                let mut q = url.query_pairs_mut();
                if let Credentials::Basic { username, .. } = creds {
                    q.append_pair("account", username);
                }
                if req.offline {
                    q.append_pair("client_id", "docker");
                    q.append_pair("offline_token", "true");
                }
                for s in req.scopes {
                    q.append_pair("scope", s);
                }
                if let Some(s) = req.service {
                    q.append_pair("service", s);
                }
            }
            let b = http.get(url.clone());
            match creds.basic_header() {
                Some(h) => b.header(reqwest::header::AUTHORIZATION, h),
                None => b,
            }
        }
    };
    let method = if matches!(req.credentials, Credentials::IdentityToken { .. }) {
        "POST"
    } else {
        "GET"
    };
    let resp = builder
        .send()
        .await
        .map_err(|e| transport(method, url.as_str(), e))?;
    if !resp.status().is_success() {
        let e = crate::error::from_response(method, resp).await;
        return Err(match e {
            // Docker Hub's wording for a refused login; keep the registry's text when it has one.
            RegistryError::Api {
                status: 401,
                errors,
            } => RegistryError::Api {
                status: 401,
                errors,
            },
            other => other,
        });
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| transport(method, url.as_str(), e))?;
    let tr: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| err(format!("token response is not JSON: {e}")))?;
    let token = tr
        .token
        .clone()
        .or_else(|| tr.access_token.clone())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| err("response has neither token nor access_token".into()))?;
    let lifetime = token_lifetime(&tr, &token, chrono::Utc::now());
    Ok(IssuedToken {
        token,
        lifetime,
        refresh_token: tr.refresh_token,
    })
}

/// Lifetime from `expires_in` (counted from `issued_at` when given), else from the JWT `exp`
/// claim, else 60 s; never below Docker's 60 s minimum unless the token says it is already spent.
pub fn token_lifetime(
    tr: &TokenResponse,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Duration {
    let secs = match tr.expires_in {
        Some(exp_in) if exp_in > 0 => {
            let exp_in = exp_in.max(DEFAULT_TOKEN_LIFETIME.as_secs() as i64);
            let issued = tr
                .issued_at
                .as_deref()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&chrono::Utc));
            match issued {
                // A server clock ahead of ours must not lengthen the lifetime.
                Some(at) => (at.timestamp() + exp_in - now.timestamp()).min(exp_in),
                None => exp_in,
            }
        }
        _ => match jwt_exp(token) {
            Some(exp) => exp - now.timestamp(),
            None => DEFAULT_TOKEN_LIFETIME.as_secs() as i64,
        },
    };
    Duration::from_secs(secs.max(0) as u64)
}

/// The `exp` claim of a JWT, without verifying it (the registry verifies; we only cache).
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(expires_in: Option<i64>, issued_at: Option<&str>) -> TokenResponse {
        TokenResponse {
            token: Some("t".into()),
            access_token: None,
            expires_in,
            issued_at: issued_at.map(String::from),
            refresh_token: None,
        }
    }

    #[test]
    fn lifetimes() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            token_lifetime(&tr(Some(300), None), "x", now),
            Duration::from_secs(300)
        );
        // issued 4 minutes ago with 5 minutes of life: 1 minute left
        assert_eq!(
            token_lifetime(&tr(Some(300), Some("2026-01-01T00:06:00Z")), "x", now),
            Duration::from_secs(60)
        );
        // already expired
        assert_eq!(
            token_lifetime(&tr(Some(300), Some("2026-01-01T00:00:00Z")), "x", now),
            Duration::ZERO
        );
        // issued in the future (clock skew): capped at expires_in
        assert_eq!(
            token_lifetime(&tr(Some(300), Some("2026-01-01T01:00:00Z")), "x", now),
            Duration::from_secs(300)
        );
        // below Docker's minimum
        assert_eq!(
            token_lifetime(&tr(Some(10), None), "x", now),
            Duration::from_secs(60)
        );
        // no expires_in: JWT exp
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{{\"exp\":{}}}", now.timestamp() + 120));
        assert_eq!(
            token_lifetime(&tr(None, None), &format!("h.{payload}.s"), now),
            Duration::from_secs(120)
        );
        assert_eq!(
            token_lifetime(&tr(None, None), "opaque", now),
            DEFAULT_TOKEN_LIFETIME
        );
    }

    #[test]
    fn merging_scopes() {
        let a = vec!["repository:a:pull".to_string()];
        let b = vec![
            "repository:a:push,pull".to_string(),
            "repository:b:pull".to_string(),
        ];
        assert_eq!(
            merge_scopes(&a, &b),
            vec!["repository:a:pull,push", "repository:b:pull"]
        );
        assert_eq!(
            merge_scopes(&["registry:catalog:*".into()], &[]),
            vec!["registry:catalog:*"]
        );
    }

    #[test]
    fn debug_redacts() {
        let s = format!("{:?}", Credentials::basic("alice", "s3cret"));
        assert!(!s.contains("s3cret"), "{s}");
    }
}
