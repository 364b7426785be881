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

/// The container's own line for one of its addresses. A dotted hostname is listed with its
/// first label too (`172.22.0.2\tc1.invalid c1`), as libnetwork's `updateHostsFile` does.
pub fn own_line(ip: Ipv4Addr, hostname: &str) -> String {
    match hostname.split_once('.') {
        Some((short, _)) if !short.is_empty() => format!("{ip}\t{hostname} {short}\n"),
        _ => format!("{ip}\t{hostname}\n"),
    }
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
        s.push_str(&own_line(*ip, hostname));
    }
    s
}

/// `network connect` of a running container: Docker appends the container's address on the new
/// network to the live file (other lines, even ones edited inside the container, are kept).
pub fn add_own(content: &str, ip: Ipv4Addr, hostname: &str) -> String {
    let line = own_line(ip, hostname);
    if content.lines().any(|l| format!("{l}\n") == line) {
        return content.to_string();
    }
    let mut s = content.to_string();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&line);
    s
}

/// `network disconnect`: only the line for the address on the network left goes (moby#48857;
/// Docker 20.10 dropped every line naming the hostname, moby#34044, which loses the container's
/// own name on its remaining networks).
pub fn remove_own(content: &str, ip: Ipv4Addr, hostname: &str) -> String {
    let line = own_line(ip, hostname);
    let mut s = String::new();
    for l in content.split_inclusive('\n') {
        let bare = l.strip_suffix('\n').unwrap_or(l);
        if format!("{bare}\n") != line {
            s.push_str(l);
        }
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

    #[test]
    fn dotted_hostname_lists_short_name() {
        assert_eq!(own_line("172.22.0.2".parse().unwrap(), "c1.invalid"), "172.22.0.2\tc1.invalid c1\n");
        assert_eq!(own_line("172.22.0.2".parse().unwrap(), "c1"), "172.22.0.2\tc1\n");
    }

    #[test]
    fn connect_then_disconnect_edits_only_own_lines() {
        let a: Ipv4Addr = "172.17.0.2".parse().unwrap();
        let b: Ipv4Addr = "10.1.0.2".parse().unwrap();
        // A line added inside the container (and an --add-host) must survive both edits.
        let start = format!("{}10.9.9.9\textra\n{a}\tweb\n# mine\n", DEFAULT_CONTENT);
        let connected = add_own(&start, b, "web");
        assert_eq!(connected, format!("{start}{b}\tweb\n"));
        assert_eq!(add_own(&connected, b, "web"), connected, "no duplicate line");
        assert_eq!(remove_own(&connected, b, "web"), start, "back to what it was");
        let left_first = remove_own(&connected, a, "web");
        assert_eq!(left_first, format!("{}10.9.9.9\textra\n# mine\n{b}\tweb\n", DEFAULT_CONTENT));
        assert_eq!(remove_own(&left_first, a, "web"), left_first, "absent line: unchanged");
        // No trailing newline in a user-edited file: the new line still starts on its own.
        assert_eq!(add_own("1.2.3.4\tx", b, "web"), format!("1.2.3.4\tx\n{b}\tweb\n"));
    }
}
