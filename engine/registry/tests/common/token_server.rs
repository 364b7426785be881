//! A tiny Docker token server for the real registry's `auth.token` mode: RS256 JWTs signed
//! with a generated self-signed certificate (carried in the `x5c` header, chaining to the
//! registry's `rootcertbundle`). Signing is done by the openssl CLI to keep the test free of
//! crypto crates.
//!
//! Policy, Harbor-like: repositories under `public/` can be pulled anonymously; every other
//! access needs a known user; a refresh token (`offline_token=true`) can stand in for the
//! password later.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

pub const SERVICE: &str = "berth-test-registry";
pub const ISSUER: &str = "berth-test-issuer";

pub struct TokenServer {
    pub realm: String,
    pub cert: PathBuf,
    pub requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Ctx {
    key: PathBuf,
    x5c: String,
    users: HashMap<String, String>,
    refresh: Mutex<HashMap<String, String>>,
    requests: Arc<Mutex<Vec<String>>>,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TokenServer {
    pub async fn start(dir: &Path, users: &[(&str, &str)]) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let der = dir.join("token.der");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-days",
            "2",
            "-subj",
            "/CN=berth-test-token-signer",
        ]);
        openssl(&[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ]);
        let x5c = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&der).unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let ctx = Arc::new(Ctx {
            key,
            x5c,
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            refresh: Mutex::new(HashMap::new()),
            requests: requests.clone(),
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let realm = format!("http://{}/token", l.local_addr().unwrap());
        let app = axum::Router::new().fallback(token).with_state(ctx);
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        TokenServer {
            realm,
            cert,
            requests,
            task,
        }
    }
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
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
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn params(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|x| !x.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn unauthorized(msg: &str) -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({"errors":[{"code":"UNAUTHORIZED","message":msg}]}).to_string(),
        ))
        .unwrap()
}

async fn token(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let form = String::from_utf8_lossy(&body).to_string();
    ctx.requests
        .lock()
        .unwrap()
        .push(format!("{method} {query} {form}"));
    let mut p = params(&query);
    p.extend(params(&form));
    let get = |k: &str| p.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    // who is asking
    let mut user: Option<String> = None;
    if let Some(a) = auth.as_deref().and_then(|a| a.strip_prefix("Basic ")) {
        let dec = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(a)
                .unwrap_or_default(),
        )
        .unwrap_or_default();
        let (u, pw) = dec.split_once(':').unwrap_or((&dec, ""));
        if ctx.users.get(u).map(String::as_str) != Some(pw) {
            return unauthorized("incorrect username or password");
        }
        user = Some(u.to_string());
    }
    if get("grant_type").as_deref() == Some("refresh_token") {
        let rt = get("refresh_token").unwrap_or_default();
        match ctx.refresh.lock().unwrap().get(&rt) {
            Some(u) => user = Some(u.clone()),
            None => return unauthorized("invalid refresh token"),
        }
    }
    let scopes: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(String::from).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let mut access = Vec::new();
    for s in &scopes {
        let mut parts = s.splitn(3, ':');
        let (Some(typ), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let granted: Vec<&str> = actions
            .split(',')
            .filter(|a| match (typ, &user) {
                ("repository", Some(_)) => true,
                ("repository", None) => *a == "pull" && name.starts_with("public/"),
                ("registry", Some(_)) => true,
                _ => false,
            })
            .collect();
        access.push(serde_json::json!({"type": typ, "name": name, "actions": granted}));
    }
    let now = chrono::Utc::now().timestamp();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [ctx.x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user.clone().unwrap_or_default(), "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_id()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = sign(&ctx.key, signing_input.as_bytes()).await;
    let jwt = format!("{signing_input}.{}", b64url(&sig));
    let mut resp = serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": 300, "issued_at": chrono::Utc::now().to_rfc3339()});
    if get("offline_token").as_deref() == Some("true") {
        if let Some(u) = &user {
            let rt = format!("rt-{}", rand_id());
            ctx.refresh.lock().unwrap().insert(rt.clone(), u.clone());
            resp["refresh_token"] = serde_json::Value::String(rt);
        }
    }
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(resp.to_string()))
        .unwrap()
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::SeqCst)
}

async fn sign(key: &Path, data: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(data).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    out.stdout
}
