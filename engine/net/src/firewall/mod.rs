//! NAT for bridge networks and published ports. Every rule lives in berth's own `table ip berth`,
//! and every change replaces that table in one nft transaction, so teardown is exact: whatever
//! berth did not generate is never touched, and removing the table removes all of berth's rules.
//! Where `nft` is missing, `iptables::IptablesFirewall` holds the same rules in berth's own
//! `BERTH-*` chains. The backend is chosen once, when the controller opens.
pub mod exec;
pub mod fake;
pub mod iptables;
pub mod nft;

use crate::error::Result;
use crate::ports::Proto;
use crate::subnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

pub const TABLE: &str = "berth";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatNetwork {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: no masquerade, no traffic in or out of the bridge.
    pub internal: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMap {
    /// Endpoint that owns the mapping (unpublish removes all of an owner's maps).
    pub owner: String,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub proto: Proto,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ruleset {
    pub networks: Vec<NatNetwork>,
    pub ports: Vec<PortMap>,
}

/// Which tool programs the kernel (Docker 28's daemon.json `firewall-backend` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Nftables,
    Iptables,
}

impl Backend {
    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "nftables" | "nft" => Some(Backend::Nftables),
            "iptables" => Some(Backend::Iptables),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::Iptables => "iptables",
        }
    }
    /// nft when it is installed, else iptables (an error at first use if neither is).
    pub fn detect() -> Backend {
        if !exec::in_path("nft") && exec::in_path("iptables") && exec::in_path("iptables-restore") {
            Backend::Iptables
        } else {
            Backend::Nftables
        }
    }
    /// The firewall for this backend, in `netns` (None: the calling process's namespace).
    pub fn open(self, netns: Option<&std::path::Path>) -> Result<Box<dyn Firewall>> {
        Ok(match (self, netns) {
            (Backend::Nftables, None) => Box::new(nft::NftFirewall::new()),
            (Backend::Nftables, Some(p)) => Box::new(nft::NftFirewall::in_netns(p)?),
            (Backend::Iptables, None) => Box::new(iptables::IptablesFirewall::new()),
            (Backend::Iptables, Some(p)) => Box::new(iptables::IptablesFirewall::in_netns(p)?),
        })
    }
}

pub trait Firewall: Send + Sync {
    /// Replace berth's table with exactly this ruleset.
    fn apply(&self, rules: &Ruleset) -> Result<()>;
    /// Remove berth's table (no-op when absent).
    fn clear(&self) -> Result<()>;
}

impl Ruleset {
    /// (in, out) bridge pairs whose forwarded traffic is dropped: Docker's
    /// DOCKER-ISOLATION-STAGE-1/2 keep bridge networks from reaching each other, while each
    /// still reaches the outside. The pairs derive from `networks` alone, so a network's rules
    /// appear with it, vanish with it, and a rebuild from state cannot duplicate them.
    /// Internal networks are already cut off from every other interface above.
    pub fn isolated_pairs(&self) -> Vec<(&str, &str)> {
        let open: Vec<&str> = self.networks.iter().filter(|n| !n.internal).map(|n| n.bridge.as_str()).collect();
        let mut pairs = Vec::new();
        for a in &open {
            for b in &open {
                if a != b {
                    pairs.push((*a, *b));
                }
            }
        }
        pairs
    }

    /// nft script: create-then-delete makes the delete safe when the table does not exist yet;
    /// `nft -f` runs the whole script as one transaction.
    pub fn render(&self) -> String {
        let mut s = format!("table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n");
        s.push_str("\tchain ports {\n");
        for p in &self.ports {
            let daddr = if p.host_ip.is_unspecified() { String::new() } else { format!("ip daddr {} ", p.host_ip) };
            s.push_str(&format!(
                "\t\t{daddr}{proto} dport {} dnat to {}:{}\n",
                p.host_port, p.container_ip, p.container_port, proto = p.proto
            ));
        }
        s.push_str("\t}\n");
        // Only traffic addressed to this host is published (Docker: -m addrtype --dst-type LOCAL).
        s.push_str("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tfib daddr type local jump ports\n\t}\n");
        // Locally generated traffic, 127.0.0.1 included (route_localnet is set on the bridges).
        s.push_str("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n\t\tfib daddr type local jump ports\n\t}\n");
        s.push_str("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        for n in &self.networks {
            if !n.internal {
                s.push_str(&format!("\t\tip saddr {} oifname != \"{}\" masquerade\n", n.subnet.trunc(), n.bridge));
                // Hairpin: a container reaching a published port through the host's address must
                // see replies come back through the host, not straight from its neighbour.
                s.push_str(&format!("\t\tct status dnat ip saddr {sub} ip daddr {sub} oifname \"{}\" masquerade\n", n.bridge, sub = n.subnet.trunc()));
            }
            // Connections to a published port from 127.0.0.1 must not leave with a loopback source.
            s.push_str(&format!("\t\toifname \"{}\" ip saddr 127.0.0.0/8 masquerade\n", n.bridge));
        }
        s.push_str("\t}\n");
        s.push_str("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
        for n in self.networks.iter().filter(|n| n.internal) {
            s.push_str(&format!("\t\tiifname \"{b}\" oifname != \"{b}\" drop\n\t\toifname \"{b}\" iifname != \"{b}\" drop\n", b = n.bridge));
        }
        for (from, to) in self.isolated_pairs() {
            s.push_str(&format!("\t\tiifname \"{from}\" oifname \"{to}\" drop\n"));
        }
        s.push_str("\t}\n}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn render_ruleset() {
        let r = Ruleset {
            networks: vec![
                NatNetwork { bridge: "berth0".into(), subnet: "172.17.0.0/16".parse().unwrap(), internal: false },
                NatNetwork { bridge: "br-int".into(), subnet: "10.9.0.0/24".parse().unwrap(), internal: true },
            ],
            ports: vec![
                PortMap { owner: "e1".into(), host_ip: Ipv4Addr::UNSPECIFIED, host_port: 8000, proto: Proto::Tcp, container_ip: "172.17.0.2".parse().unwrap(), container_port: 80 },
                PortMap { owner: "e1".into(), host_ip: "127.0.0.1".parse().unwrap(), host_port: 5353, proto: Proto::Udp, container_ip: "172.17.0.2".parse().unwrap(), container_port: 53 },
            ],
        };
        let s = r.render();
        assert!(s.starts_with("table ip berth\ndelete table ip berth\ntable ip berth {\n"));
        assert!(s.contains("\t\ttcp dport 8000 dnat to 172.17.0.2:80\n"));
        assert!(s.contains("\t\tip daddr 127.0.0.1 udp dport 5353 dnat to 172.17.0.2:53\n"));
        assert!(s.contains("ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade"));
        assert!(!s.contains("ip saddr 10.9.0.0/24"), "internal networks are not masqueraded");
        assert!(s.contains("iifname \"br-int\" oifname != \"br-int\" drop"));
        assert!(s.contains("ct status dnat ip saddr 172.17.0.0/16 ip daddr 172.17.0.0/16 oifname \"berth0\" masquerade"));
        assert_eq!(s.matches('{').count(), s.matches('}').count());
        // One open network: nothing to isolate it from.
        assert!(!s.contains("oifname \"berth0\" drop"));
    }

    #[test]
    fn bridges_are_isolated_from_each_other_both_ways() {
        let net = |b: &str, sub: &str, internal| NatNetwork { bridge: b.into(), subnet: sub.parse().unwrap(), internal };
        let mut r = Ruleset {
            networks: vec![net("berth0", "172.17.0.0/16", false), net("br-a", "172.18.0.0/16", false), net("br-int", "10.9.0.0/24", true)],
            ports: vec![],
        };
        let s = r.render();
        assert!(s.contains("\t\tiifname \"berth0\" oifname \"br-a\" drop\n"));
        assert!(s.contains("\t\tiifname \"br-a\" oifname \"berth0\" drop\n"));
        assert_eq!(r.isolated_pairs(), [("berth0", "br-a"), ("br-a", "berth0")], "internal networks need no pair rules");
        // Traffic to the outside is not matched: only berth bridges are named as oifname.
        assert!(!s.contains("oifname != \"berth0\" drop"));
        // Removing the network removes its rules and leaves no trace of it.
        r.networks.remove(1);
        let s = r.render();
        assert!(!s.contains("br-a"), "{s}");
        assert!(r.isolated_pairs().is_empty());
    }
}
