//! `/etc/resolv.conf` for a container (content only; the daemon writes the file).
pub const EMBEDDED_DNS: &str = "127.0.0.11";
const FALLBACK: &str = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";

fn is_localhost_ns(addr: &str) -> bool {
    addr.starts_with("127.") || addr == "::1"
}

/// Default bridge, host and none: the host's file without localhost nameservers (they would
/// point at the container itself) and without IPv6 ones (no IPv6 in berth's networks); Google's
/// DNS if nothing remains, as Docker does.
pub fn filtered_host_resolv(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            match f.next() {
                Some(a) if is_localhost_ns(a) || a.contains(':') => continue,
                Some(_) => servers += 1,
                None => continue,
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str(FALLBACK);
    }
    out
}

/// Upstream servers a forwarder may use (what the filtered file lists).
pub fn upstream_servers(host: &str) -> Vec<String> {
    filtered_host_resolv(host)
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver ").map(|s| s.trim().to_string()))
        .collect()
}

/// User-defined networks: the embedded server, the host's search/options kept, `ndots:0` added.
pub fn embedded_resolv(host: &str) -> String {
    let mut out = format!("nameserver {EMBEDDED_DNS}\n");
    let mut opts: Vec<String> = Vec::new();
    for line in host.lines() {
        let t = line.trim_start();
        if t.starts_with("search ") || t.starts_with("domain ") {
            out.push_str(line);
            out.push('\n');
        } else if let Some(o) = t.strip_prefix("options ") {
            opts.extend(o.split_whitespace().filter(|o| !o.starts_with("ndots:")).map(String::from));
        }
    }
    opts.push("ndots:0".into());
    out.push_str(&format!("options {}\n", opts.join(" ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn filtering() {
        assert_eq!(filtered_host_resolv("nameserver 10.255.255.53\n"), "nameserver 10.255.255.53\n");
        assert_eq!(
            filtered_host_resolv("# x\nnameserver 127.0.0.53\nnameserver ::1\nsearch lan\n"),
            "# x\nsearch lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(upstream_servers("nameserver 127.0.0.1\nnameserver 10.0.0.2\n"), ["10.0.0.2"]);
        assert_eq!(embedded_resolv("nameserver 1.1.1.1\n"), "nameserver 127.0.0.11\noptions ndots:0\n");
        assert_eq!(embedded_resolv("search a.b\noptions edns0 ndots:5\n"), "nameserver 127.0.0.11\nsearch a.b\noptions edns0 ndots:0\n");
    }
}
