//! The real CNCF distribution registry (Debian `docker-registry`), run from a temp dir on a
//! free loopback port and killed by PID when the guard drops.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn registry_binary() -> PathBuf {
    let p = std::env::var_os("BERTH_DOCKER_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/docker-registry".into());
    if !p.exists() {
        panic!(
            "{} not found: these tests need the CNCF distribution registry. Install it with \
             `apt-get install -y docker-registry` (`cargo xtask ci` installs it), or set BERTH_DOCKER_REGISTRY",
            p.display()
        );
    }
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub enum Auth {
    None,
    /// htpasswd with bcrypt entries.
    Htpasswd(Vec<(String, String)>),
    /// Token auth: realm, service, issuer, root cert bundle path.
    Token {
        realm: String,
        service: String,
        issuer: String,
        rootcert: PathBuf,
    },
}

pub struct RealRegistry {
    child: Child,
    pub host: String,
    pub dir: tempfile::TempDir,
}

impl RealRegistry {
    pub fn start(auth: Auth) -> RealRegistry {
        Self::start_with(auth, None)
    }

    /// `tls`: (certificate chain PEM, key PEM) for `http.tls`.
    pub fn start_with(auth: Auth, tls: Option<(PathBuf, PathBuf)>) -> RealRegistry {
        let bin = registry_binary();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Htpasswd(users) => {
                let path = dir.path().join("htpasswd");
                let lines: String = users
                    .iter()
                    .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 5).unwrap()))
                    .collect();
                std::fs::write(&path, lines).unwrap();
                format!("auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n", path.display())
            }
            Auth::Token { realm, service, issuer, rootcert } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                rootcert.display()
            ),
        };
        let tls_yaml = match &tls {
            Some((cert, key)) => format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ),
            None => String::new(),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: berth-test-secret\n{tls_yaml}{auth_yaml}",
            storage.display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting docker-registry");
        let mut reg = RealRegistry { child, host, dir };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not listen on {} within 15 s:\n{}",
            self.host,
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for RealRegistry {
    fn drop(&mut self) {
        // Our own child, by PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
