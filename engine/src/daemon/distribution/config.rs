//! The registry client as `daemon.json` configures it: `insecure-registries` (hosts and CIDRs;
//! loopback is always insecure, as in Docker) and CA roots from `certs.d/<host>/*.crt` next to
//! the daemon's config file (`/etc/berth/certs.d` by default, like `/etc/docker/certs.d`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use berth_registry::{ClientConfig, RegistryClient, RegistryError};

use crate::daemon::config::DaemonConfig;

/// `<dir of daemon.json>/certs.d`: tests and labs point `--config-file` elsewhere and get their
/// own CA directory with it.
pub fn certs_dir(cfg: &DaemonConfig) -> PathBuf {
    cfg.config_file.parent().unwrap_or(Path::new("/etc/berth")).join("certs.d")
}

/// Every `certs.d/<host>/*.crt` (Docker reads `*.crt` as CA roots; `*.cert`/`*.key` are client
/// certificates, which berth does not support).
pub fn read_certs_d(dir: &Path) -> HashMap<String, Vec<Vec<u8>>> {
    let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for host in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = host.file_name().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(host.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "crt"))
            .collect();
        files.sort();
        for f in files {
            if let Ok(pem) = std::fs::read(&f) {
                out.entry(name.clone()).or_default().push(pem);
            }
        }
    }
    out
}

pub fn client_config(cfg: &DaemonConfig) -> ClientConfig {
    ClientConfig {
        insecure_registries: cfg.insecure_registries.clone(),
        registry_ca_certs: read_certs_d(&certs_dir(cfg)),
        user_agent: format!("berth/{} (linux)", crate::ENGINE_VERSION),
        ..ClientConfig::default()
    }
}

/// A client for one operation. Built per request so a changed `certs.d` is picked up without a
/// restart (Docker also reads it per connection).
pub fn registry_client(cfg: &DaemonConfig) -> Result<RegistryClient, RegistryError> {
    RegistryClient::new(client_config(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certs_d_layout() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path().join("reg.lab:5000");
        std::fs::create_dir_all(&h).unwrap();
        std::fs::write(h.join("ca.crt"), "PEM").unwrap();
        std::fs::write(h.join("client.key"), "KEY").unwrap();
        let m = read_certs_d(d.path());
        assert_eq!(m.len(), 1);
        assert_eq!(m["reg.lab:5000"], vec![b"PEM".to_vec()]);
        assert!(read_certs_d(&d.path().join("missing")).is_empty());
    }
}
