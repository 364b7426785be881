//! The client: configuration-derived HTTP clients, endpoint resolution (ping, TLS vs plain
//! HTTP for insecure registries) and `docker login`.

use crate::auth::token_cache::TokenCache;
use crate::auth::{fetch_token, Credentials, TokenRequest};
use crate::challenge::Challenge;
use crate::config::ClientConfig;
use crate::error::{from_response, transport, RegistryError};
use crate::mirror::{push_endpoint, EndpointSpec, Scheme};
use crate::session::{pick_challenge, Session};
use reqwest::header::AUTHORIZATION;
use reqwest::{StatusCode, Url};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How a registry wants to be authenticated, learnt from its `/v2/` ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    None,
    Basic {
        realm: String,
    },
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Result of `login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// A refresh token issued by the token server: store it as `identitytoken`.
    pub identity_token: Option<String>,
    /// The `/v2/` URL that was checked (the scheme shows whether TLS was used).
    pub url: String,
}

/// The registry client. Cheap to clone; token cache and endpoint knowledge are shared.
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) insecure: reqwest::Client,
    pub(crate) secure: Mutex<HashMap<String, reqwest::Client>>,
    pub(crate) tokens: TokenCache,
}

impl RegistryClient {
    pub fn new(config: ClientConfig) -> Result<Self, RegistryError> {
        let insecure = base_builder(&config)
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| RegistryError::Config(format!("building HTTP client: {e}")))?;
        // Validate PEMs now: a bad certificate is a configuration error, not a pull error.
        for pem in config
            .ca_certs
            .iter()
            .chain(config.registry_ca_certs.values().flatten())
        {
            parse_pem_bundle(pem, "a configured registry")?;
        }
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                config,
                insecure,
                secure: Mutex::new(HashMap::new()),
                tokens: TokenCache::default(),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    fn secure_client(&self, host: &str) -> Result<reqwest::Client, RegistryError> {
        let mut map = self.inner.secure.lock().unwrap();
        if let Some(c) = map.get(host) {
            return Ok(c.clone());
        }
        let cfg = &self.inner.config;
        let mut b = base_builder(cfg);
        for pem in cfg
            .ca_certs
            .iter()
            .chain(cfg.registry_ca_certs.get(host).into_iter().flatten())
        {
            for cert in parse_pem_bundle(pem, host)? {
                b = b.add_root_certificate(cert);
            }
        }
        let c = b
            .build()
            .map_err(|e| RegistryError::Config(format!("building HTTP client: {e}")))?;
        map.insert(host.to_string(), c.clone());
        Ok(c)
    }

    /// Opens a session with the registry's origin (not a mirror): pings it and learns its auth.
    pub async fn session_for(
        &self,
        registry: &str,
        credentials: Credentials,
    ) -> Result<Arc<Session>, RegistryError> {
        self.session(&push_endpoint(registry), credentials).await
    }

    /// Opens a session with one endpoint. Insecure hosts are tried over HTTPS without
    /// verification first, then over plain HTTP, as Docker does.
    pub async fn session(
        &self,
        spec: &EndpointSpec,
        credentials: Credentials,
    ) -> Result<Arc<Session>, RegistryError> {
        let insecure = self.inner.config.is_insecure(&spec.host);
        let mut candidates: Vec<(&str, reqwest::Client)> = Vec::new();
        match spec.scheme {
            Some(Scheme::Http) => candidates.push(("http", self.inner.insecure.clone())),
            Some(Scheme::Https) if insecure => {
                candidates.push(("https", self.inner.insecure.clone()))
            }
            Some(Scheme::Https) => candidates.push(("https", self.secure_client(&spec.host)?)),
            None if insecure => {
                candidates.push(("https", self.inner.insecure.clone()));
                candidates.push(("http", self.inner.insecure.clone()));
            }
            None => candidates.push(("https", self.secure_client(&spec.host)?)),
        }
        let mut last = None;
        for (scheme, http) in candidates {
            let base = Url::parse(&format!("{scheme}://{}/", spec.host)).map_err(|e| {
                RegistryError::Config(format!("invalid registry host {:?}: {e}", spec.host))
            })?;
            match ping(&http, &base).await {
                Ok(auth) => {
                    return Ok(Arc::new(Session::new(
                        self.clone(),
                        spec.host.clone(),
                        base,
                        http,
                        auth,
                        credentials,
                    )))
                }
                // Only a transport failure (TLS to a plain-HTTP server) moves on to the next scheme.
                Err(e @ RegistryError::Http { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one candidate"))
    }

    /// `docker login`: checks the credentials against `/v2/` (and the token realm).
    pub async fn login(
        &self,
        registry: &str,
        credentials: &Credentials,
    ) -> Result<LoginOutcome, RegistryError> {
        let s = self.session_for(registry, credentials.clone()).await?;
        let url = s.base_url().join("v2/").expect("static path");
        let scheme = s.auth_scheme();
        let mut identity_token = None;
        let header = match scheme {
            AuthScheme::None => None,
            AuthScheme::Basic { .. } => {
                Some(
                    credentials
                        .basic_header()
                        .ok_or_else(|| RegistryError::LoginFailed {
                            url: url.to_string(),
                            status: "401 Unauthorized (no credentials)".into(),
                        })?,
                )
            }
            AuthScheme::Bearer { realm, service } => {
                let t = fetch_token(
                    s.http(),
                    TokenRequest {
                        realm: &realm,
                        service: service.as_deref(),
                        scopes: &[],
                        credentials,
                        offline: true,
                    },
                )
                .await
                .map_err(|e| match e.status() {
                    Some(st) => RegistryError::LoginFailed {
                        url: url.to_string(),
                        status: StatusCode::from_u16(st)
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                    },
                    None => e,
                })?;
                identity_token = t.refresh_token;
                Some(format!("Bearer {}", t.token))
            }
        };
        let mut rb = s.http().get(url.clone());
        if let Some(h) = header {
            rb = rb.header(AUTHORIZATION, h);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| transport("GET", url.as_str(), e))?;
        if !resp.status().is_success() {
            return Err(RegistryError::LoginFailed {
                url: url.to_string(),
                status: resp.status().to_string(),
            });
        }
        Ok(LoginOutcome {
            identity_token,
            url: url.to_string(),
        })
    }
}

/// A `ca.crt` may hold several certificates; one without any is a mistake, not an empty set
/// (reqwest's parser accepts garbage as zero certificates).
fn parse_pem_bundle(pem: &[u8], host: &str) -> Result<Vec<reqwest::Certificate>, RegistryError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| RegistryError::Config(format!("invalid CA certificate for {host}: {e}")))?;
    if certs.is_empty() {
        return Err(RegistryError::Config(format!(
            "CA file for {host} holds no PEM certificate"
        )));
    }
    Ok(certs)
}

fn base_builder(cfg: &ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(cfg.user_agent.clone())
        .connect_timeout(cfg.connect_timeout)
        .read_timeout(cfg.read_timeout)
        // Redirects are followed by hand so credentials never leave the registry's host.
        .redirect(reqwest::redirect::Policy::none())
}

async fn ping(http: &reqwest::Client, base: &Url) -> Result<AuthScheme, RegistryError> {
    let url = base.join("v2/").expect("static path");
    let resp = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| transport("GET", url.as_str(), e))?;
    if resp.status().is_success() {
        return Ok(AuthScheme::None);
    }
    if resp.status() == StatusCode::UNAUTHORIZED {
        if let Some(c) = pick_challenge(resp.headers())? {
            return Ok(match c {
                Challenge::Basic { realm } => AuthScheme::Basic { realm },
                Challenge::Bearer { realm, service, .. } => AuthScheme::Bearer { realm, service },
            });
        }
    }
    Err(from_response("GET", resp).await)
}
