//! An in-process fake registry (axum, 127.0.0.1:0) with knobs for faults and malicious answers.
//! It implements enough of the Distribution API to push and pull, strictly where 2.8.2 is lax
//! (Content-Range is checked, stale upload `Location`s are refused), so the client is tested
//! against the stricter reading of the spec.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use berth_registry::Digest;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
pub enum FakeAuth {
    #[default]
    None,
    Basic(String, String),
    /// Token auth with the fake's own `/token` endpoint. `Some(user, pass)`: the token endpoint
    /// checks these Basic credentials when given and grants push only to that user.
    Bearer(Option<(String, String)>),
}

#[derive(Clone, Debug, Default)]
pub struct Knobs {
    pub auth: FakeAuth,
    /// A token stops working after this many registry requests (an "expired" token).
    pub token_uses: Option<usize>,
    /// The first N token grants silently drop the `push` action (→ insufficient_scope).
    pub withhold_push: usize,
    /// Cut blob bodies after this many bytes, for the first `times` GETs.
    pub drop_blob_after: Option<(usize, usize)>,
    /// With `drop_blob_after`: stop sending (keep the connection open) instead of dropping it.
    pub stall_instead_of_drop: bool,
    /// Answer Range requests with the whole blob (200).
    pub ignore_range: bool,
    /// Serve blob bytes with one byte flipped.
    pub corrupt_blobs: bool,
    /// Every /v2/<repo>/... answer is an HTML 502 from a "proxy".
    pub html: bool,
    pub catalog_page: Option<usize>,
    pub tags_page: Option<usize>,
    /// Blob GET/HEAD answer 307 to this other origin (the CDN server).
    pub redirect_blobs: bool,
    /// A monolithic `POST ?digest=` is accepted with 201 (2.8.2 answers 202).
    pub accept_single_post: bool,
    /// Serve these bytes/content type for every manifest GET (a lying registry).
    pub manifest_override: Option<(Bytes, String)>,
    /// The next N upload-finishing PUTs answer 500.
    pub fail_upload_puts: usize,
    /// `/v2/` answers 200 without credentials although repositories need them.
    pub open_ping: bool,
    /// Hold blob GETs and upload PUT/PATCHes this long, counting how many are in flight.
    pub transfer_delay: Option<std::time::Duration>,
}

#[derive(Clone, Debug)]
pub struct LogEntry {
    pub method: String,
    pub uri: String,
    pub authorization: Option<String>,
    pub range: Option<String>,
    pub content_range: Option<String>,
    pub accept: Option<String>,
    pub status: u16,
}

struct Upload {
    repo: String,
    data: Vec<u8>,
    state: usize,
}

struct Token {
    scopes: Vec<String>,
    uses_left: Option<usize>,
}

#[derive(Default)]
pub struct FakeState {
    pub knobs: Mutex<Knobs>,
    pub blobs: Mutex<HashMap<String, Bytes>>,
    pub links: Mutex<HashSet<(String, String)>>,
    pub manifests: Mutex<HashMap<(String, String), (Bytes, String)>>,
    uploads: Mutex<HashMap<String, Upload>>,
    tokens: Mutex<HashMap<String, Token>>,
    pub token_requests: Mutex<Vec<String>>,
    pub log: Mutex<Vec<LogEntry>>,
    pub cdn_log: Mutex<Vec<LogEntry>>,
    counter: AtomicUsize,
    pub base: Mutex<String>,
    pub cdn_base: Mutex<String>,
    drops_done: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

pub struct FakeRegistry {
    pub state: Arc<FakeState>,
    pub host: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeRegistry {
    pub async fn start(knobs: Knobs) -> FakeRegistry {
        let state = Arc::new(FakeState::default());
        *state.knobs.lock().unwrap() = knobs;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = l.local_addr().unwrap().to_string();
        let cdn = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *state.base.lock().unwrap() = format!("http://{host}");
        *state.cdn_base.lock().unwrap() = format!("http://{}", cdn.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let cdn_app = axum::Router::new()
            .fallback(handle_cdn)
            .with_state(state.clone());
        let t1 = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        let t2 = tokio::spawn(async move { axum::serve(cdn, cdn_app).await.unwrap() });
        FakeRegistry {
            state,
            host,
            tasks: vec![t1, t2],
        }
    }

    pub fn knobs(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.state.knobs.lock().unwrap());
    }

    /// Seeds a repository with blobs and a manifest under `reference` (and its digest).
    pub fn seed(
        &self,
        repo: &str,
        blobs: &HashMap<Digest, Bytes>,
        reference: &str,
        manifest: &Bytes,
        media_type: &str,
    ) {
        for (d, b) in blobs {
            self.state
                .blobs
                .lock()
                .unwrap()
                .insert(d.to_string(), b.clone());
            self.state
                .links
                .lock()
                .unwrap()
                .insert((repo.into(), d.to_string()));
        }
        self.seed_manifest(repo, reference, manifest, media_type);
    }

    pub fn seed_manifest(&self, repo: &str, reference: &str, manifest: &Bytes, media_type: &str) {
        let mut m = self.state.manifests.lock().unwrap();
        m.insert(
            (repo.into(), reference.into()),
            (manifest.clone(), media_type.into()),
        );
        m.insert(
            (repo.into(), Digest::of(manifest).to_string()),
            (manifest.clone(), media_type.into()),
        );
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.state.log.lock().unwrap().clone()
    }
    pub fn requests(&self, method: &str, contains: &str) -> Vec<LogEntry> {
        self.log()
            .into_iter()
            .filter(|e| e.method == method && e.uri.contains(contains))
            .collect()
    }
    pub fn has_blob(&self, repo: &str, d: &Digest) -> bool {
        self.state
            .links
            .lock()
            .unwrap()
            .contains(&(repo.to_string(), d.to_string()))
    }
    pub fn blob(&self, d: &Digest) -> Option<Bytes> {
        self.state.blobs.lock().unwrap().get(d.as_str()).cloned()
    }
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body =
        serde_json::json!({"errors":[{"code":code,"message":message,"detail":null}]}).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap()
}

fn empty(status: StatusCode) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("docker-distribution-api-version", "registry/2.0")
}

fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            q.split('&')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_string(), pct_decode(v))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// What access a request needs: (scope resource, action).
fn needed_access(
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
) -> Vec<(String, &'static str)> {
    if path == "/v2/_catalog" {
        return vec![("registry:catalog".into(), "*")];
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return vec![];
    };
    let idx = ["/manifests/", "/blobs/", "/tags/"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min();
    let Some(idx) = idx else { return vec![] };
    let repo = &rest[..idx];
    let action = if matches!(*method, Method::GET | Method::HEAD) {
        "pull"
    } else {
        "push"
    };
    let mut v = vec![(format!("repository:{repo}"), action)];
    if action == "push" {
        v.push((format!("repository:{repo}"), "pull"));
    }
    if let Some(from) = q.get("from") {
        v.push((format!("repository:{from}"), "pull"));
    }
    v
}

fn covers(scopes: &[String], resource: &str, action: &str) -> bool {
    scopes.iter().any(|s| {
        s.rsplit_once(':').is_some_and(|(r, acts)| {
            r == resource && acts.split(',').any(|a| a == action || a == "*")
        })
    })
}

fn challenge_bearer(state: &FakeState, need: &[(String, &str)], error: Option<&str>) -> Response {
    let base = state.base.lock().unwrap().clone();
    let mut by_res: Vec<(String, Vec<&str>)> = Vec::new();
    for (r, a) in need {
        match by_res.iter_mut().find(|(x, _)| x == r) {
            Some((_, acts)) => acts.push(a),
            None => by_res.push((r.clone(), vec![a])),
        }
    }
    let scope: Vec<String> = by_res
        .iter()
        .map(|(r, a)| format!("{r}:{}", a.join(",")))
        .collect();
    let mut h = format!(r#"Bearer realm="{base}/token",service="fake-registry""#);
    if !scope.is_empty() {
        h.push_str(&format!(r#",scope="{}""#, scope.join(" ")));
    }
    if let Some(e) = error {
        h.push_str(&format!(r#",error="{e}""#));
    }
    let mut r = json_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    r.headers_mut()
        .insert("www-authenticate", HeaderValue::from_str(&h).unwrap());
    r
}

/// Checks auth; `Some(response)` when the request is refused.
fn check_auth(
    state: &FakeState,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Option<Response> {
    let knobs = state.knobs.lock().unwrap().clone();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match knobs.auth {
        FakeAuth::None => None,
        FakeAuth::Basic(u, p) => {
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            );
            if auth == want {
                None
            } else {
                let mut r = json_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required",
                );
                r.headers_mut().insert(
                    "www-authenticate",
                    HeaderValue::from_static(r#"Basic realm="fake-realm""#),
                );
                Some(r)
            }
        }
        FakeAuth::Bearer(_) => {
            let need = needed_access(method, path, q);
            let Some(tok) = auth.strip_prefix("Bearer ") else {
                return Some(challenge_bearer(state, &need, None));
            };
            let mut tokens = state.tokens.lock().unwrap();
            let Some(t) = tokens.get_mut(tok) else {
                return Some(challenge_bearer(state, &need, Some("invalid_token")));
            };
            if let Some(n) = &mut t.uses_left {
                if *n == 0 {
                    return Some(challenge_bearer(state, &need, Some("invalid_token")));
                }
                *n -= 1;
            }
            if need.iter().all(|(r, a)| covers(&t.scopes, r, a)) {
                None
            } else {
                Some(challenge_bearer(state, &need, Some("insufficient_scope")))
            }
        }
    }
}

async fn token_endpoint(state: &FakeState, uri: &axum::http::Uri, headers: &HeaderMap) -> Response {
    state
        .token_requests
        .lock()
        .unwrap()
        .push(uri.query().unwrap_or("").to_string());
    let knobs = state.knobs.lock().unwrap().clone();
    let FakeAuth::Bearer(user) = knobs.auth else {
        return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no token");
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let mut authenticated = false;
    if let Some(a) = auth {
        let ok = user.as_ref().is_some_and(|(u, p)| {
            a == format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        if !ok {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "incorrect username or password",
            );
        }
        authenticated = true;
    }
    let scopes: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("scope="))
        .map(pct_decode)
        .flat_map(|s| s.split(' ').map(String::from).collect::<Vec<_>>())
        .collect();
    let withhold = {
        let mut k = state.knobs.lock().unwrap();
        if k.withhold_push > 0 {
            k.withhold_push -= 1;
            true
        } else {
            false
        }
    };
    let push_allowed = user.is_none() || authenticated;
    let granted: Vec<String> = scopes
        .iter()
        .map(|s| match s.rsplit_once(':') {
            Some((r, acts)) if r.starts_with("repository:") => {
                let acts: Vec<&str> = acts
                    .split(',')
                    .filter(|a| *a != "push" || (push_allowed && !withhold))
                    .collect();
                format!("{r}:{}", acts.join(","))
            }
            _ => s.clone(),
        })
        .collect();
    let n = state.counter.fetch_add(1, Ordering::SeqCst);
    let token = format!("tok-{n}");
    state.tokens.lock().unwrap().insert(
        token.clone(),
        Token {
            scopes: granted,
            uses_left: knobs.token_uses,
        },
    );
    let body = serde_json::json!({"token": token, "access_token": token, "expires_in": 300, "issued_at": chrono::Utc::now().to_rfc3339()});
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn handle(State(state): State<Arc<FakeState>>, req: Request) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let resp = route(&state, &method, &uri, &headers, body).await;
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    state.log.lock().unwrap().push(LogEntry {
        method: method.to_string(),
        uri: uri.to_string(),
        authorization: h("authorization"),
        range: h("range"),
        content_range: h("content-range"),
        accept: h("accept"),
        status: resp.status().as_u16(),
    });
    resp
}

async fn handle_cdn(State(state): State<Arc<FakeState>>, req: Request) -> Response {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let entry = LogEntry {
        method: req.method().to_string(),
        uri: req.uri().to_string(),
        authorization: h("authorization"),
        range: h("range"),
        content_range: None,
        accept: None,
        status: 200,
    };
    state.cdn_log.lock().unwrap().push(entry);
    let digest = req.uri().path().trim_start_matches("/blob/").to_string();
    let range = h("range");
    serve_blob(
        &state,
        &digest,
        req.method() == Method::HEAD,
        range.as_deref(),
    )
}

fn serve_blob(state: &FakeState, digest: &str, head: bool, range: Option<&str>) -> Response {
    let Some(data) = state.blobs.lock().unwrap().get(digest).cloned() else {
        return json_error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        );
    };
    let knobs = state.knobs.lock().unwrap().clone();
    let mut data = data.to_vec();
    if knobs.corrupt_blobs && !data.is_empty() {
        let mid = data.len() / 2;
        data[mid] ^= 0xff;
    }
    let total = data.len();
    let start = match (range, knobs.ignore_range) {
        (Some(r), false) => r
            .strip_prefix("bytes=")
            .and_then(|r| r.split('-').next())
            .and_then(|s| s.parse::<usize>().ok()),
        _ => None,
    };
    let mut b = empty(if start.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    })
    .header("content-type", "application/octet-stream")
    .header("docker-content-digest", digest)
    .header("accept-ranges", "bytes");
    let slice = match start {
        Some(s) => {
            b = b.header(
                "content-range",
                format!("bytes {s}-{}/{total}", total.saturating_sub(1)),
            );
            data[s.min(total)..].to_vec()
        }
        None => data,
    };
    b = b.header("content-length", slice.len());
    if head {
        return b.body(Body::empty()).unwrap();
    }
    if let Some((after, times)) = knobs.drop_blob_after {
        if state.drops_done.load(Ordering::SeqCst) < times && slice.len() > after {
            state.drops_done.fetch_add(1, Ordering::SeqCst);
            let first = Bytes::from(slice[..after].to_vec());
            // Pause before failing so hyper flushes what was sent: the client must see a
            // partial body, not an empty one.
            use futures_util::StreamExt;
            let stall = knobs.stall_instead_of_drop;
            let stream = futures_util::stream::iter(vec![Ok::<Bytes, std::io::Error>(first)])
                .chain(futures_util::stream::once(async move {
                    let pause = if stall { 3600 } else { 100 };
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "fake registry drops the connection",
                    ))
                }));
            return b.body(Body::from_stream(stream)).unwrap();
        }
    }
    b.body(Body::from(slice)).unwrap()
}

fn page(
    items: Vec<String>,
    n: Option<usize>,
    last: Option<&String>,
    path: &str,
    key: &str,
) -> Response {
    let start = match last {
        Some(l) => items.iter().position(|x| x > l).unwrap_or(items.len()),
        None => 0,
    };
    let (slice, next) = match n {
        Some(n) if start + n < items.len() => (
            items[start..start + n].to_vec(),
            Some(items[start + n - 1].clone()),
        ),
        _ => (items[start..].to_vec(), None),
    };
    let mut b = empty(StatusCode::OK).header("content-type", "application/json");
    if let (Some(next), Some(n)) = (next, n) {
        let enc = next.replace('/', "%2F");
        b = b.header("link", format!(r#"<{path}?last={enc}&n={n}>; rel="next""#));
    }
    b.body(Body::from(
        serde_json::json!({ key: slice, "name": "x" }).to_string(),
    ))
    .unwrap()
}

async fn route(
    state: &FakeState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let q = query(uri);
    if path == "/token" {
        return token_endpoint(state, uri, headers).await;
    }
    let open_ping = state.knobs.lock().unwrap().open_ping && path == "/v2/";
    if let (Some(r), false) = (check_auth(state, method, &path, &q, headers), open_ping) {
        return r;
    }
    if path == "/v2/" {
        return empty(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
    }
    let knobs = state.knobs.lock().unwrap().clone();
    let is_transfer = (*method == Method::GET && path.contains("/blobs/sha256:"))
        || (matches!(*method, Method::PUT | Method::PATCH) && path.contains("/blobs/uploads/"));
    if let (Some(delay), true) = (knobs.transfer_delay, is_transfer) {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    if knobs.html {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .header("content-type", "text/html")
            .body(Body::from(
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ))
            .unwrap();
    }
    if path == "/v2/_catalog" {
        let mut repos: BTreeSet<String> = state
            .links
            .lock()
            .unwrap()
            .iter()
            .map(|(r, _)| r.clone())
            .collect();
        repos.extend(
            state
                .manifests
                .lock()
                .unwrap()
                .keys()
                .map(|(r, _)| r.clone()),
        );
        let n = q
            .get("n")
            .and_then(|n| n.parse().ok())
            .or(knobs.catalog_page);
        return page(
            repos.into_iter().collect(),
            n,
            q.get("last"),
            "/v2/_catalog",
            "repositories",
        );
    }
    let rest = path.strip_prefix("/v2/").unwrap_or("");
    if let Some(repo) = rest.strip_suffix("/tags/list") {
        let mut tags: Vec<String> = state
            .manifests
            .lock()
            .unwrap()
            .keys()
            .filter(|(r, t)| r == repo && !t.starts_with("sha256:"))
            .map(|(_, t)| t.clone())
            .collect();
        if tags.is_empty() {
            return json_error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                "repository name not known to registry",
            );
        }
        tags.sort();
        tags.reverse(); // unsorted on purpose, like 2.8.2: the client sorts
        let n = q.get("n").and_then(|n| n.parse().ok()).or(knobs.tags_page);
        // pagination over the reversed order, keyed by position
        return page_tags(tags, n, q.get("last"), &format!("/v2/{repo}/tags/list"));
    }
    if let Some((repo, reference)) = rest.split_once("/manifests/") {
        return manifests(state, &knobs, method, repo, reference, headers, body);
    }
    if let Some((repo, tail)) = rest.split_once("/blobs/uploads/") {
        return uploads(state, &knobs, method, repo, tail, &q, headers, body);
    }
    if let Some((repo, digest)) = rest.split_once("/blobs/") {
        if !state
            .links
            .lock()
            .unwrap()
            .contains(&(repo.to_string(), digest.to_string()))
        {
            return json_error(
                StatusCode::NOT_FOUND,
                "BLOB_UNKNOWN",
                "blob unknown to registry",
            );
        }
        if knobs.redirect_blobs {
            let cdn = state.cdn_base.lock().unwrap().clone();
            return empty(StatusCode::TEMPORARY_REDIRECT)
                .header("location", format!("{cdn}/blob/{digest}"))
                .body(Body::empty())
                .unwrap();
        }
        let range = headers.get("range").and_then(|v| v.to_str().ok());
        return serve_blob(state, digest, *method == Method::HEAD, range);
    }
    Response::builder()
        .status(404)
        .header("content-type", "text/plain")
        .body(Body::from("404 page not found"))
        .unwrap()
}

fn page_tags(tags: Vec<String>, n: Option<usize>, last: Option<&String>, path: &str) -> Response {
    let start = last
        .and_then(|l| tags.iter().position(|t| t == l).map(|p| p + 1))
        .unwrap_or(0);
    let end = n.map(|n| (start + n).min(tags.len())).unwrap_or(tags.len());
    let mut b = empty(StatusCode::OK).header("content-type", "application/json");
    if end < tags.len() {
        b = b.header(
            "link",
            format!(
                r#"<{path}?n={}&last={}>; rel="next""#,
                n.unwrap(),
                tags[end - 1]
            ),
        );
    }
    b.body(Body::from(
        serde_json::json!({"name": "x", "tags": tags[start..end]}).to_string(),
    ))
    .unwrap()
}

fn manifests(
    state: &FakeState,
    knobs: &Knobs,
    method: &Method,
    repo: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    if *method == Method::PUT {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let v: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_INVALID",
                    "manifest invalid",
                )
            }
        };
        if v.get("mediaType").and_then(|m| m.as_str()) != Some(ct.as_str()) {
            return json_error(
                StatusCode::BAD_REQUEST,
                "MANIFEST_INVALID",
                "manifest invalid",
            );
        }
        let mut refs = vec![];
        if let Some(c) = v
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(|d| d.as_str())
        {
            refs.push(c.to_string());
        }
        for l in v
            .get("layers")
            .and_then(|l| l.as_array())
            .into_iter()
            .flatten()
        {
            refs.push(l["digest"].as_str().unwrap_or("").to_string());
        }
        let links = state.links.lock().unwrap();
        if refs
            .iter()
            .any(|d| !links.contains(&(repo.to_string(), d.clone())))
        {
            return json_error(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                "blob unknown to registry",
            );
        }
        drop(links);
        let d = Digest::of(&body);
        let mut m = state.manifests.lock().unwrap();
        m.insert((repo.into(), reference.into()), (body.clone(), ct.clone()));
        m.insert((repo.into(), d.to_string()), (body, ct));
        return empty(StatusCode::CREATED)
            .header("docker-content-digest", d.to_string())
            .header("location", format!("/v2/{repo}/manifests/{d}"))
            .body(Body::empty())
            .unwrap();
    }
    let found = match &knobs.manifest_override {
        Some(o) => Some(o.clone()),
        None => state
            .manifests
            .lock()
            .unwrap()
            .get(&(repo.to_string(), reference.to_string()))
            .cloned(),
    };
    let Some((bytes, ct)) = found else {
        return json_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        );
    };
    // 2.8.2: OCI content by tag is hidden from clients that do not accept it
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.contains("vnd.oci.") && !reference.starts_with("sha256:") && !accept.contains(&ct) {
        return json_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "OCI manifest found, but accept header does not support OCI manifests",
        );
    }
    let d = if knobs.manifest_override.is_some() && reference.starts_with("sha256:") {
        reference.to_string() // the liar claims the requested digest
    } else {
        Digest::of(&bytes).to_string()
    };
    let b = empty(StatusCode::OK)
        .header("content-type", ct)
        .header("docker-content-digest", d)
        .header("content-length", bytes.len());
    if *method == Method::HEAD {
        b.body(Body::empty()).unwrap()
    } else {
        b.body(Body::from(bytes)).unwrap()
    }
}

#[allow(clippy::too_many_arguments)]
fn uploads(
    state: &FakeState,
    knobs: &Knobs,
    method: &Method,
    repo: &str,
    tail: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let new_session = |data: Vec<u8>| {
        let uuid = format!("u{}", state.counter.fetch_add(1, Ordering::SeqCst));
        let len = data.len();
        state.uploads.lock().unwrap().insert(
            uuid.clone(),
            Upload {
                repo: repo.into(),
                data,
                state: 0,
            },
        );
        empty(StatusCode::ACCEPTED)
            // relative Location on purpose: the client must resolve it
            .header(
                "location",
                format!("/v2/{repo}/blobs/uploads/{uuid}?_state={uuid}-0"),
            )
            .header("range", format!("0-{}", len.saturating_sub(1)))
            .header("docker-upload-uuid", uuid)
            .body(Body::empty())
            .unwrap()
    };
    if *method == Method::POST && tail.is_empty() {
        if let (Some(mount), Some(from)) = (q.get("mount"), q.get("from")) {
            let mut links = state.links.lock().unwrap();
            if links.contains(&(from.clone(), mount.clone())) {
                links.insert((repo.into(), mount.clone()));
                return empty(StatusCode::CREATED)
                    .header("docker-content-digest", mount.as_str())
                    .header("location", format!("/v2/{repo}/blobs/{mount}"))
                    .body(Body::empty())
                    .unwrap();
            }
            drop(links);
            return new_session(Vec::new());
        }
        if let (Some(d), true) = (q.get("digest"), knobs.accept_single_post) {
            if Digest::of(&body).as_str() != d {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    "provided digest did not match uploaded content",
                );
            }
            state.blobs.lock().unwrap().insert(d.clone(), body);
            state.links.lock().unwrap().insert((repo.into(), d.clone()));
            return empty(StatusCode::CREATED)
                .header("docker-content-digest", d.as_str())
                .body(Body::empty())
                .unwrap();
        }
        // like 2.8.2: a body on POST is ignored
        return new_session(Vec::new());
    }
    let uuid = tail.to_string();
    let mut uploads = state.uploads.lock().unwrap();
    let Some(up) = uploads.get_mut(&uuid) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
        );
    };
    if up.repo != repo || q.get("_state") != Some(&format!("{uuid}-{}", up.state)) {
        return json_error(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_INVALID",
            "blob upload invalid",
        );
    }
    match *method {
        Method::PATCH => {
            if let Some(cr) = headers.get("content-range").and_then(|v| v.to_str().ok()) {
                let start: usize = cr
                    .split('-')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(usize::MAX);
                if start != up.data.len() {
                    return empty(StatusCode::RANGE_NOT_SATISFIABLE)
                        .body(Body::empty())
                        .unwrap();
                }
            }
            up.data.extend_from_slice(&body);
            up.state += 1;
            empty(StatusCode::ACCEPTED)
                .header(
                    "location",
                    format!("/v2/{repo}/blobs/uploads/{uuid}?_state={uuid}-{}", up.state),
                )
                .header("range", format!("0-{}", up.data.len().saturating_sub(1)))
                .body(Body::empty())
                .unwrap()
        }
        Method::PUT => {
            {
                let mut k = state.knobs.lock().unwrap();
                if k.fail_upload_puts > 0 {
                    k.fail_upload_puts -= 1;
                    return json_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "UNKNOWN",
                        "unknown error",
                    );
                }
            }
            up.data.extend_from_slice(&body);
            let d = Digest::of(&up.data);
            if q.get("digest") != Some(&d.to_string()) {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    "provided digest did not match uploaded content",
                );
            }
            let data = uploads.remove(&uuid).unwrap().data;
            state
                .blobs
                .lock()
                .unwrap()
                .insert(d.to_string(), Bytes::from(data));
            state
                .links
                .lock()
                .unwrap()
                .insert((repo.into(), d.to_string()));
            empty(StatusCode::CREATED)
                .header("docker-content-digest", d.to_string())
                .header("location", format!("/v2/{repo}/blobs/{d}"))
                .body(Body::empty())
                .unwrap()
        }
        Method::DELETE => {
            uploads.remove(&uuid);
            empty(StatusCode::NO_CONTENT).body(Body::empty()).unwrap()
        }
        _ => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "The operation is unsupported.",
        ),
    }
}
