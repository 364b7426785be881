//! The `/networks` operations on the daemon: create/list/inspect/remove/prune, and connecting
//! containers (running ones at once, stopped ones at their next start).

use std::net::Ipv4Addr;
use std::path::Path;

use berth_net::{hosts_file, inspect, resolv};
use berth_net::mode::NetworkMode;
use berth_net::network::{Driver, NetworkCreate};
use berth_net::store::ConnectRequest;
use berth_net::NetError;
use serde_json::{json, Value};

use super::error::DaemonError;
use super::network::net_err;
use super::network_create::{ContainerNet, ExtraNet};
use super::state::Daemon;

/// `GET /networks?filters=`: Docker's `name` (substring), `id` (prefix), `driver`,
/// `type` (custom|builtin) and `label` filters.
#[derive(Debug, Default)]
pub struct NetFilter {
    pub name: Vec<String>,
    pub id: Vec<String>,
    pub driver: Vec<String>,
    pub kind: Vec<String>,
    pub label: Vec<String>,
}

impl NetFilter {
    pub fn parse(s: Option<&str>) -> Result<NetFilter, DaemonError> {
        let mut f = NetFilter::default();
        let Some(s) = s.filter(|s| !s.is_empty()) else { return Ok(f) };
        let v: Value = serde_json::from_str(s).map_err(|e| DaemonError::InvalidParameter(format!("invalid filter: {e}")))?;
        for (k, vals) in v.as_object().into_iter().flatten() {
            let list: Vec<String> = match vals {
                Value::Object(m) => m.keys().cloned().collect(),
                Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
                _ => vec![],
            };
            match k.as_str() {
                "name" => f.name = list,
                "id" => f.id = list,
                "driver" => f.driver = list,
                "type" => f.kind = list,
                "label" => f.label = list,
                "until" | "scope" | "dangling" => {}
                other => return Err(DaemonError::InvalidParameter(format!("invalid filter '{other}'"))),
            }
        }
        Ok(f)
    }

    fn matches(&self, n: &berth_net::network::Network) -> bool {
        let kind = if n.is_predefined() { "builtin" } else { "custom" };
        (self.name.is_empty() || self.name.iter().any(|x| n.name.contains(x.as_str())))
            && (self.id.is_empty() || self.id.iter().any(|x| n.id.starts_with(x.as_str())))
            && (self.driver.is_empty() || self.driver.iter().any(|x| x == n.driver.as_str()))
            && (self.kind.is_empty() || self.kind.iter().any(|x| x == kind))
            && (self.label.is_empty()
                || self.label.iter().all(|l| match l.split_once('=') {
                    Some((k, v)) => n.labels.get(k).map(|x| x == v).unwrap_or(false),
                    None => n.labels.contains_key(l),
                }))
    }
}

/// The `POST /networks/create` body as the docker CLI sends it.
pub fn create_request(body: &Value) -> Result<NetworkCreate, DaemonError> {
    let name = body["Name"].as_str().unwrap_or("").to_string();
    if name.is_empty() {
        return Err(DaemonError::InvalidParameter("invalid name: network name must not be empty".into()));
    }
    let cfg = body["IPAM"]["Config"].as_array().cloned().unwrap_or_default();
    if cfg.len() > 1 {
        return Err(DaemonError::InvalidParameter("berth supports one IPv4 subnet per network".into()));
    }
    let field = |k: &str| cfg.first().and_then(|c| c[k].as_str()).filter(|s| !s.is_empty()).map(String::from);
    let map = |v: &Value| -> std::collections::BTreeMap<String, String> {
        v.as_object().into_iter().flatten().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect()
    };
    Ok(NetworkCreate {
        name,
        driver: body["Driver"].as_str().unwrap_or("").to_string(),
        subnet: field("Subnet"),
        gateway: field("Gateway"),
        ip_range: field("IPRange"),
        options: map(&body["Options"]),
        labels: map(&body["Labels"]),
        internal: body["Internal"].as_bool().unwrap_or(false),
    })
}

impl Daemon {
    pub fn network_list(&self, f: &NetFilter) -> Vec<Value> {
        let ctl = self.net.lock();
        let st = ctl.store();
        st.networks().iter().filter(|n| f.matches(n)).map(|n| inspect::network_json(n, &[])).collect()
    }

    pub fn network_inspect(&self, key: &str) -> Result<Value, DaemonError> {
        let ctl = self.net.lock();
        let st = ctl.store();
        let n = st.get(key).map_err(net_err)?;
        Ok(inspect::network_json(n, &st.endpoints_of(&n.id)))
    }

    pub fn network_create(&self, req: &NetworkCreate) -> Result<String, DaemonError> {
        Ok(self.net.lock().create_network(req).map_err(net_err)?.id)
    }

    pub fn network_remove(&self, key: &str) -> Result<(), DaemonError> {
        self.net.lock().remove_network(key).map(|_| ()).map_err(net_err)
    }

    pub fn network_prune(&self) -> Result<Vec<String>, DaemonError> {
        self.net.lock().prune().map_err(net_err)
    }

    /// The id of the container's `NetworkMode` network (`none` included; None for host and
    /// container: modes, which have no network of their own to connect or leave).
    fn primary_network_id(&self, ctl: &berth_net::NetController, c: &crate::container::record::Container) -> Option<String> {
        match NetworkMode::parse(&c.host_config.network_mode) {
            NetworkMode::Network(n) => ctl.store().get(&n).ok().map(|n| n.id.clone()),
            NetworkMode::None => ctl.store().get("none").ok().map(|n| n.id.clone()),
            NetworkMode::Host | NetworkMode::Container(_) => None,
        }
    }

    /// `network connect`: a running container gets the interface now (and keeps it across
    /// restarts), a stopped one at its next start. Reconnecting the `NetworkMode` network after
    /// a disconnect brings its published ports back, as Docker's endpoint options do.
    pub fn network_connect(&self, key: &str, container: &str, aliases: Vec<String>, ip: Option<Ipv4Addr>) -> Result<(), DaemonError> {
        let c = self.get(container)?;
        let id = c.id().to_string();
        if matches!(NetworkMode::parse(&c.host_config.network_mode), NetworkMode::Host | NetworkMode::Container(_)) {
            return Err(DaemonError::Forbidden("container sharing network namespace with another container or host cannot be connected to any other network".into()));
        }
        let dir = self.store.dir(&id);
        let mut cn = ContainerNet::load(&dir);
        let bindings = super::network::port_bindings(&c.host_config, &c.record.config)?;
        let mut ctl = self.net.lock();
        let n = ctl.store().get(key).map_err(net_err)?.clone();
        if n.driver != Driver::Bridge {
            return Err(DaemonError::Forbidden("container cannot be disconnected from host network or connected to host network".to_string()));
        }
        let name = c.record.name.trim_start_matches('/').to_string();
        let is_primary = self.primary_network_id(&ctl, &c).as_deref() == Some(n.id.as_str());
        if (is_primary && !cn.primary_disconnected) || cn.extra.iter().any(|x| x.network_id == n.id) {
            return Err(net_err(NetError::AlreadyConnected { container: name, network: n.name }));
        }
        if let Some(ip) = ip {
            if !n.user_subnet {
                return Err(net_err(NetError::StaticIpNoUserSubnet));
            }
            if !n.subnet.map(|s| s.contains(ip)).unwrap_or(false) {
                return Err(net_err(NetError::StaticIpOutsideSubnet(ip)));
            }
        }
        let ns = self.net.netns_path(&id);
        let running = c.record.state.running && ns.exists();
        let mut own_ip = None;
        if running {
            let ep = ctl.connect(&n.id, &ConnectRequest { container_id: id.clone(), container_name: name.clone(), aliases: aliases.clone(), ip }, &ns).map_err(net_err)?;
            if is_primary && !bindings.is_empty() {
                if let Err(e) = super::network::publish_err(ctl.publish(&n.id, &id, &bindings), &name, &ep.id) {
                    if let Err(e) = ctl.disconnect(&n.id, &id) {
                        tracing::warn!(container = %id, network = %n.name, error = %e, "disconnect after a failed connect");
                    }
                    return Err(e);
                }
            }
            own_ip = ep.ip;
        }
        drop(ctl);
        if is_primary {
            cn.primary_disconnected = false;
            cn.aliases = aliases;
            cn.ip = ip;
        } else {
            cn.extra.push(ExtraNet { network_id: n.id.clone(), aliases, ip });
        }
        if let Err(e) = cn.save(&dir) {
            if running {
                if let Err(e) = self.net.lock().disconnect(&n.id, &id) {
                    tracing::warn!(container = %id, network = %n.name, error = %e, "disconnect after a failed connect");
                }
            }
            return Err(e);
        }
        if running {
            self.net_files_on_connect(&c, own_ip, n.has_embedded_dns());
            if n.has_embedded_dns() {
                self.net_ensure_dns(&id, &ns);
            }
        }
        Ok(())
    }

    /// `network disconnect`: any network the container is on, the `NetworkMode` one included
    /// (Docker: the container keeps its namespace and loses that interface; inspect stops
    /// listing the network while `HostConfig.NetworkMode` keeps its name).
    pub fn network_disconnect(&self, key: &str, container: &str) -> Result<(), DaemonError> {
        let c = self.get(container)?;
        let id = c.id().to_string();
        let dir = self.store.dir(&id);
        let mut cn = ContainerNet::load(&dir);
        let mut ctl = self.net.lock();
        let n = ctl.store().get(key).map_err(net_err)?.clone();
        let name = c.record.name.trim_start_matches('/').to_string();
        if n.driver == Driver::Host {
            return Err(DaemonError::Forbidden("container cannot be disconnected from host network or connected to host network".to_string()));
        }
        let is_primary = !cn.primary_disconnected && self.primary_network_id(&ctl, &c).as_deref() == Some(n.id.as_str());
        let pos = cn.extra.iter().position(|x| x.network_id == n.id);
        if !is_primary && pos.is_none() {
            return Err(net_err(NetError::NotConnected { container: name, network: n.name }));
        }
        let ep = ctl.store().endpoint(&n.id, &id).cloned();
        if ep.is_some() {
            ctl.disconnect(&n.id, &id).map_err(net_err)?;
        }
        drop(ctl);
        match pos {
            Some(p) => {
                cn.extra.remove(p);
            }
            None => cn.primary_disconnected = true,
        }
        cn.save(&dir)?;
        if let Some(ip) = ep.and_then(|e| e.ip) {
            let hosts = dir.join("hosts");
            if let Ok(content) = std::fs::read_to_string(&hosts) {
                let next = hosts_file::remove_own(&content, ip, &c.record.config.hostname);
                if next != content {
                    super::network::write_file(&dir, "hosts", &next)?;
                }
            }
        }
        Ok(())
    }

    /// A running container joined a network: its address there goes into its /etc/hosts, and
    /// a first network with embedded DNS switches its resolv.conf to 127.0.0.11 (libnetwork
    /// starts the resolver and rebuilds resolv.conf then; it never switches back).
    fn net_files_on_connect(&self, c: &crate::container::record::Container, ip: Option<Ipv4Addr>, embedded_dns: bool) {
        let dir = self.store.dir(c.id());
        if let Some(ip) = ip {
            if let Ok(content) = std::fs::read_to_string(dir.join("hosts")) {
                let next = hosts_file::add_own(&content, ip, &c.record.config.hostname);
                if let Err(e) = super::network::write_file(&dir, "hosts", &next) {
                    tracing::warn!(container = %c.id(), error = %e, "can't update the container's /etc/hosts");
                }
            }
        }
        if embedded_dns {
            let current = std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_default();
            if !current.lines().any(|l| l.split_whitespace().eq(["nameserver", resolv::EMBEDDED_DNS])) {
                let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
                if let Err(e) = super::network::write_file(&dir, "resolv.conf", &resolv::embedded_resolv(&host)) {
                    tracing::warn!(container = %c.id(), error = %e, "can't point the container's resolv.conf at the embedded DNS");
                }
            }
        }
    }

    fn net_ensure_dns(&self, id: &str, ns: &Path) {
        if !self.net.has_dns(id) {
            if let Err(e) = self.net.start_dns_for(id, ns) {
                tracing::error!(container = %id, error = %e, "can't start the embedded DNS server");
            }
        }
    }
}

/// `{"NetworksDeleted": [...]}`
pub fn prune_json(names: &[String]) -> Value {
    json!({ "NetworksDeleted": names })
}
