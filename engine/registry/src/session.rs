//! A session with one registry endpoint: `send` attaches credentials, follows redirects and
//! answers `401` challenges once. [`Repository`] scopes requests to one repository.

use crate::auth::token_cache::TokenKey;
use crate::auth::{self, fetch_token, merge_scopes, Credentials, TokenRequest};
use crate::challenge::{self, Challenge};
use crate::client::{AuthScheme, RegistryClient};
use crate::config::ClientConfig;
use crate::error::{from_response, transport, RegistryError};
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};
use std::sync::{Arc, Mutex};

/// The first usable challenge; Bearer wins when a server offers both.
pub(crate) fn pick_challenge(headers: &HeaderMap) -> Result<Option<Challenge>, RegistryError> {
    let mut found = None;
    let mut last_err = None;
    for v in headers.get_all(reqwest::header::WWW_AUTHENTICATE) {
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
        Req {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            scopes,
        }
    }
    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Self {
        self.headers.insert(
            name,
            HeaderValue::from_str(value).expect("header value is ASCII"),
        );
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
    pub(crate) fn new(
        client: RegistryClient,
        host: String,
        base: Url,
        http: reqwest::Client,
        auth: AuthScheme,
        credentials: Credentials,
    ) -> Self {
        Session {
            client,
            host,
            base,
            http,
            auth: Mutex::new(auth),
            credentials,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

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
        self.base
            .join(path)
            .expect("registry paths are relative URLs")
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
                self.client
                    .inner
                    .tokens
                    .insert(key, issued.token.clone(), issued.lifetime);
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
            let Some(ch) = pick_challenge(resp.headers())? else {
                return Ok(resp);
            };
            match ch {
                Challenge::Bearer {
                    realm,
                    service,
                    scopes: wanted,
                    error,
                } => {
                    tracing::debug!(url = %req.url, ?error, ?wanted, "bearer challenge, refreshing token");
                    self.client
                        .inner
                        .tokens
                        .invalidate(&self.token_key(&scopes));
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
            let mut rb = self
                .http
                .request(req.method.clone(), url.clone())
                .headers(req.headers.clone());
            if let (Some(a), true) = (auth, same_origin(&url, &self.base)) {
                rb = rb.header(AUTHORIZATION, a);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            let resp = rb
                .send()
                .await
                .map_err(|e| transport(req.method.as_str(), url.as_str(), e))?;
            let follow =
                matches!(req.method, Method::GET | Method::HEAD) && resp.status().is_redirection();
            if !follow {
                return Ok(resp);
            }
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    RegistryError::Protocol(format!("redirect from {url} without Location"))
                })?;
            url = url.join(loc).map_err(|e| {
                RegistryError::Protocol(format!("bad redirect Location {loc:?}: {e}"))
            })?;
        }
        Err(RegistryError::Protocol(format!(
            "too many redirects for {}",
            req.url
        )))
    }

    /// Resolves a `Location` (absolute or relative) against the request URL.
    pub(crate) fn resolve_location(&self, resp: &Response) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                RegistryError::Protocol(format!(
                    "{} answered without a Location header",
                    resp.url()
                ))
            })?;
        resp.url()
            .join(loc)
            .map_err(|e| RegistryError::Protocol(format!("bad Location {loc:?}: {e}")))
    }

    /// A handle on one repository; `push` widens the token scope to `pull,push`.
    pub fn repository(self: &Arc<Self>, name: &str, push: bool) -> Repository {
        Repository {
            session: self.clone(),
            name: name.to_string(),
            scope: auth::repository_scope(name, push),
        }
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
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
