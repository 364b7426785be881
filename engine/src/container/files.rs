//! The per-container files bind-mounted into the container: hostname, hosts, resolv.conf.

use std::path::Path;

// Derived files, rewritten from the container's config whenever needed (Docker writes them
// without fsync too): atomic, but not worth an fsync each on the create path.
use crate::util::fs::write_atomic_volatile as write_atomic;

const HOSTS_BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// `hosts` content: the fixed header plus `<ip>\t<hostname>` per connected network.
pub fn hosts_content(entries: &[(String, String)]) -> String {
    let mut s = HOSTS_BASE.to_string();
    for (ip, name) in entries {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    s
}

/// Docker's resolv.conf for non-embedded-DNS networks: the host's file without localhost
/// nameservers (they do not work from another netns); Google DNS if nothing remains.
pub fn resolv_conf_content(host: &str) -> String {
    let mut out = String::new();
    let mut have_ns = false;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            have_ns = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !have_ns {
        out.push_str("\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// Write hostname, hosts, resolv.conf (+ resolv.conf.hash) into the container dir.
pub fn write_all(dir: &Path, hostname: &str, hosts_entries: &[(String, String)]) -> std::io::Result<()> {
    use sha2::Digest;
    write_atomic(&dir.join("hostname"), format!("{hostname}\n").as_bytes(), 0o644)?;
    write_atomic(&dir.join("hosts"), hosts_content(hosts_entries).as_bytes(), 0o644)?;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = resolv_conf_content(&host);
    write_atomic(&dir.join("resolv.conf"), resolv.as_bytes(), 0o644)?;
    let hash = format!("sha256:{}", hex::encode(sha2::Sha256::digest(resolv.as_bytes())));
    write_atomic(&dir.join("resolv.conf.hash"), hash.as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_filters_localhost() {
        assert_eq!(resolv_conf_content("nameserver 10.255.255.53\n"), "nameserver 10.255.255.53\n");
        let r = resolv_conf_content("nameserver 127.0.0.53\noptions edns0\n");
        assert!(r.contains("nameserver 8.8.8.8") && !r.contains("127.0.0.53"), "{r}");
    }

    #[test]
    fn hosts_lines() {
        let h = hosts_content(&[("172.17.0.2".into(), "b3e0206cb1f2".into())]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("172.17.0.2\tb3e0206cb1f2\n"));
    }
}
