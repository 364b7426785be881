//! Client configuration and Docker's insecure-registry rules.

use crate::manifest::Platform;
use std::collections::HashMap;
use std::net::IpAddr;
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
    /// Attempts per layer upload (Docker: 5).
    pub upload_attempts: u32,
    /// Pause before upload retry n is n times this (Docker: 5 s).
    pub upload_retry_delay: Duration,
    /// Pause before a download resume attempt.
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
            upload_attempts: 5,
            upload_retry_delay: Duration::from_secs(5),
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
        let ip: Option<IpAddr> = bare
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok();
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
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
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
