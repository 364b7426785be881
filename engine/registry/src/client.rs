//! The HTTP core: configuration, endpoint resolution (ping, TLS vs plain HTTP), and `send`, which
//! attaches credentials, follows redirects and answers `401` challenges once.

use crate::auth::token_cache::{TokenCache, TokenKey};
use crate::auth::{self, fetch_token, merge_scopes, Credentials, TokenRequest};
use crate::challenge::{self, Challenge};
use crate::error::{from_response, transport, RegistryError};
use crate::manifest::Platform;
use crate::mirror::{push_endpoint, EndpointSpec, Scheme};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Client settings; the daemon fills them from `daemon.json`-style configuration.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `insecure-registries`: `host[:port]`, `host`, or an IPv4/IPv6 CIDR (`10.0.0.0/8`).
    /// Such registries are tried with HTTPS without certificate checks, then plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Docker always treats 127.0.0.0/8 (and ::1, localhost) as insecure.
    pub loopback_insecure: bool,
    /// Extra PEM roots trusted for every registry.
    pub ca_certs: Vec<Vec<u8>>,
    /// PEM roots per registry host (`/etc/berth/certs.d/<host>/ca.crt`).
    pub registry_ca_certs: HashMap<String, Vec<Vec<u8>>>,
    pub user_agent: String,
    /// Platform chosen from manifest lists.
    pub platform: Platform,
    /// Docker's `max-concurrent-downloads` (3) and `max-concurrent-uploads` (5).
    pub max_concurrent_downloads: usize,
    pub max_concurrent_uploads: usize,
    /// Blobs larger than this are uploaded in PATCH chunks of this size.
    pub upload_chunk_size: usize,
    /// Attempts per blob download (first try + resumes).
    pub download_attempts: u32,
    /// Pause before a resume attempt.
    pub retry_delay: Duration,
    pub connect_timeout: Duration,
    /// A connection silent for this long counts as dropped (a blob download then resumes).
    pub read_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure_registries: Vec::new(),
            loopback_insecure: true,
            ca_certs: Vec::new(),
            registry_ca_certs: HashMap::new(),
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")).into(),
            platform: Platform::default(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            upload_chunk_size: 8 << 20,
            download_attempts: 5,
            retry_delay: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl ClientConfig {
    /// Whether `host[:port]` may be reached without verified TLS.
    pub fn is_insecure(&self, host: &str) -> bool {
        let bare = strip_port(host);
        let ip: Option<IpAddr> = bare.trim_start_matches('[').trim_end_matches(']').parse().ok();
        if self.loopback_insecure && (bare == "localhost" || ip.is_some_and(|i| i.is_loopback())) {
            return true;
        }
        self.insecure_registries.iter().any(|entry| {
            if entry == host || entry == bare {
                return true;
            }
            match (entry.split_once('/'), ip) {
                (Some((net, bits)), Some(ip)) => cidr_contains(net, bits, ip),
                _ => false,
            }
        })
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn cidr_contains(net: &str, bits: &str, ip: IpAddr) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// How a registry wants to be authenticated, learnt from its `/v2/` ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    None,
    Basic { realm: String },
    Bearer { realm: String, service: Option<String> },
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
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    insecure: reqwest::Client,
    secure: Mutex<HashMap<String, reqwest::Client>>,
    tokens: TokenCache,
}

impl RegistryClient {
    pub fn new(config: ClientConfig) -> Result<Self, RegistryError> {
        let insecure = base_builder(&config)
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| RegistryError::Config(format!("building HTTP client: {e}")))?;
        // Validate PEMs now: a bad certificate is a configuration error, not a pull error.
        for pem in config.ca_certs.iter().chain(config.registry_ca_certs.values().flatten()) {
            parse_pem_bundle(pem, "a configured registry")?;
        }
        Ok(RegistryClient {
            inner: Arc::new(Inner { config, insecure, secure: Mutex::new(HashMap::new()), tokens: TokenCache::default() }),
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
        for pem in cfg.ca_certs.iter().chain(cfg.registry_ca_certs.get(host).into_iter().flatten()) {
            for cert in parse_pem_bundle(pem, host)? {
                b = b.add_root_certificate(cert);
            }
        }
        let c = b.build().map_err(|e| RegistryError::Config(format!("building HTTP client: {e}")))?;
        map.insert(host.to_string(), c.clone());
        Ok(c)
    }

    /// Opens a session with the registry's origin (not a mirror): pings it and learns its auth.
    pub async fn session_for(&self, registry: &str, credentials: Credentials) -> Result<Arc<Session>, RegistryError> {
        self.session(&push_endpoint(registry), credentials).await
    }

    /// Opens a session with one endpoint. Insecure hosts are tried over HTTPS without
    /// verification first, then over plain HTTP, as Docker does.
    pub async fn session(&self, spec: &EndpointSpec, credentials: Credentials) -> Result<Arc<Session>, RegistryError> {
        let insecure = self.inner.config.is_insecure(&spec.host);
        let mut candidates: Vec<(&str, reqwest::Client)> = Vec::new();
        match spec.scheme {
            Some(Scheme::Http) => candidates.push(("http", self.inner.insecure.clone())),
            Some(Scheme::Https) if insecure => candidates.push(("https", self.inner.insecure.clone())),
            Some(Scheme::Https) => candidates.push(("https", self.secure_client(&spec.host)?)),
            None if insecure => {
                candidates.push(("https", self.inner.insecure.clone()));
                candidates.push(("http", self.inner.insecure.clone()));
            }
            None => candidates.push(("https", self.secure_client(&spec.host)?)),
        }
        let mut last = None;
        for (scheme, http) in candidates {
            let base = Url::parse(&format!("{scheme}://{}/", spec.host))
                .map_err(|e| RegistryError::Config(format!("invalid registry host {:?}: {e}", spec.host)))?;
            match ping(&http, &base).await {
                Ok(auth) => {
                    return Ok(Arc::new(Session {
                        client: self.clone(),
                        host: spec.host.clone(),
                        base,
                        http,
                        auth: Mutex::new(auth),
                        credentials,
                    }))
                }
                // Only a transport failure (TLS to a plain-HTTP server) moves on to the next scheme.
                Err(e @ RegistryError::Http { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one candidate"))
    }

    /// `docker login`: checks the credentials against `/v2/` (and the token realm).
    pub async fn login(&self, registry: &str, credentials: &Credentials) -> Result<LoginOutcome, RegistryError> {
        let s = self.session_for(registry, credentials.clone()).await?;
        let url = s.base.join("v2/").expect("static path");
        let scheme = s.auth.lock().unwrap().clone();
        let mut identity_token = None;
        let header = match scheme {
            AuthScheme::None => None,
            AuthScheme::Basic { .. } => Some(credentials.basic_header().ok_or_else(|| {
                RegistryError::LoginFailed { url: url.to_string(), status: "401 Unauthorized (no credentials)".into() }
            })?),
            AuthScheme::Bearer { realm, service } => {
                let t = fetch_token(
                    &s.http,
                    TokenRequest { realm: &realm, service: service.as_deref(), scopes: &[], credentials, offline: true },
                )
                .await
                .map_err(|e| match e.status() {
                    Some(st) => RegistryError::LoginFailed {
                        url: url.to_string(),
                        status: StatusCode::from_u16(st).map(|s| s.to_string()).unwrap_or_default(),
                    },
                    None => e,
                })?;
                identity_token = t.refresh_token;
                Some(format!("Bearer {}", t.token))
            }
        };
        let mut rb = s.http.get(url.clone());
        if let Some(h) = header {
            rb = rb.header(AUTHORIZATION, h);
        }
        let resp = rb.send().await.map_err(|e| transport("GET", url.as_str(), e))?;
        if !resp.status().is_success() {
            return Err(RegistryError::LoginFailed { url: url.to_string(), status: resp.status().to_string() });
        }
        Ok(LoginOutcome { identity_token, url: url.to_string() })
    }
}

/// A `ca.crt` may hold several certificates; one without any is a mistake, not an empty set
/// (reqwest's parser accepts garbage as zero certificates).
fn parse_pem_bundle(pem: &[u8], host: &str) -> Result<Vec<reqwest::Certificate>, RegistryError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| RegistryError::Config(format!("invalid CA certificate for {host}: {e}")))?;
    if certs.is_empty() {
        return Err(RegistryError::Config(format!("CA file for {host} holds no PEM certificate")));
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
    let resp = http.get(url.clone()).send().await.map_err(|e| transport("GET", url.as_str(), e))?;
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

/// The first usable challenge; Bearer wins when a server offers both.
fn pick_challenge(headers: &HeaderMap) -> Result<Option<Challenge>, RegistryError> {
    let mut found = None;
    let mut last_err = None;
    for v in headers.get_all(WWW_AUTHENTICATE) {
        let Ok(s) = v.to_str() else { continue };
        match challenge::parse(s) {
            Ok(c @ Challenge::Bearer { .. }) => return Ok(Some(c)),
            Ok(c) => found = found.or(Some(c)),
            Err(e) => last_err = Some(e),
        }
    }
    match (found, last_err) {
        (Some(c), _) => Ok(Some(c)),
        (None, Some(e)) => Err(RegistryError::Protocol(e.to_string())),
        (None, None) => Ok(None),
    }
}

/// A request that can be replayed (after a challenge): the body is in memory.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// Token scopes the request needs.
    pub scopes: Vec<String>,
}

impl Req {
    pub fn new(method: Method, url: Url, scopes: Vec<String>) -> Self {
        Req { method, url, headers: HeaderMap::new(), body: None, scopes }
    }
    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Self {
        self.headers.insert(name, HeaderValue::from_str(value).expect("header value is ASCII"));
        self
    }
    pub fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

/// A connection to one registry endpoint with one set of credentials.
pub struct Session {
    client: RegistryClient,
    host: String,
    base: Url,
    http: reqwest::Client,
    auth: Mutex<AuthScheme>,
    credentials: Credentials,
}

impl Session {
    /// `http(s)://host[:port]/`.
    pub fn base_url(&self) -> &Url {
        &self.base
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn auth_scheme(&self) -> AuthScheme {
        self.auth.lock().unwrap().clone()
    }
    pub fn config(&self) -> &ClientConfig {
        &self.client.inner.config
    }
    pub(crate) fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("registry paths are relative URLs")
    }

    fn token_key(&self, scopes: &[String]) -> TokenKey {
        TokenKey::new(&self.host, self.credentials.account(), scopes)
    }

    /// The Authorization header for `scopes`, fetching a token if needed.
    async fn authorization(&self, scopes: &[String]) -> Result<Option<String>, RegistryError> {
        if let Credentials::RegistryToken(t) = &self.credentials {
            return Ok(Some(format!("Bearer {t}")));
        }
        let scheme = self.auth_scheme();
        match scheme {
            AuthScheme::None => Ok(None),
            AuthScheme::Basic { .. } => Ok(self.credentials.basic_header()),
            AuthScheme::Bearer { realm, service } => {
                let key = self.token_key(scopes);
                if let Some(t) = self.client.inner.tokens.get(&key) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let issued = fetch_token(
                    &self.http,
                    TokenRequest {
                        realm: &realm,
                        service: service.as_deref(),
                        scopes,
                        credentials: &self.credentials,
                        offline: false,
                    },
                )
                .await?;
                self.client.inner.tokens.insert(key, issued.token.clone(), issued.lifetime);
                Ok(Some(format!("Bearer {}", issued.token)))
            }
        }
    }

    /// Sends `req`, answering one `401` challenge: a Bearer challenge (expired or revoked token,
    /// `insufficient_scope`, a new `scope`) drops the cached token and retries with the union of
    /// scopes; a Basic challenge on a registry that pinged open retries with the credentials.
    /// Returns the final response whatever its status.
    pub(crate) async fn send(&self, req: &Req) -> Result<Response, RegistryError> {
        let mut scopes = req.scopes.clone();
        let mut retried = false;
        loop {
            let auth = self.authorization(&scopes).await?;
            let resp = self.execute(req, auth.as_deref()).await?;
            if resp.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(resp);
            }
            retried = true;
            let Some(ch) = pick_challenge(resp.headers())? else { return Ok(resp) };
            match ch {
                Challenge::Bearer { realm, service, scopes: wanted, error } => {
                    tracing::debug!(url = %req.url, ?error, ?wanted, "bearer challenge, refreshing token");
                    self.client.inner.tokens.invalidate(&self.token_key(&scopes));
                    *self.auth.lock().unwrap() = AuthScheme::Bearer { realm, service };
                    if matches!(self.credentials, Credentials::RegistryToken(_)) {
                        return Ok(resp);
                    }
                    scopes = merge_scopes(&scopes, &wanted);
                }
                Challenge::Basic { realm } => {
                    let sent_basic = auth.as_deref().is_some_and(|a| a.starts_with("Basic "));
                    if sent_basic || self.credentials.basic_header().is_none() {
                        return Ok(resp); // wrong password or no credentials: retrying cannot help
                    }
                    *self.auth.lock().unwrap() = AuthScheme::Basic { realm };
                }
            }
        }
    }

    /// `send` + turn non-2xx into an error.
    pub(crate) async fn send_ok(&self, req: &Req) -> Result<Response, RegistryError> {
        let resp = self.send(req).await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(from_response(req.method.as_str(), resp).await)
        }
    }

    /// One exchange; GET and HEAD follow redirects, carrying Authorization only to the
    /// registry's own origin (a CDN must never see the user's credentials or token).
    async fn execute(&self, req: &Req, auth: Option<&str>) -> Result<Response, RegistryError> {
        let mut url = req.url.clone();
        for _ in 0..10 {
            let mut rb = self.http.request(req.method.clone(), url.clone()).headers(req.headers.clone());
            if let (Some(a), true) = (auth, same_origin(&url, &self.base)) {
                rb = rb.header(AUTHORIZATION, a);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            let resp = rb.send().await.map_err(|e| transport(req.method.as_str(), url.as_str(), e))?;
            let follow = matches!(req.method, Method::GET | Method::HEAD) && resp.status().is_redirection();
            if !follow {
                return Ok(resp);
            }
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| RegistryError::Protocol(format!("redirect from {url} without Location")))?;
            url = url.join(loc).map_err(|e| RegistryError::Protocol(format!("bad redirect Location {loc:?}: {e}")))?;
        }
        Err(RegistryError::Protocol(format!("too many redirects for {}", req.url)))
    }

    /// Resolves a `Location` (absolute or relative) against the request URL.
    pub(crate) fn resolve_location(&self, resp: &Response) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Protocol(format!("{} answered without a Location header", resp.url())))?;
        resp.url().join(loc).map_err(|e| RegistryError::Protocol(format!("bad Location {loc:?}: {e}")))
    }

    /// A handle on one repository; `push` widens the token scope to `pull,push`.
    pub fn repository(self: &Arc<Self>, name: &str, push: bool) -> Repository {
        Repository { session: self.clone(), name: name.to_string(), scope: auth::repository_scope(name, push) }
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// One repository on one registry endpoint.
#[derive(Clone)]
pub struct Repository {
    pub(crate) session: Arc<Session>,
    pub(crate) name: String,
    pub(crate) scope: String,
}

impl Repository {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }
    pub(crate) fn url(&self, rest: &str) -> Url {
        self.session.url(&format!("v2/{}/{rest}", self.name))
    }
    pub(crate) fn req(&self, method: Method, rest: &str) -> Req {
        Req::new(method, self.url(rest), vec![self.scope.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_rules() {
        let mut c = ClientConfig::default();
        assert!(c.is_insecure("127.0.0.1:5000"));
        assert!(c.is_insecure("127.8.9.1"));
        assert!(c.is_insecure("localhost:5000"));
        assert!(c.is_insecure("[::1]:5000"));
        assert!(!c.is_insecure("registry.lab:5000"));
        c.insecure_registries = vec!["registry.lab:5000".into(), "10.0.0.0/8".into()];
        assert!(c.is_insecure("registry.lab:5000"));
        assert!(!c.is_insecure("registry.lab:5001"));
        assert!(c.is_insecure("10.1.2.3:443"));
        assert!(!c.is_insecure("11.1.2.3"));
        c.loopback_insecure = false;
        assert!(!c.is_insecure("127.0.0.1:5000"));
    }
}
