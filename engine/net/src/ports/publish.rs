//! Host-port bookkeeping and the firewall state: which ports are published for which endpoint,
//! persisted next to the IPAM state so a restarted daemon re-applies the same rules.
use crate::error::{NetError, Result};
use crate::firewall::{Firewall, NatNetwork, PortMap, Ruleset};
use crate::ports::{PortBinding, Proto};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "ports.json";
pub const EPHEMERAL: (u16, u16) = (32768, 60999);

/// Is a host port free in the host namespace? (bind test; the real one binds a socket)
pub trait PortProbe: Send + Sync {
    fn is_free(&self, ip: Ipv4Addr, port: u16, proto: Proto) -> bool;
}

/// Binds a socket inside `netns` (or the current namespace) to see whether the port is taken.
pub struct BindProbe {
    pub netns: Option<PathBuf>,
}

impl PortProbe for BindProbe {
    fn is_free(&self, ip: Ipv4Addr, port: u16, proto: Proto) -> bool {
        // Only "in use" means taken; other bind errors (say, an address this host does not
        // have) are not a port conflict.
        let test = move || {
            let r = match proto {
                Proto::Tcp => std::net::TcpListener::bind((ip, port)).map(|_| ()),
                Proto::Udp => std::net::UdpSocket::bind((ip, port)).map(|_| ()),
            };
            !matches!(r, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
        };
        match &self.netns {
            Some(p) => crate::netns::run_in_netns(p, test).unwrap_or(false),
            None => test(),
        }
    }
}

pub struct Publisher {
    path: PathBuf,
    rules: Ruleset,
    firewall: Box<dyn Firewall>,
    probe: Box<dyn PortProbe>,
}

fn overlaps(a: Ipv4Addr, b: Ipv4Addr) -> bool {
    a == b || a.is_unspecified() || b.is_unspecified()
}

impl Publisher {
    /// Load the persisted ruleset (empty on first use). Call `reapply` after a restart.
    pub fn open(state_dir: &Path, firewall: Box<dyn Firewall>, probe: Box<dyn PortProbe>) -> Result<Publisher> {
        std::fs::create_dir_all(state_dir)?;
        let path = state_dir.join(STATE_FILE);
        let rules = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| NetError::State { path: path.display().to_string(), msg: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ruleset::default(),
            Err(e) => return Err(e.into()),
        };
        Ok(Publisher { path, rules, firewall, probe })
    }

    pub fn rules(&self) -> &Ruleset {
        &self.rules
    }

    fn save(&self) -> Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.rules).expect("serializes"))?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    /// Apply `next`; only on success does it become the state (kernel and file never disagree).
    fn commit(&mut self, next: Ruleset) -> Result<()> {
        // Nothing left to do: no table at all, so teardown leaves no chain behind either.
        if next == Ruleset::default() {
            self.firewall.clear()?;
        } else {
            self.firewall.apply(&next)?;
        }
        self.rules = next;
        self.save()
    }

    pub fn reapply(&self) -> Result<()> {
        if self.rules == Ruleset::default() {
            return self.firewall.clear();
        }
        self.firewall.apply(&self.rules)
    }

    /// Remove every berth rule (daemon shutdown without live-restore, tests).
    pub fn clear(&mut self) -> Result<()> {
        self.firewall.clear()?;
        self.rules = Ruleset::default();
        self.save()
    }

    pub fn add_network(&mut self, n: NatNetwork) -> Result<()> {
        if self.rules.networks.iter().any(|x| x == &n) {
            return Ok(());
        }
        let mut next = self.rules.clone();
        next.networks.retain(|x| x.bridge != n.bridge);
        next.networks.push(n);
        self.commit(next)
    }

    pub fn remove_network(&mut self, bridge: &str) -> Result<()> {
        let mut next = self.rules.clone();
        next.networks.retain(|x| x.bridge != bridge);
        if next == self.rules {
            return Ok(());
        }
        self.commit(next)
    }

    fn taken(&self, extra: &[PortMap], ip: Ipv4Addr, port: u16, proto: Proto) -> bool {
        self.rules.ports.iter().chain(extra).any(|p| p.proto == proto && p.host_port == port && overlaps(p.host_ip, ip))
    }

    /// Publish all of `bindings` for endpoint `owner` at `container_ip`, or none of them.
    pub fn publish(&mut self, owner: &str, container_ip: Ipv4Addr, bindings: &[PortBinding]) -> Result<Vec<PortMap>> {
        let mut added: Vec<PortMap> = Vec::new();
        for b in bindings {
            let host_port = match b.host_port {
                Some(p) => {
                    if self.taken(&added, b.host_ip, p, b.proto) || !self.probe.is_free(b.host_ip, p, b.proto) {
                        return Err(NetError::PortAllocated(b.host_ip.to_string(), p));
                    }
                    p
                }
                None => (EPHEMERAL.0..=EPHEMERAL.1)
                    .find(|p| !self.taken(&added, b.host_ip, *p, b.proto) && self.probe.is_free(b.host_ip, *p, b.proto))
                    .ok_or(NetError::PoolExhausted)?,
            };
            added.push(PortMap {
                owner: owner.to_string(),
                host_ip: b.host_ip,
                host_port,
                proto: b.proto,
                container_ip,
                container_port: b.container_port,
            });
        }
        if added.is_empty() {
            return Ok(added);
        }
        let mut next = self.rules.clone();
        next.ports.extend(added.iter().cloned());
        self.commit(next)?;
        Ok(added)
    }

    pub fn ports_of(&self, owner: &str) -> Vec<PortMap> {
        self.rules.ports.iter().filter(|p| p.owner == owner).cloned().collect()
    }

    pub fn unpublish(&mut self, owner: &str) -> Result<()> {
        let mut next = self.rules.clone();
        next.ports.retain(|p| p.owner != owner);
        if next == self.rules {
            return Ok(());
        }
        self.commit(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::fake::FakeFirewall;
    use crate::ports::parse_port_spec;
    use std::collections::HashSet;
    use std::sync::Arc;

    struct Busy(HashSet<u16>);
    impl PortProbe for Busy {
        fn is_free(&self, _: Ipv4Addr, port: u16, _: Proto) -> bool {
            !self.0.contains(&port)
        }
    }
    struct Shared(Arc<FakeFirewall>);
    impl Firewall for Shared {
        fn apply(&self, r: &Ruleset) -> Result<()> {
            self.0.apply(r)
        }
        fn clear(&self) -> Result<()> {
            self.0.clear()
        }
    }

    #[test]
    fn publish_conflicts_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let fw = Arc::new(FakeFirewall::default());
        let busy = Busy([9000u16, 32768].into_iter().collect());
        let mut p = Publisher::open(dir.path(), Box::new(Shared(fw.clone())), Box::new(busy)).unwrap();
        let ip: Ipv4Addr = "172.17.0.2".parse().unwrap();
        p.publish("e1", ip, &parse_port_spec("8000:80").unwrap()).unwrap();
        let err = p.publish("e2", ip, &parse_port_spec("127.0.0.1:8000:80").unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "Bind for 127.0.0.1:8000 failed: port is already allocated");
        let err = p.publish("e2", ip, &parse_port_spec("9000:80").unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "Bind for 0.0.0.0:9000 failed: port is already allocated");
        // udp on the same number is a different port
        p.publish("e2", ip, &parse_port_spec("8000:80/udp").unwrap()).unwrap();
        // all-or-nothing: the second binding conflicts, so the first is not kept
        assert!(p.publish("e3", ip, &parse_port_spec("8100:80").unwrap().into_iter().chain(parse_port_spec("8000:81").unwrap()).collect::<Vec<_>>()).is_err());
        assert!(p.ports_of("e3").is_empty());
        let r = p.publish("e3", ip, &parse_port_spec("80").unwrap()).unwrap();
        assert_eq!(r[0].host_port, 32769, "random port skips busy 32768");
        *fw.fail_next.lock().unwrap() = true;
        assert!(p.publish("e4", ip, &parse_port_spec("7000:80").unwrap()).is_err());
        assert!(p.ports_of("e4").is_empty(), "failed apply leaves no state");
        drop(p);
        let mut p = Publisher::open(dir.path(), Box::new(Shared(fw.clone())), Box::new(Busy(HashSet::new()))).unwrap();
        assert_eq!(p.rules().ports.len(), 3);
        p.unpublish("e1").unwrap();
        assert_eq!(fw.current.lock().unwrap().as_ref().unwrap().ports.len(), 2);
        p.clear().unwrap();
        assert!(fw.current.lock().unwrap().is_none());
    }
}
