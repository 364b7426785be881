//! berthd's container networking: one `berth_net::NetController` (state in
//! `<data-root>/network`, bridges and NAT in the daemon's namespace), driven at container start
//! (namespace, endpoints, ports, /etc files, embedded DNS) and at exit/removal (all released).
//! Create-time checks live in `network_create.rs`, inspect renderings in `network_view.rs`.
//!
//! Lock order: the container table (`Daemon::inner`) is never taken while the controller lock
//! is held, so list/inspect (which hold `inner`) may take the controller.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use berth_net::dns::server::DnsServer;
use berth_net::hosts_file::{self, LinkHost};
use berth_net::links::{self, LinkedContainer};
use berth_net::mode::{self, JoinTarget, NetworkMode};
use berth_net::network::{DaemonNetConfig, Driver};
use berth_net::ports::{parse_port_spec, PortBinding, Proto};
use berth_net::store::ConnectRequest;
use berth_net::{netns, resolv, ControllerConfig, NetController, NetError};
use serde_json::Value;

use super::config::DaemonConfig;
use super::error::DaemonError;
use super::network_create::ContainerNet;
use super::state::Daemon;
use crate::container::config::{Config, HostConfig};
use crate::container::record::Container;

/// The daemon's networking state: the controller and the DNS servers of running containers.
pub struct NetService {
    ctl: Mutex<NetController>,
    dns: Mutex<HashMap<String, DnsServer>>,
    /// Container namespaces bound to files here (`<exec-root>/netns/<id>`), as Docker's
    /// `/var/run/docker/netns`: they survive a daemon restart and are named in the OCI spec.
    netns_dir: PathBuf,
}

/// Docker's error class from the library's HTTP status.
pub fn net_err(e: NetError) -> DaemonError {
    let m = e.to_string();
    match e.status() {
        400 => DaemonError::InvalidParameter(m),
        403 => DaemonError::Forbidden(m),
        404 => DaemonError::NotFound(m),
        409 => DaemonError::Conflict(m),
        _ => DaemonError::System(m),
    }
}

impl NetService {
    /// Open (or create) the network state and put bridges and rules back after a restart.
    pub fn open(cfg: &DaemonConfig) -> Result<NetService, DaemonError> {
        let sys = |e: NetError| DaemonError::System(format!("networking: {e}"));
        let mut ctl = NetController::open(ControllerConfig {
            state_dir: cfg.data_root.join("network"),
            host_netns: None,
            daemon: DaemonNetConfig { bip: cfg.bip.clone(), mtu: Some(cfg.mtu), bridge_device: None },
            firewall: cfg.firewall_backend.as_deref().and_then(berth_net::firewall::Backend::parse),
        })
        .map_err(sys)?;
        ctl.restore().map_err(sys)?;
        Ok(NetService { ctl: Mutex::new(ctl), dns: Mutex::new(HashMap::new()), netns_dir: cfg.exec_root.join("netns") })
    }

    pub fn lock(&self) -> MutexGuard<'_, NetController> {
        self.ctl.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.netns_dir.join(id)
    }

    pub fn has_dns(&self, id: &str) -> bool {
        self.dns.lock().unwrap_or_else(|p| p.into_inner()).contains_key(id)
    }

    pub fn start_dns_for(&self, id: &str, ns: &Path) -> Result<(), DaemonError> {
        let servers = upstreams();
        let srv = self.lock().start_dns(id, ns, &servers).map_err(net_err)?;
        if let Some(s) = srv {
            self.dns.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), s);
        }
        Ok(())
    }
}

/// Where the embedded DNS relays names it does not know: the host's resolvers.
fn upstreams() -> Vec<SocketAddr> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    resolv::upstream_servers(&host).iter().filter_map(|s| s.parse::<Ipv4Addr>().ok()).map(|ip| SocketAddr::from((ip, 53))).collect()
}

/// Which network namespace the runtime puts the container in.
#[derive(Debug, Clone, PartialEq)]
pub enum NsChoice {
    /// Join the namespace at this path (a berth netns file or another container's).
    Path(PathBuf),
    /// The daemon's own namespace (`--network host`).
    Host,
}

/// What start needs to patch into the OCI spec.
#[derive(Debug, Clone)]
pub struct NetPlan {
    pub ns: NsChoice,
    /// Docker's link variables (`HAHA_PORT_80_TCP=…`).
    pub env: Vec<String>,
}

impl NetPlan {
    /// Point the spec's network namespace at the prepared one (or drop it for `host`) and add
    /// the link environment (container env wins over link env, as in Docker).
    pub fn apply(&self, oci: &mut Value) {
        if let Some(nss) = oci["linux"]["namespaces"].as_array_mut() {
            match &self.ns {
                NsChoice::Host => nss.retain(|n| n["type"] != "network"),
                NsChoice::Path(p) => {
                    for n in nss.iter_mut().filter(|n| n["type"] == "network") {
                        n["path"] = Value::String(p.display().to_string());
                    }
                }
            }
        }
        if let Some(env) = oci["process"]["env"].as_array_mut() {
            let key = |s: &str| s.split('=').next().unwrap_or("").to_string();
            let have: Vec<String> = env.iter().filter_map(|v| v.as_str().map(key)).collect();
            for kv in &self.env {
                if !have.contains(&key(kv)) {
                    env.push(Value::String(kv.clone()));
                }
            }
        }
    }
}

/// `HostConfig.PortBindings` (+ `-P`: every exposed port not bound) as bindings to publish.
pub fn port_bindings(hc: &HostConfig, cfg: &Config) -> Result<Vec<PortBinding>, DaemonError> {
    let mut out = Vec::new();
    let bad = |e: NetError| DaemonError::InvalidParameter(e.to_string());
    if let Some(Value::Object(m)) = &hc.port_bindings {
        for (key, list) in m {
            for b in list.as_array().into_iter().flatten() {
                let ip = b["HostIp"].as_str().unwrap_or("");
                let hp = b["HostPort"].as_str().unwrap_or("");
                let spec = if ip.is_empty() { format!("{hp}:{key}") } else { format!("{ip}:{hp}:{key}") };
                out.extend(parse_port_spec(&spec).map_err(bad)?);
            }
        }
    }
    if hc.publish_all_ports {
        let exposed: Vec<&str> = cfg.exposed_ports.iter().flat_map(|m| m.keys()).map(String::as_str).collect();
        for b in berth_net::ports::ports_from_expose(exposed).map_err(bad)? {
            if !out.iter().any(|o| o.container_port == b.container_port && o.proto == b.proto) {
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// `80/tcp` keys of a container's exposed ports.
pub fn exposed(c: &Container) -> Vec<(u16, Proto)> {
    let mut v: Vec<(u16, Proto)> = c
        .record
        .config
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys())
        .filter_map(|k| {
            let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
            Some((p.parse().ok()?, if proto == "udp" { Proto::Udp } else { Proto::Tcp }))
        })
        .collect();
    v.sort();
    v
}

/// A `--link` target, read from the container table before the controller is locked.
struct LinkTarget {
    id: String,
    name: String,
    hostname: String,
    alias: String,
    ports: Vec<(u16, Proto)>,
    env: Vec<String>,
}

/// Docker's wrapping of a publish failure (`docker run -p` on a taken port).
pub fn publish_err<T>(r: Result<T, NetError>, name: &str, endpoint_id: &str) -> Result<T, DaemonError> {
    r.map_err(|e| {
        let msg = format!("driver failed programming external connectivity on endpoint {name} ({endpoint_id}): {e}");
        match e {
            NetError::PortSpec(_) => DaemonError::InvalidParameter(msg),
            _ => DaemonError::System(msg),
        }
    })
}

pub fn write_file(dir: &Path, name: &str, content: &str) -> Result<(), DaemonError> {
    // In place, not rename: a running container's bind mount keeps pointing at this inode.
    std::fs::write(dir.join(name), content).map_err(|e| DaemonError::System(format!("{}: {e}", dir.join(name).display())))
}

impl Daemon {
    /// Everything the container's network needs before its process starts. On error nothing
    /// is left (no namespace file, endpoint, veth, rule or address).
    pub fn net_start(&self, c: &Container) -> Result<NetPlan, DaemonError> {
        let id = c.id().to_string();
        let r = self.net_start_inner(c);
        if r.is_err() {
            self.net_teardown(&id);
        }
        r
    }

    fn net_start_inner(&self, c: &Container) -> Result<NetPlan, DaemonError> {
        let id = c.id();
        let dir = self.store.dir(id);
        let cn = ContainerNet::load(&dir);
        let name = c.record.name.trim_start_matches('/').to_string();
        let hostname = c.record.config.hostname.clone();
        let links = self.link_targets(c, &cn)?;
        let mode = NetworkMode::parse(&c.host_config.network_mode);
        let req = |aliases: Vec<String>, ip| ConnectRequest { container_id: id.to_string(), container_name: name.clone(), aliases, ip };
        match mode {
            NetworkMode::Container(target) => {
                let t = self.get(&target).map_err(|_| DaemonError::NotFound(format!("No such container: {target}")))?;
                let running = t.record.state.running && !t.record.state.restarting;
                let ns = mode::container_netns(&JoinTarget { id: t.id(), running, pid: u32::try_from(t.record.state.pid).ok() }).map_err(net_err)?;
                // The joined container's view of names, as Docker shares its files.
                let tdir = self.store.dir(t.id());
                for f in ["hosts", "resolv.conf", "hostname"] {
                    let content = std::fs::read_to_string(tdir.join(f)).unwrap_or_default();
                    write_file(&dir, f, &content)?;
                }
                Ok(NetPlan { ns: NsChoice::Path(ns), env: vec![] })
            }
            NetworkMode::Host => {
                self.net.lock().connect("host", &req(vec![], None), Path::new("/proc/self/ns/net")).map_err(net_err)?;
                let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| hosts_file::DEFAULT_CONTENT.to_string());
                write_file(&dir, "hosts", &hosts)?;
                write_file(&dir, "resolv.conf", &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())?;
                write_file(&dir, "hostname", &format!("{hostname}\n"))?;
                Ok(NetPlan { ns: NsChoice::Host, env: vec![] })
            }
            NetworkMode::None | NetworkMode::Network(_) => {
                let ns = self.net.netns_path(id);
                let _ = netns::remove_bound(&ns);
                netns::create_bound(&ns).map_err(|e| DaemonError::System(e.to_string()))?;
                let primary = match &mode {
                    NetworkMode::Network(n) => n.clone(),
                    _ => "none".to_string(),
                };
                let bindings = port_bindings(&c.host_config, &c.record.config)?;
                let mut cn = cn;
                // Docker (allocateNetwork): a container left with no network at all gets its
                // user-defined NetworkMode network back at the next start; the default bridge
                // (and none) stay disconnected.
                if cn.primary_disconnected && cn.extra.is_empty() && !matches!(primary.as_str(), "bridge" | "default" | "none") {
                    cn.primary_disconnected = false;
                    cn.save(&dir)?;
                }
                let mut ctl = self.net.lock();
                if cn.primary_disconnected {
                    if cn.extra.is_empty() {
                        ctl.loopback_only(&ns).map_err(net_err)?;
                    }
                } else {
                    let ep = ctl.connect(&primary, &req(cn.aliases.clone(), cn.ip), &ns).map_err(net_err)?;
                    let primary_net = ctl.store().get(&primary).map_err(net_err)?.clone();
                    if !bindings.is_empty() && primary_net.driver == Driver::Bridge {
                        publish_err(ctl.publish(&primary, id, &bindings), &name, &ep.id)?;
                    }
                }
                for x in &cn.extra {
                    ctl.connect(&x.network_id, &req(x.aliases.clone(), x.ip), &ns).map_err(net_err)?;
                }
                let own: Vec<Ipv4Addr> = ctl.store().endpoints().iter().filter(|e| e.container_id == id).filter_map(|e| e.ip).collect();
                let on_user_net = ctl.store().endpoints().iter().filter(|e| e.container_id == id).any(|e| {
                    ctl.store().get(&e.network_id).map(|n| n.has_embedded_dns()).unwrap_or(false)
                });
                // A link resolves to the target's address on a network both share, else its first.
                let mut hosts_links = Vec::new();
                let mut env = Vec::new();
                for l in &links {
                    let teps: Vec<_> = ctl.store().endpoints().iter().filter(|e| e.container_id == l.id && e.ip.is_some()).collect();
                    let shared = teps.iter().find(|t| ctl.store().endpoint(&t.network_id, id).is_some()).or(teps.first());
                    let Some(ip) = shared.and_then(|e| e.ip) else { continue };
                    hosts_links.push(LinkHost { ip, alias: l.alias.clone(), hostname: l.hostname.clone(), name: l.name.clone() });
                    env.extend(links::link_env(&name, &l.alias, &LinkedContainer { ip, ports: l.ports.clone(), env: l.env.clone() }));
                }
                drop(ctl);
                let extra: Vec<(String, String)> = c
                    .host_config
                    .extra_hosts
                    .iter()
                    .flatten()
                    .filter_map(|h| h.split_once(':').map(|(n, ip)| (n.to_string(), ip.to_string())))
                    .collect();
                write_file(&dir, "hosts", &hosts_file::build_hosts(&hostname, &own, &hosts_links, &extra))?;
                let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                let rc = if on_user_net { resolv::embedded_resolv(&host_resolv) } else { resolv::filtered_host_resolv(&host_resolv) };
                write_file(&dir, "resolv.conf", &rc)?;
                write_file(&dir, "hostname", &format!("{hostname}\n"))?;
                self.net.start_dns_for(id, &ns)?;
                Ok(NetPlan { ns: NsChoice::Path(ns), env })
            }
        }
    }

    /// `--link` targets must exist and run when the linking container starts (Docker's texts).
    fn link_targets(&self, c: &Container, cn: &ContainerNet) -> Result<Vec<LinkTarget>, DaemonError> {
        let mut out = Vec::new();
        for l in &cn.links {
            let t = self
                .get(&l.name)
                .map_err(|e| DaemonError::InvalidParameter(format!("could not get container for {}: {e}", l.name)))?;
            if !t.record.state.running {
                return Err(DaemonError::System(format!("Cannot link to a non running container: {} AS {}/{}", t.record.name, c.record.name, l.alias)));
            }
            out.push(LinkTarget {
                id: t.id().to_string(),
                name: t.record.name.clone(),
                hostname: t.record.config.hostname.clone(),
                alias: l.alias.clone(),
                ports: exposed(&t),
                env: t.record.config.env.clone().unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Release everything a container's network holds: DNS server, endpoints (ports, veths,
    /// addresses), its namespace file. Safe to repeat; errors are logged, teardown goes on.
    pub fn net_teardown(&self, id: &str) {
        self.net.dns.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        let mut ctl = self.net.lock();
        let nets: Vec<String> = ctl.store().endpoints().iter().filter(|e| e.container_id == id).map(|e| e.network_id.clone()).collect();
        for n in nets {
            if let Err(e) = ctl.disconnect(&n, id) {
                tracing::warn!(container = %id, network = %n, error = %e, "network teardown failed");
            }
        }
        drop(ctl);
        if let Err(e) = netns::remove_bound(&self.net.netns_path(id)) {
            tracing::warn!(container = %id, error = %e, "can't remove the network namespace");
        }
    }

    /// At daemon start, before `recover`: endpoints and namespace files of containers that are
    /// gone or recorded as stopped are released (their processes cannot be using them).
    pub fn net_reconcile(&self) {
        let live: Vec<String> = {
            let g = self.inner.lock().unwrap();
            g.containers.values().filter(|c| c.record.state.running).map(|c| c.id().to_string()).collect()
        };
        let stale: Vec<String> = {
            let ctl = self.net.lock();
            let mut v: Vec<String> = ctl.store().endpoints().iter().map(|e| e.container_id.clone()).filter(|c| !live.contains(c)).collect();
            v.sort();
            v.dedup();
            v
        };
        let files: Vec<String> = std::fs::read_dir(&self.net.netns_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !live.contains(n))
            .collect();
        for id in stale.iter().chain(files.iter()) {
            self.net_teardown(id);
        }
    }

    /// After a restart, a running container on a user network gets its DNS server back (the
    /// old one died with the previous daemon; its socket went with it).
    pub fn net_recover(&self, id: &str, pid: i64) {
        let ns = self.net.netns_path(id);
        let ns = if ns.exists() { ns } else { PathBuf::from(format!("/proc/{pid}/ns/net")) };
        if let Err(e) = self.net.start_dns_for(id, &ns) {
            tracing::error!(container = %id, error = %e, "can't restart the embedded DNS server");
        }
    }

    /// Daemon shutdown: with no container running, bridges and berth's nft table go too (they
    /// come back at the next start or first use); running containers keep theirs.
    pub fn net_shutdown(&self) {
        let any_running = self.inner.lock().unwrap().containers.values().any(|c| c.record.state.running);
        self.net.dns.lock().unwrap_or_else(|p| p.into_inner()).clear();
        if !any_running {
            if let Err(e) = self.net.lock().teardown_kernel() {
                tracing::warn!(error = %e, "network teardown at shutdown failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plan_patches_spec() {
        let mut oci = json!({"process": {"env": ["A=1", "HAHA_NAME=mine"]}, "linux": {"namespaces": [{"type": "mount"}, {"type": "network"}]}});
        let p = NetPlan { ns: NsChoice::Path("/x/netns/c".into()), env: vec!["HAHA_NAME=/c2/haha".into(), "HAHA_PORT=tcp://1.2.3.4:80".into()] };
        p.apply(&mut oci);
        assert_eq!(oci["linux"]["namespaces"][1], json!({"type": "network", "path": "/x/netns/c"}));
        assert_eq!(oci["process"]["env"], json!(["A=1", "HAHA_NAME=mine", "HAHA_PORT=tcp://1.2.3.4:80"]));
        NetPlan { ns: NsChoice::Host, env: vec![] }.apply(&mut oci);
        assert_eq!(oci["linux"]["namespaces"], json!([{"type": "mount"}]));
    }
}
