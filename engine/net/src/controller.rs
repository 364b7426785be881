//! What the daemon drives: networks, endpoints and published ports, each operation either fully
//! done (kernel + state file) or undone.
use crate::bridge;
use crate::dns::table::{DnsTable, SharedTable};
use crate::error::{NetError, Result};
use crate::firewall::{Backend, Firewall, NatNetwork, PortMap};
use crate::netlink::{real::RealNetlink, Netlink};
use crate::network::{DaemonNetConfig, Driver, Network, NetworkCreate};
use crate::ports::publish::{BindProbe, PortProbe, Publisher};
use crate::ports::PortBinding;
use crate::store::{ConnectRequest, Endpoint, Store};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Per network namespace (Linux ≥ 5.3); defaults to 1 once br_netfilter is loaded.
pub const BRIDGE_NF_CALL_IPTABLES: &str = "net.bridge.bridge-nf-call-iptables";

pub struct ControllerConfig {
    /// e.g. `<data-root>/network` (berth keeps `networks.json` and `ports.json` there).
    pub state_dir: PathBuf,
    /// The namespace bridges and NAT live in; None = the daemon's own.
    pub host_netns: Option<PathBuf>,
    pub daemon: DaemonNetConfig,
    /// nftables or iptables; None = `Backend::detect()` (nft when installed).
    pub firewall: Option<Backend>,
}

/// A container end to open netlink in: its namespace path (`/proc/<pid>/ns/net`).
pub type NetnsPath<'a> = &'a Path;

/// Opens a netlink socket inside a container namespace (the real one setns()es on a thread).
pub trait NetlinkOpener: Send {
    fn open_in(&self, netns: &Path) -> Result<Box<dyn Netlink>>;
}

pub struct RealOpener;
impl NetlinkOpener for RealOpener {
    fn open_in(&self, netns: &Path) -> Result<Box<dyn Netlink>> {
        Ok(Box::new(RealNetlink::open_in(netns)?))
    }
}

pub struct NetController {
    store: Store,
    publisher: Publisher,
    host: Box<dyn Netlink>,
    opener: Box<dyn NetlinkOpener>,
    host_netns: Option<PathBuf>,
    dns: SharedTable,
    default_mtu: u32,
    /// Skip sysctls (unit tests with fakes have no namespace to write them in).
    sysctls: bool,
    /// Networks whose bridge, sysctls and NAT this instance has set up: later connects only
    /// look the bridge up (the setup costs a few namespace switches).
    ready: std::collections::HashMap<String, u32>,
}

impl NetController {
    /// The real thing: rtnetlink + nft (or iptables) + bind probes in `cfg.host_netns`.
    pub fn open(cfg: ControllerConfig) -> Result<NetController> {
        let fw = cfg.firewall.unwrap_or_else(Backend::detect).open(cfg.host_netns.as_deref())?;
        let (host, probe): (Box<dyn Netlink>, Box<dyn PortProbe>) = match &cfg.host_netns {
            Some(p) => (Box::new(RealNetlink::open_in(p)?), Box::new(BindProbe { netns: Some(p.clone()) })),
            None => (Box::new(RealNetlink::open()?), Box::new(BindProbe { netns: None })),
        };
        Self::with_parts(cfg, host, Box::new(RealOpener), fw, probe, true)
    }

    pub fn with_parts(cfg: ControllerConfig, host: Box<dyn Netlink>, opener: Box<dyn NetlinkOpener>, fw: Box<dyn Firewall>, probe: Box<dyn PortProbe>, sysctls: bool) -> Result<NetController> {
        let store = Store::open(&cfg.state_dir, &cfg.daemon)?;
        let publisher = Publisher::open(&cfg.state_dir, fw, probe)?;
        let mut c = NetController {
            store,
            publisher,
            host,
            opener,
            host_netns: cfg.host_netns,
            dns: Arc::new(RwLock::new(DnsTable::default())),
            default_mtu: cfg.daemon.mtu.unwrap_or(crate::network::DEFAULT_MTU),
            sysctls,
            ready: Default::default(),
        };
        c.rebuild_dns();
        Ok(c)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }
    /// The live name table the DNS servers answer from (see `dns::server::DnsServer`).
    pub fn dns_table(&self) -> SharedTable {
        self.dns.clone()
    }

    fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        if !self.sysctls {
            return Ok(());
        }
        match &self.host_netns {
            Some(p) => crate::netns::write_sysctl(p, key, value),
            None => Ok(std::fs::write(crate::netns::sysctl_path(key), value)?),
        }
    }

    /// Bridge device up with its gateway, forwarding on (Docker sets ip_forward=1 in the
    /// namespace the bridge lives in), loopback DNAT allowed, NAT rules present.
    fn bring_up_network(&mut self, n: &Network) -> Result<u32> {
        let (name, gw) = (n.bridge.clone().expect("bridge device"), n.gateway_cidr().expect("bridge gateway"));
        let created = self.host.link_by_name(&name)?.is_none();
        let idx = bridge::ensure_bridge(self.host.as_mut(), &name, n.mtu, gw)?;
        let rest = (|| -> Result<()> {
            bridge::bring_up_loopback(self.host.as_mut())?;
            self.sysctl("net.ipv4.ip_forward", "1")?;
            self.sysctl(&format!("net/ipv4/conf/{name}/route_localnet"), "1")?;
            // With br_netfilter, frames bridged between two containers also run through the
            // IPv4 hooks (conntrack, berth's chains) of this namespace: `cargo xtask bench net
            // --diagnose` measured container↔container at ~80 % of a bare veth with it, ~97 %
            // without. berth needs no bridged frame to be seen there (hairpin traffic is
            // masqueraded, so it is routed; --internal drops routed traffic only), so it turns
            // the per-namespace switch off. Best effort: absent without br_netfilter.
            let _ = self.sysctl(BRIDGE_NF_CALL_IPTABLES, "0");
            self.publisher.add_network(NatNetwork { bridge: name.clone(), subnet: n.subnet.expect("subnet"), internal: n.internal })
        })();
        if let Err(e) = rest {
            if created {
                let _ = bridge::remove_bridge(self.host.as_mut(), &name);
            }
            return Err(e);
        }
        self.ready.insert(n.id.clone(), idx);
        Ok(idx)
    }

    /// The bridge's index, setting the network up unless this instance already did and the
    /// device is still there under that index.
    fn ready_bridge(&mut self, n: &Network) -> Result<u32> {
        if let (Some(idx), Some(name)) = (self.ready.get(&n.id).copied(), n.bridge.as_deref()) {
            if self.host.link_by_name(name)?.map(|l| l.index) == Some(idx) {
                return Ok(idx);
            }
        }
        self.bring_up_network(n)
    }

    /// `docker network create`: the bridge device is created right away, as Docker does.
    pub fn create_network(&mut self, req: &NetworkCreate) -> Result<Network> {
        let n = self.store.create(req, self.default_mtu)?;
        if n.driver == Driver::Bridge {
            if let Err(e) = self.bring_up_network(&n) {
                let _ = self.store.remove(&n.id);
                return Err(e);
            }
        }
        Ok(n)
    }

    /// `docker network rm`: refuses pre-defined and in-use networks, then deletes the bridge
    /// and its NAT rules.
    pub fn remove_network(&mut self, key: &str) -> Result<Network> {
        // Kernel first, record last: a failure leaves the network listed, so `rm` can be retried.
        let n = self.store.check_removable(key)?;
        if let Some(b) = &n.bridge {
            self.publisher.remove_network(b)?;
            bridge::remove_bridge(self.host.as_mut(), b)?;
        }
        self.ready.remove(&n.id);
        self.store.remove(&n.id)
    }

    /// Attach a container (whose namespace is at `netns`) to a network. For `host` only the
    /// endpoint is recorded; for `none` only `lo` is brought up.
    pub fn connect(&mut self, key: &str, req: &ConnectRequest, netns: &Path) -> Result<Endpoint> {
        let n = self.store.get(key)?.clone();
        let ep = self.store.connect(&n.id, req)?;
        let r = (|| -> Result<()> {
            match n.driver {
                Driver::Host => Ok(()),
                Driver::Null => bridge::bring_up_loopback(self.opener.open_in(netns)?.as_mut()),
                Driver::Bridge => {
                    let idx = self.ready_bridge(&n)?;
                    let mut ctr = self.opener.open_in(netns)?;
                    let nsfile = std::fs::File::open(netns).map_err(|e| NetError::Netns { path: netns.display().to_string(), source: e })?;
                    bridge::attach(self.host.as_mut(), ctr.as_mut(), nsfile.as_raw_fd(), idx, &ep, n.mtu, n.internal).map(|_| ())
                }
            }
        })();
        if let Err(e) = r {
            let _ = self.store.disconnect(&n.id, &req.container_id);
            return Err(e);
        }
        self.rebuild_dns();
        Ok(ep)
    }

    /// A namespace that keeps no network at all (every network of the container was
    /// disconnected): only `lo`, up, as Docker's sandbox without endpoints.
    pub fn loopback_only(&self, netns: &Path) -> Result<()> {
        bridge::bring_up_loopback(self.opener.open_in(netns)?.as_mut())
    }

    /// Detach: unpublish its ports, delete the veth, release the address.
    pub fn disconnect(&mut self, key: &str, container_id: &str) -> Result<Endpoint> {
        let n = self.store.get(key)?.clone();
        let ep = self
            .store
            .endpoint(&n.id, container_id)
            .cloned()
            .ok_or_else(|| NetError::NotConnected { container: container_id.to_string(), network: n.name.clone() })?;
        self.publisher.unpublish(&ep.id)?;
        bridge::detach(self.host.as_mut(), &ep)?;
        let ep = self.store.disconnect(&n.id, container_id)?;
        self.rebuild_dns();
        Ok(ep)
    }

    /// Publish ports of the container's endpoint on `key` (all or none).
    pub fn publish(&mut self, key: &str, container_id: &str, bindings: &[PortBinding]) -> Result<Vec<PortMap>> {
        let n = self.store.get(key)?.clone();
        let ep = self
            .store
            .endpoint(&n.id, container_id)
            .cloned()
            .ok_or_else(|| NetError::NotConnected { container: container_id.to_string(), network: n.name.clone() })?;
        let ip = ep.ip.ok_or_else(|| NetError::PortSpec(format!("network {} has no addresses to publish to", n.name)))?;
        self.publisher.publish(&ep.id, ip, bindings)
    }

    /// `docker network prune`: remove every user network without endpoints; returns their names.
    pub fn prune(&mut self) -> Result<Vec<String>> {
        let unused: Vec<String> = self
            .store
            .networks()
            .iter()
            .filter(|n| !n.is_predefined() && self.store.endpoints_of(&n.id).is_empty())
            .map(|n| n.id.clone())
            .collect();
        let mut names = Vec::new();
        for id in unused {
            names.push(self.remove_network(&id)?.name);
        }
        Ok(names)
    }

    /// After a daemon restart: bridges back (they survive unless the namespace was recreated)
    /// and berth's firewall table re-applied from the state file.
    pub fn restore(&mut self) -> Result<()> {
        let nets: Vec<Network> = self.store.networks().iter().filter(|n| n.driver == Driver::Bridge).cloned().collect();
        for n in nets {
            let in_use = !self.store.endpoints_of(&n.id).is_empty();
            if !n.default_bridge || in_use {
                self.bring_up_network(&n)?;
            }
        }
        self.publisher.reapply()
    }

    /// Remove every device and rule berth made (daemon shutdown / lab reset). State is kept.
    /// Best effort: every step is tried, the first error is returned (netavark's teardown idiom).
    pub fn teardown_kernel(&mut self) -> Result<()> {
        let mut first: Option<NetError> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        let eps: Vec<Endpoint> = self.store.endpoints().to_vec();
        for ep in &eps {
            keep(bridge::detach(self.host.as_mut(), ep));
        }
        self.ready.clear();
        let bridges: Vec<String> = self.store.networks().iter().filter_map(|n| n.bridge.clone()).collect();
        for b in bridges {
            keep(bridge::remove_bridge(self.host.as_mut(), &b));
        }
        keep(self.publisher.clear());
        first.map_or(Ok(()), Err)
    }

    /// Start the embedded DNS server for a container on a user network: bound to
    /// 127.0.0.11:53 inside its namespace, answering from the live table. None when the
    /// container has no user network (default bridge, host, none). Keep it while the container
    /// runs; dropping it stops the server.
    /// `upstreams`: where unknown names are relayed (from the host namespace), normally
    /// `resolv::upstream_servers(<host resolv.conf>)` on port 53; empty = answer REFUSED.
    pub fn start_dns(&self, container_id: &str, netns: &Path, upstreams: &[std::net::SocketAddr]) -> Result<Option<crate::dns::server::DnsServer>> {
        let on_user_net = self.dns.read().expect("dns lock").member_of.contains_key(container_id);
        if !on_user_net {
            return Ok(None);
        }
        let fwd = if upstreams.is_empty() {
            None
        } else {
            Some(crate::dns::server::Forwarder::new(self.host_netns.as_deref(), upstreams.to_vec())?)
        };
        let addr = std::net::SocketAddr::from((crate::resolv::EMBEDDED_DNS.parse::<std::net::Ipv4Addr>().expect("ip"), 53));
        crate::dns::server::DnsServer::spawn_in(netns, addr, self.dns.clone(), container_id, fwd).map(Some)
    }

    fn rebuild_dns(&mut self) {
        let mut t = DnsTable::default();
        for ep in self.store.endpoints() {
            let Ok(n) = self.store.get(&ep.network_id) else { continue };
            let Some(ip) = ep.ip else { continue };
            if !n.has_embedded_dns() {
                continue;
            }
            let names = t.names.entry(n.id.clone()).or_default();
            let short = ep.container_id.get(..12).unwrap_or(&ep.container_id).to_string();
            for name in std::iter::once(&ep.container_name).chain(ep.aliases.iter()).chain(std::iter::once(&short)) {
                if !name.is_empty() {
                    names.push((name.to_ascii_lowercase(), ip));
                }
            }
            t.member_of.entry(ep.container_id.clone()).or_default().push(n.id.clone());
            if n.internal {
                t.internal.insert(n.id.clone());
            }
        }
        *self.dns.write().expect("dns lock") = t;
    }
}

/// The daemon keeps one controller behind a Mutex shared across request handlers.
#[allow(dead_code)]
fn _controller_is_send() {
    fn is_send<T: Send>() {}
    is_send::<NetController>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::fake::FakeFirewall;
    use crate::netlink::fake::FakeNetlink;
    use crate::ports::parse_port_spec;
    use crate::ports::Proto;
    use std::collections::HashMap;
    use std::net::Ipv4Addr;
    use std::sync::Mutex;

    /// Each container path gets its own fake namespace, wired as the host fake's veth peer sink.
    struct FakeOpener {
        nss: Arc<Mutex<HashMap<PathBuf, FakeNetlink>>>,
    }
    impl NetlinkOpener for FakeOpener {
        fn open_in(&self, netns: &Path) -> Result<Box<dyn Netlink>> {
            Ok(Box::new(self.nss.lock().unwrap().get(netns).cloned().expect("known ns")))
        }
    }
    struct Free;
    impl PortProbe for Free {
        fn is_free(&self, _: Ipv4Addr, _: u16, _: Proto) -> bool {
            true
        }
    }
    struct SharedFw(Arc<FakeFirewall>);
    impl Firewall for SharedFw {
        fn apply(&self, r: &crate::firewall::Ruleset) -> Result<()> {
            self.0.apply(r)
        }
        fn clear(&self) -> Result<()> {
            self.0.clear()
        }
    }

    #[test]
    fn lifecycle_with_fakes() {
        let dir = tempfile::tempdir().unwrap();
        let host = FakeNetlink::new();
        let fw = Arc::new(FakeFirewall::default());
        let nss = Arc::new(Mutex::new(HashMap::new()));
        let cfg = || ControllerConfig { state_dir: dir.path().into(), host_netns: None, daemon: DaemonNetConfig::default(), firewall: None };
        // The fake can only hold one peer sink; every container here shares it, which is fine
        // because each checks its own eth0 before the next is connected.
        let ctr = FakeNetlink::new();
        let mut h = host.clone();
        h.peer = Some(Box::new(ctr.clone()));
        // `dir` is a real path: File::open(netns) must succeed for bridge networks.
        let nspath = dir.path().to_path_buf();
        nss.lock().unwrap().insert(nspath.clone(), ctr.clone());
        let mut c = NetController::with_parts(cfg(), Box::new(h.clone()), Box::new(FakeOpener { nss: nss.clone() }), Box::new(SharedFw(fw.clone())), Box::new(Free), false).unwrap();
        let n = c.create_network(&NetworkCreate { name: "resnet".into(), ..Default::default() }).unwrap();
        let br = n.bridge.clone().unwrap();
        assert!(host.state.lock().unwrap().links.iter().any(|l| l.name == br));
        let req = ConnectRequest { container_id: "c".repeat(64), container_name: "/web".into(), aliases: vec!["www".into()], ip: None };
        let ep = c.connect("resnet", &req, &nspath).unwrap();
        assert_eq!(ep.ip.unwrap().to_string(), "172.18.0.2");
        let t = c.dns_table();
        assert_eq!(t.read().unwrap().lookup(&req.container_id, "www"), vec![ep.ip.unwrap()]);
        assert_eq!(t.read().unwrap().lookup(&req.container_id, "cccccccccccc"), vec![ep.ip.unwrap()]);
        c.publish("resnet", &req.container_id, &parse_port_spec("8000:80").unwrap()).unwrap();
        assert_eq!(fw.current.lock().unwrap().as_ref().unwrap().ports.len(), 1);
        let err = c.remove_network("resnet").unwrap_err();
        assert_eq!(err.status(), 403);
        // failure while attaching leaves no endpoint, no veth
        ctr.state.lock().unwrap().fail_on = Some("add_addr".into());
        let req2 = ConnectRequest { container_id: "d".repeat(64), container_name: "/db".into(), ..Default::default() };
        assert!(c.connect("resnet", &req2, &nspath).is_err());
        assert_eq!(c.store().endpoints().len(), 1);
        assert_eq!(host.state.lock().unwrap().links.iter().filter(|l| l.kind.as_deref() == Some("veth")).count(), 1);
        c.disconnect("resnet", &req.container_id).unwrap();
        assert!(fw.current.lock().unwrap().as_ref().unwrap().ports.is_empty());
        assert!(t.read().unwrap().lookup(&req.container_id, "www").is_empty());
        c.create_network(&NetworkCreate { name: "other".into(), ..Default::default() }).unwrap();
        assert_eq!(c.prune().unwrap(), ["resnet", "other"]);
        assert_eq!(c.store().networks().len(), 3, "pre-defined networks stay");
        assert_eq!(host.state.lock().unwrap().links.len(), 1, "only lo left");
        assert!(fw.current.lock().unwrap().is_none(), "no berth table once nothing is published");
    }
}
