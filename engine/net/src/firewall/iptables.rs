//! iptables backend, for hosts without `nft` (the same rules as `table ip berth`, see
//! `Ruleset::render`). berth owns three chains — `BERTH-PORTS` and `BERTH-POSTROUTING` in `nat`,
//! `BERTH-FORWARD` in `filter` — and one jump into each from the built-in chains. An apply
//! rewrites berth's chains (and adds missing jumps) in one `iptables-restore --noflush`
//! transaction per run; a clear deletes exactly the jumps and chains berth made, so rules of
//! anything else on the host (Docker, a firewall) are never touched.
use super::exec::{NsRunner, Runner};
use super::{Firewall, Ruleset};
use crate::error::{NetError, Result};

pub const CHAIN_PORTS: &str = "BERTH-PORTS";
pub const CHAIN_POSTROUTING: &str = "BERTH-POSTROUTING";
pub const CHAIN_FORWARD: &str = "BERTH-FORWARD";
/// berth's chains are recognised by this prefix (teardown removes exactly those).
pub const PREFIX: &str = "BERTH-";

/// (table, berth chain, built-in chain, match of the jump). Only traffic addressed to this host
/// is published (Docker: `-m addrtype --dst-type LOCAL`); output covers 127.0.0.1 as well
/// (route_localnet is set on the bridges).
const JUMPS: &[(&str, &str, &str, &str)] = &[
    ("nat", CHAIN_PORTS, "PREROUTING", "-m addrtype --dst-type LOCAL"),
    ("nat", CHAIN_PORTS, "OUTPUT", "-m addrtype --dst-type LOCAL"),
    ("nat", CHAIN_POSTROUTING, "POSTROUTING", ""),
    ("filter", CHAIN_FORWARD, "FORWARD", ""),
];

pub struct IptablesFirewall {
    runner: Box<dyn Runner>,
}

/// Rules of one table as `iptables -S` lists them.
struct Listing {
    lines: Vec<String>,
}

impl Listing {
    fn user_chains(&self) -> Vec<&str> {
        self.lines.iter().filter_map(|l| l.strip_prefix("-N ")).collect()
    }
    /// `-A <built-in> … -j BERTH-…` lines: the jumps berth added.
    fn berth_jumps(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix("-A "))
            .filter(|r| !r.starts_with(PREFIX) && r.rsplit_once(" -j ").map(|(_, t)| t.starts_with(PREFIX)).unwrap_or(false))
            .collect()
    }
    fn has_jump(&self, builtin: &str, target: &str) -> bool {
        self.berth_jumps().iter().any(|r| r.starts_with(&format!("{builtin} ")) && r.ends_with(&format!(" -j {target}")))
    }
}

/// The rules of berth's chains, in iptables-restore syntax (`-A CHAIN …`), per table.
pub fn chain_rules(r: &Ruleset) -> (Vec<String>, Vec<String>) {
    let mut nat = Vec::new();
    for p in &r.ports {
        let daddr = if p.host_ip.is_unspecified() { String::new() } else { format!("-d {}/32 ", p.host_ip) };
        nat.push(format!(
            "-A {CHAIN_PORTS} {daddr}-p {proto} -m {proto} --dport {} -j DNAT --to-destination {}:{}",
            p.host_port,
            p.container_ip,
            p.container_port,
            proto = p.proto
        ));
    }
    for n in &r.networks {
        let (sub, br) = (n.subnet.trunc(), &n.bridge);
        if !n.internal {
            nat.push(format!("-A {CHAIN_POSTROUTING} -s {sub} ! -o {br} -j MASQUERADE"));
            // Hairpin: replies to a neighbour that used the host's address come back via the host.
            nat.push(format!("-A {CHAIN_POSTROUTING} -s {sub} -d {sub} -o {br} -m conntrack --ctstate DNAT -j MASQUERADE"));
        }
        // Connections to a published port from 127.0.0.1 must not leave with a loopback source.
        nat.push(format!("-A {CHAIN_POSTROUTING} -s 127.0.0.0/8 -o {br} -j MASQUERADE"));
    }
    let mut filter = Vec::new();
    for n in r.networks.iter().filter(|n| n.internal) {
        filter.push(format!("-A {CHAIN_FORWARD} -i {b} ! -o {b} -j DROP", b = n.bridge));
        filter.push(format!("-A {CHAIN_FORWARD} ! -i {b} -o {b} -j DROP", b = n.bridge));
    }
    // Bridge networks do not reach each other (Docker's DOCKER-ISOLATION-STAGE-1/2).
    for (from, to) in r.isolated_pairs() {
        filter.push(format!("-A {CHAIN_FORWARD} -i {from} -o {to} -j DROP"));
    }
    (nat, filter)
}

impl IptablesFirewall {
    pub fn new() -> IptablesFirewall {
        Self::with_runner(Box::new(NsRunner::current()))
    }
    pub fn in_netns(path: &std::path::Path) -> Result<IptablesFirewall> {
        Ok(Self::with_runner(Box::new(NsRunner::in_netns(path)?)))
    }
    pub fn with_runner(runner: Box<dyn Runner>) -> IptablesFirewall {
        IptablesFirewall { runner }
    }

    fn list(&self, table: &str) -> Result<Listing> {
        let out = self.runner.run("iptables", &["-w", "-t", table, "-S"], None).map_err(NetError::Firewall)?;
        Ok(Listing { lines: out.lines().map(str::to_string).collect() })
    }

    fn restore(&self, script: &str) -> Result<()> {
        self.runner.run("iptables-restore", &["-w", "--noflush"], Some(script)).map(|_| ()).map_err(NetError::Firewall)
    }

    /// The apply script: declaring a chain under `--noflush` creates it or empties it, so the
    /// chains end up holding exactly `rules`; jumps are inserted only where missing.
    pub fn apply_script(&self, rules: &Ruleset) -> Result<String> {
        let (nat, filter) = chain_rules(rules);
        let mut s = String::new();
        for (table, body) in [("nat", nat), ("filter", filter)] {
            let listing = self.list(table)?;
            s.push_str(&format!("*{table}\n"));
            let chains: Vec<&str> = JUMPS.iter().filter(|j| j.0 == table).map(|j| j.1).collect();
            let mut declared: Vec<&str> = Vec::new();
            for c in chains {
                if !declared.contains(&c) {
                    s.push_str(&format!(":{c} - [0:0]\n"));
                    declared.push(c);
                }
            }
            for r in body {
                s.push_str(&r);
                s.push('\n');
            }
            for (_, chain, builtin, m) in JUMPS.iter().filter(|j| j.0 == table) {
                if !listing.has_jump(builtin, chain) {
                    let m = if m.is_empty() { String::new() } else { format!("{m} ") };
                    s.push_str(&format!("-I {builtin} 1 {m}-j {chain}\n"));
                }
            }
            s.push_str("COMMIT\n");
        }
        Ok(s)
    }

    /// The clear script (None: nothing of berth's is there): every jump into a `BERTH-` chain,
    /// then those chains.
    pub fn clear_script(&self) -> Result<Option<String>> {
        let mut s = String::new();
        for table in ["nat", "filter"] {
            let listing = self.list(table)?;
            let jumps = listing.berth_jumps();
            let chains: Vec<&str> = listing.user_chains().into_iter().filter(|c| c.starts_with(PREFIX)).collect();
            if jumps.is_empty() && chains.is_empty() {
                continue;
            }
            s.push_str(&format!("*{table}\n"));
            for j in jumps {
                s.push_str(&format!("-D {j}\n"));
            }
            for c in &chains {
                s.push_str(&format!("-F {c}\n"));
            }
            for c in &chains {
                s.push_str(&format!("-X {c}\n"));
            }
            s.push_str("COMMIT\n");
        }
        Ok((!s.is_empty()).then_some(s))
    }
}

impl Default for IptablesFirewall {
    fn default() -> Self {
        Self::new()
    }
}

impl Firewall for IptablesFirewall {
    fn apply(&self, rules: &Ruleset) -> Result<()> {
        self.restore(&self.apply_script(rules)?)
    }
    fn clear(&self) -> Result<()> {
        match self.clear_script()? {
            Some(s) => self.restore(&s),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::fake::FakeIptables;
    use crate::firewall::{NatNetwork, PortMap};
    use crate::ports::Proto;
    use std::net::Ipv4Addr;

    fn ruleset() -> Ruleset {
        Ruleset {
            networks: vec![
                NatNetwork { bridge: "berth0".into(), subnet: "172.17.0.0/16".parse().unwrap(), internal: false },
                NatNetwork { bridge: "br-int".into(), subnet: "10.9.0.0/24".parse().unwrap(), internal: true },
            ],
            ports: vec![
                PortMap { owner: "e1".into(), host_ip: Ipv4Addr::UNSPECIFIED, host_port: 8000, proto: Proto::Tcp, container_ip: "172.17.0.2".parse().unwrap(), container_port: 80 },
                PortMap { owner: "e1".into(), host_ip: "127.0.0.1".parse().unwrap(), host_port: 5353, proto: Proto::Udp, container_ip: "172.17.0.2".parse().unwrap(), container_port: 53 },
            ],
        }
    }

    #[test]
    fn rules_mirror_the_nft_table() {
        let (nat, filter) = chain_rules(&ruleset());
        assert_eq!(
            nat,
            [
                "-A BERTH-PORTS -p tcp -m tcp --dport 8000 -j DNAT --to-destination 172.17.0.2:80",
                "-A BERTH-PORTS -d 127.0.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.2:53",
                "-A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o berth0 -j MASQUERADE",
                "-A BERTH-POSTROUTING -s 172.17.0.0/16 -d 172.17.0.0/16 -o berth0 -m conntrack --ctstate DNAT -j MASQUERADE",
                "-A BERTH-POSTROUTING -s 127.0.0.0/8 -o berth0 -j MASQUERADE",
                "-A BERTH-POSTROUTING -s 127.0.0.0/8 -o br-int -j MASQUERADE",
            ]
        );
        assert_eq!(filter, ["-A BERTH-FORWARD -i br-int ! -o br-int -j DROP", "-A BERTH-FORWARD ! -i br-int -o br-int -j DROP"]);
    }

    #[test]
    fn bridges_are_isolated_and_rm_removes_exactly_their_rules() {
        let fake = FakeIptables::default();
        fake.exec("filter", "-A FORWARD -i eth9 -j ACCEPT");
        let before = fake.dump();
        let fw = IptablesFirewall::with_runner(Box::new(fake.clone()));
        let mut r = ruleset();
        r.networks.push(NatNetwork { bridge: "br-a".into(), subnet: "172.18.0.0/16".parse().unwrap(), internal: false });
        fw.apply(&r).unwrap();
        // Applied twice (a daemon restart rebuilds from state): no duplicates.
        fw.apply(&r).unwrap();
        let filter = fake.listing("filter");
        for rule in ["-A BERTH-FORWARD -i berth0 -o br-a -j DROP", "-A BERTH-FORWARD -i br-a -o berth0 -j DROP"] {
            assert_eq!(filter.iter().filter(|l| *l == rule).count(), 1, "{filter:?}");
        }
        // network rm: its isolation rules go, the other bridge's own rules stay.
        r.networks.pop();
        fw.apply(&r).unwrap();
        let filter = fake.listing("filter");
        assert!(!filter.iter().any(|l| l.contains("br-a")), "{filter:?}");
        assert!(filter.contains(&"-A BERTH-FORWARD -i br-int ! -o br-int -j DROP".to_string()));
        fw.clear().unwrap();
        assert_eq!(fake.dump(), before);
    }

    #[test]
    fn apply_replaces_and_clear_restores_exactly() {
        let fake = FakeIptables::default();
        // Somebody else's rules and chain: berth must leave them as they are.
        fake.exec("nat", "-N DOCKER");
        fake.exec("nat", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER");
        fake.exec("filter", "-A FORWARD -i eth9 -j ACCEPT");
        let before = fake.dump();
        let fw = IptablesFirewall::with_runner(Box::new(fake.clone()));
        fw.apply(&ruleset()).unwrap();
        let nat = fake.listing("nat");
        assert!(nat.contains(&"-N BERTH-PORTS".to_string()) && nat.contains(&"-N BERTH-POSTROUTING".to_string()));
        assert!(nat.contains(&"-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-PORTS".to_string()), "{nat:?}");
        assert!(nat.contains(&"-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-PORTS".to_string()));
        assert!(nat.contains(&"-A BERTH-PORTS -p tcp -m tcp --dport 8000 -j DNAT --to-destination 172.17.0.2:80".to_string()));
        assert_eq!(fake.listing("filter").iter().filter(|l| l.ends_with("-j BERTH-FORWARD")).count(), 1);
        // A second apply with fewer rules: no duplicate jump, the dropped port is gone.
        let mut fewer = ruleset();
        fewer.ports.truncate(1);
        fw.apply(&fewer).unwrap();
        let nat = fake.listing("nat");
        assert_eq!(nat.iter().filter(|l| l.ends_with("-j BERTH-PORTS") && !l.starts_with("-A BERTH")).count(), 2, "{nat:?}");
        assert!(!nat.iter().any(|l| l.contains("5353")), "{nat:?}");
        assert_eq!(nat.iter().filter(|l| l.starts_with("-A BERTH-PORTS")).count(), 1);
        fw.clear().unwrap();
        assert_eq!(fake.dump(), before, "clear removes exactly what berth added");
        fw.clear().unwrap();
        assert_eq!(fake.scripts().len(), 3, "a clear with nothing of berth's left runs no restore");
    }

    #[test]
    fn failed_restore_changes_nothing() {
        let fake = FakeIptables::default();
        let fw = IptablesFirewall::with_runner(Box::new(fake.clone()));
        fw.apply(&ruleset()).unwrap();
        let before = fake.dump();
        *fake.fail_next_restore.lock().unwrap() = true;
        assert!(fw.apply(&Ruleset { networks: ruleset().networks, ports: vec![] }).is_err());
        assert_eq!(fake.dump(), before);
    }
}
