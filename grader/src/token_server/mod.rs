//! A registry token service (the Docker token protocol, as Harbor's `/service/token`): the
//! lab's private registry is the real docker-registry with `auth: token`, and this service
//! decides who gets which access, by project (see [`policy`]), in JWTs the registry verifies
//! ([`jwt`]). Run inside a lab host as `berth-lab-host token-server …` (the lab's install script
//! starts it); every request is logged to stdout, one line each (`peer=10.1.1.12 GET
//! /service/token account=(anonymous) repository:test/app:pull -> []`): the lab's checks read it.
//!
//! `GET /service/token?service=…&scope=…[&account=…]` with optional Basic credentials, and
//! `POST` with a form (`grant_type=refresh_token` or `password`), answer
//! `{"token","access_token","expires_in","issued_at"[, "refresh_token"]}`; wrong credentials
//! answer 401, as Harbor does, so `docker login` fails.

pub mod jwt;
pub mod policy;

use base64::Engine as _;
use policy::{Policy, Scope};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Lifetime of an access token, seconds.
const EXPIRES_IN: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum TokenServerError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Jwt(#[from] jwt::JwtError),
    #[error("listening on {0}: {1}")]
    Listen(String, std::io::Error),
}

pub struct Config {
    pub listen: String,
    pub service: String,
    pub issuer: String,
    pub key: PathBuf,
    pub cert: PathBuf,
    pub policy: Policy,
}

pub const USAGE: &str = "usage: berth-lab-host token-server --listen ADDR:PORT --service NAME --issuer NAME --key KEY.pem --cert CERT.pem [--user NAME:PASSWORD]… [--public PROJECT]… [--private PROJECT]…";

impl Config {
    /// `--flag value` pairs, repeatable `--user`, `--public`, `--private`.
    pub fn from_args(args: &[String]) -> Result<Config, TokenServerError> {
        let mut c = Config {
            listen: String::new(),
            service: String::new(),
            issuer: String::new(),
            key: PathBuf::new(),
            cert: PathBuf::new(),
            policy: Policy::default(),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let v = it
                .next()
                .ok_or_else(|| TokenServerError::Usage(format!("{flag} needs a value\n{USAGE}")))?;
            match flag.as_str() {
                "--listen" => c.listen = v.clone(),
                "--service" => c.service = v.clone(),
                "--issuer" => c.issuer = v.clone(),
                "--key" => c.key = v.into(),
                "--cert" => c.cert = v.into(),
                "--user" => {
                    let (u, p) = v.split_once(':').ok_or_else(|| {
                        TokenServerError::Usage(format!("--user takes NAME:PASSWORD, not {v:?}"))
                    })?;
                    c.policy.users.insert(u.into(), p.into());
                }
                "--public" => {
                    c.policy.projects.insert(v.clone(), true);
                }
                "--private" => {
                    c.policy.projects.insert(v.clone(), false);
                }
                f => {
                    return Err(TokenServerError::Usage(format!(
                        "unknown flag {f}\n{USAGE}"
                    )))
                }
            }
        }
        for (name, empty) in [
            ("--listen", c.listen.is_empty()),
            ("--service", c.service.is_empty()),
            ("--issuer", c.issuer.is_empty()),
            ("--key", c.key.as_os_str().is_empty()),
            ("--cert", c.cert.as_os_str().is_empty()),
        ] {
            if empty {
                return Err(TokenServerError::Usage(format!("missing {name}\n{USAGE}")));
            }
        }
        Ok(c)
    }
}

struct Server {
    config: Config,
    signer: jwt::Signer,
    /// refresh token -> user (from `docker login`, `offline_token=true`)
    refresh: Mutex<HashMap<String, String>>,
}

/// Serves until killed.
pub fn serve(config: Config) -> Result<(), TokenServerError> {
    let signer = jwt::Signer::load(&config.key, &config.cert)?;
    let l = TcpListener::bind(&config.listen)
        .map_err(|e| TokenServerError::Listen(config.listen.clone(), e))?;
    println!(
        "token service {} for {} listening on {}",
        config.issuer, config.service, config.listen
    );
    let srv = Arc::new(Server {
        config,
        signer,
        refresh: Mutex::new(HashMap::new()),
    });
    for s in l.incoming().flatten() {
        let srv = srv.clone();
        std::thread::spawn(move || {
            let _ = srv.handle(s);
        });
    }
    Ok(())
}

/// A parsed request: method, path, query+form parameters, Authorization header.
struct Request {
    method: String,
    path: String,
    params: Vec<(String, String)>,
    authorization: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(s: &str) -> impl Iterator<Item = (String, String)> + '_ {
    s.split('&').filter(|x| !x.is_empty()).map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn read_request(s: &TcpStream) -> std::io::Result<Request> {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let (mut len, mut authorization) = (0usize, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len.min(1 << 16)];
    r.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params: Vec<(String, String)> = form(query).collect();
    params.extend(form(&String::from_utf8_lossy(&body)).collect::<Vec<_>>());
    Ok(Request {
        method,
        path: path.to_string(),
        params,
        authorization,
    })
}

fn respond(mut s: &TcpStream, status: &str, body: &serde_json::Value) -> std::io::Result<()> {
    let body = body.to_string();
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn unauthorized(s: &TcpStream, message: &str) -> std::io::Result<()> {
    respond(
        s,
        "401 Unauthorized",
        &serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": message}]}),
    )
}

fn random_id() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Server {
    fn handle(&self, s: TcpStream) -> std::io::Result<()> {
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        let peer = s
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| "?".into());
        let req = read_request(&s)?;
        let get = |k: &str| {
            req.params
                .iter()
                .find(|(x, _)| x == k)
                .map(|(_, v)| v.as_str())
        };
        if !req.path.ends_with("/token") {
            return respond(
                &s,
                "404 Not Found",
                &serde_json::json!({"errors": [{"code": "NOT_FOUND", "message": "only /service/token is served here"}]}),
            );
        }
        // Who is asking: Basic credentials, a refresh token, a password grant, or nobody.
        let mut user: Option<String> = None;
        if let Some(b) = req
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
        {
            let dec = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .unwrap_or_default();
            let (u, p) = dec.split_once(':').unwrap_or((&dec, ""));
            if !self.config.policy.authenticate(u, p) {
                println!(
                    "peer={peer} {} {} account={u} wrong username or password",
                    req.method, req.path
                );
                return unauthorized(&s, "authentication required");
            }
            user = Some(u.to_string());
        }
        match get("grant_type") {
            Some("refresh_token") => {
                let rt = get("refresh_token").unwrap_or("");
                match self.refresh.lock().ok().and_then(|m| m.get(rt).cloned()) {
                    Some(u) => user = Some(u),
                    None => return unauthorized(&s, "invalid refresh token"),
                }
            }
            Some("password") => {
                let (u, p) = (get("username").unwrap_or(""), get("password").unwrap_or(""));
                if !self.config.policy.authenticate(u, p) {
                    return unauthorized(&s, "authentication required");
                }
                user = Some(u.to_string());
            }
            _ => {}
        }
        if get("service").is_some_and(|sv| sv != self.config.service) {
            return respond(
                &s,
                "400 Bad Request",
                &serde_json::json!({"errors": [{"code": "INVALID_REQUEST", "message": format!("unknown service, this is {}", self.config.service)}]}),
            );
        }
        let mut access = Vec::new();
        let mut log = Vec::new();
        for sc in req
            .params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' '))
            .filter_map(Scope::parse)
        {
            let granted = self.config.policy.grant(user.as_deref(), &sc);
            log.push(format!(
                "{}:{}:{} -> [{}]",
                sc.typ,
                sc.name,
                sc.actions.join(","),
                granted.join(",")
            ));
            access.push(serde_json::json!({"type": sc.typ, "name": sc.name, "actions": granted}));
        }
        let now = chrono::Utc::now();
        let t = now.timestamp();
        let claims = serde_json::json!({
            "iss": self.config.issuer,
            "sub": user.clone().unwrap_or_default(),
            "aud": self.config.service,
            "exp": t + EXPIRES_IN,
            "nbf": t - 10,
            "iat": t,
            "jti": random_id(),
            "access": access,
        });
        let token = match self.signer.sign(&claims) {
            Ok(t) => t,
            Err(e) => {
                return respond(
                    &s,
                    "500 Internal Server Error",
                    &serde_json::json!({"errors": [{"code": "UNKNOWN", "message": e.to_string()}]}),
                )
            }
        };
        let mut body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": EXPIRES_IN,
            "issued_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        if let (Some(u), Some("true")) = (&user, get("offline_token")) {
            let rt = random_id();
            if let Ok(mut m) = self.refresh.lock() {
                m.insert(rt.clone(), u.clone());
            }
            body["refresh_token"] = serde_json::Value::String(rt);
        }
        println!(
            "peer={peer} {} {} account={} {}",
            req.method,
            req.path,
            user.as_deref().unwrap_or("(anonymous)"),
            if log.is_empty() {
                "(login)".to_string()
            } else {
                log.join(" ")
            }
        );
        respond(&s, "200 OK", &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_strings() {
        let p: Vec<_> =
            form("scope=repository%3Atest%2Fhello%3Apull%2Cpush&account=admin&x=a+b").collect();
        assert_eq!(p[0].1, "repository:test/hello:pull,push");
        assert_eq!(p[1], ("account".into(), "admin".into()));
        assert_eq!(p[2].1, "a b");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn config_from_args() {
        let a: Vec<String> = "--listen 0.0.0.0:5001 --service harbor-registry --issuer harbor-token-issuer --key k --cert c --user admin:123 --public library --private test"
            .split(' ')
            .map(String::from)
            .collect();
        let c = Config::from_args(&a).unwrap();
        assert_eq!(c.policy.projects.get("test"), Some(&false));
        assert!(c.policy.authenticate("admin", "123"));
        let e = Config::from_args(&a[..4]).err().unwrap().to_string();
        assert!(e.starts_with("missing --issuer"), "{e}");
    }
}
