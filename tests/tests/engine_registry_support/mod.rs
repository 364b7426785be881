//! Registries inside an [`Engine`] sandbox's network namespace: the real CNCF registry
//! (Debian `docker-registry`) and a small hand-written faulty one. Both are only reachable from
//! the sandbox (where berthd runs); processes are killed by PID on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_tests::engine::Engine;

pub fn registry_binary() -> PathBuf {
    let p = std::env::var_os("BERTH_DOCKER_REGISTRY").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/docker-registry".into());
    assert!(
        p.exists(),
        "{} not found: install it with `apt-get install -y docker-registry` (`cargo xtask ci` does), or set BERTH_DOCKER_REGISTRY",
        p.display()
    );
    p
}

/// `ip link set lo up` in the sandbox (a fresh netns has lo down), optionally adding `extra`
/// (`10.77.0.1/32`) as a non-loopback address on it.
pub fn netns_lo_up(e: &Engine, extra: Option<&str>) {
    let st = e.netns_command("ip").args(["link", "set", "lo", "up"]).status().expect("ip");
    assert!(st.success(), "ip link set lo up failed");
    if let Some(a) = extra {
        let st = e.netns_command("ip").args(["addr", "add", a, "dev", "lo"]).status().expect("ip");
        assert!(st.success(), "ip addr add {a} failed");
    }
}

/// Waits until something listens on `addr` inside the sandbox.
pub fn wait_listening(e: &Engine, addr: &str, what: &str, child: &mut Option<&mut Child>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let a = addr.to_string();
        if e.in_netns(move || TcpStream::connect(a).is_ok()) {
            return;
        }
        if let Some(c) = child.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                panic!("{what} exited ({st})");
            }
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {addr} within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct SandboxRegistry {
    child: Child,
    /// `host:port` as berthd reaches it.
    pub host: String,
    pub dir: tempfile::TempDir,
}

impl SandboxRegistry {
    /// docker-registry on `addr` (e.g. `127.0.0.1:5000`), with htpasswd auth when `users` is
    /// not empty.
    pub fn start(e: &Engine, addr: &str, users: &[(&str, &str)]) -> SandboxRegistry {
        Self::start_with(e, addr, users, None)
    }

    /// `tls`: (certificate PEM, key PEM) to serve HTTPS.
    pub fn start_with(e: &Engine, addr: &str, users: &[(&str, &str)], tls: Option<(PathBuf, PathBuf)>) -> SandboxRegistry {
        let bin = registry_binary();
        netns_lo_up(e, None);
        let dir = tempfile::Builder::new().prefix("berth-registry-").tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let auth = if users.is_empty() {
            String::new()
        } else {
            let path = dir.path().join("htpasswd");
            let lines: String = users.iter().map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 5).unwrap())).collect();
            std::fs::write(&path, lines).unwrap();
            format!("auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n", path.display())
        };
        let tls = match &tls {
            Some((cert, key)) => format!("  tls:\n    certificate: {}\n    key: {}\n", cert.display(), key.display()),
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: berth-test-secret\n{tls}{auth}",
            storage.display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let mut child = e
            .netns_command(bin.to_str().unwrap())
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        wait_listening(e, addr, "docker-registry", &mut Some(&mut child));
        SandboxRegistry { child, host: addr.to_string(), dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for SandboxRegistry {
    fn drop(&mut self) {
        // Our own child (nsenter exec'ed the registry: same PID).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One canned answer of the faulty registry.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Send only this many bytes of the body (announcing all of it), then close.
    pub cut_after: Option<usize>,
}

impl Answer {
    pub fn ok(content_type: &str, body: Vec<u8>) -> Answer {
        Answer { status: 200, content_type: content_type.into(), body, cut_after: None }
    }
}

/// A tiny HTTP/1.1 server in the sandbox answering `GET`/`HEAD <path>` from a table (404
/// otherwise); one thread per connection, `Connection: close`. It stops serving when dropped.
pub struct FaultyRegistry {
    pub host: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl FaultyRegistry {
    pub fn start(e: &Engine, addr: &str, routes: Vec<(String, Answer)>) -> FaultyRegistry {
        netns_lo_up(e, None);
        let a = addr.to_string();
        let listener = e.in_netns(move || TcpListener::bind(a).expect("bind faulty registry"));
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let routes = Arc::new(routes);
        std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let routes = routes.clone();
                        std::thread::spawn(move || serve(s, &routes));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FaultyRegistry { host: addr.to_string(), stop }
    }
}

impl Drop for FaultyRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn serve(s: TcpStream, routes: &[(String, Answer)]) {
    let _ = s.set_nonblocking(false);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let path = path.split('?').next().unwrap_or("").to_string();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    let ans = routes.iter().find(|(p, _)| *p == path).map(|(_, a)| a.clone()).unwrap_or(Answer {
        status: 404,
        content_type: "application/json".into(),
        body: br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
        cut_after: None,
    });
    let mut w = s;
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\nConnection: close\r\n\r\n",
        ans.status,
        ans.content_type,
        ans.body.len()
    );
    let _ = w.write_all(head.as_bytes());
    if method != "HEAD" {
        let n = ans.cut_after.unwrap_or(ans.body.len()).min(ans.body.len());
        let _ = w.write_all(&ans.body[..n]);
    }
    let _ = w.flush();
    let _ = w.shutdown(std::net::Shutdown::Both);
    let _ = r.read(&mut [0u8; 1]);
}
