//! `/etc/hosts` content as Docker writes it (docker-internals §3.3).
use std::net::Ipv4Addr;

pub const DEFAULT_CONTENT: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// A `--link` entry: the child's address, the alias, its hostname and its name.
#[derive(Clone, Debug)]
pub struct LinkHost {
    pub ip: Ipv4Addr,
    pub alias: String,
    pub hostname: String,
    pub name: String,
}

/// Docker lists alias, hostname, then the name only when it differs from the alias.
pub fn link_line(l: &LinkHost) -> String {
    let name = l.name.trim_start_matches('/');
    let mut hosts = format!("{} {}", l.alias, l.hostname);
    if l.alias != name {
        hosts.push(' ');
        hosts.push_str(name);
    }
    format!("{}\t{}\n", l.ip, hosts)
}

/// `own`: the container's address on each connected network (none for `--network none`).
/// `extra`: `--add-host name:ip` entries.
pub fn build_hosts(hostname: &str, own: &[Ipv4Addr], links: &[LinkHost], extra: &[(String, String)]) -> String {
    let mut s = String::from(DEFAULT_CONTENT);
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    for l in links {
        s.push_str(&link_line(l));
    }
    for ip in own {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bridge_none_and_link() {
        let h = build_hosts("b3e0206cb1f2", &["172.17.0.2".parse().unwrap()], &[], &[]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.ends_with("ff02::2\tip6-allrouters\n172.17.0.2\tb3e0206cb1f2\n"));
        assert_eq!(build_hosts("x", &[], &[], &[]), DEFAULT_CONTENT);
        let l = LinkHost { ip: "172.17.0.2".parse().unwrap(), alias: "haha".into(), hostname: "3e1a0cf17a18".into(), name: "/c1".into() };
        let h = build_hosts("c2host", &["172.17.0.3".parse().unwrap()], std::slice::from_ref(&l), &[]);
        assert!(h.ends_with("172.17.0.2\thaha 3e1a0cf17a18 c1\n172.17.0.3\tc2host\n"));
        let same = LinkHost { alias: "c1".into(), ..l };
        assert_eq!(link_line(&same), "172.17.0.2\tc1 3e1a0cf17a18\n");
    }
}
