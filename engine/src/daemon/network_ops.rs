//! The `/networks` operations on the daemon: create/list/inspect/remove/prune, and connecting
//! containers (running ones at once, stopped ones at their next start).

use std::net::Ipv4Addr;
use std::path::Path;

use berth_net::inspect;
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

    /// `network connect`: a running container gets the interface now (and keeps it across
    /// restarts), a stopped one at its next start.
    pub fn network_connect(&self, key: &str, container: &str, aliases: Vec<String>, ip: Option<Ipv4Addr>) -> Result<(), DaemonError> {
        let c = self.get(container)?;
        let id = c.id().to_string();
        if matches!(NetworkMode::parse(&c.host_config.network_mode), NetworkMode::Host | NetworkMode::Container(_)) {
            return Err(DaemonError::Forbidden("container sharing network namespace with another container or host cannot be connected to any other network".into()));
        }
        let dir = self.store.dir(&id);
        let mut cn = ContainerNet::load(&dir);
        let mut ctl = self.net.lock();
        let n = ctl.store().get(key).map_err(net_err)?.clone();
        if n.driver != Driver::Bridge {
            return Err(DaemonError::Forbidden(format!("container cannot be disconnected from host network or connected to host network")));
        }
        let name = c.record.name.trim_start_matches('/').to_string();
        let primary = ctl.store().get(&c.host_config.network_mode.replace("default", "bridge")).map(|p| p.id.clone()).ok();
        if primary.as_deref() == Some(n.id.as_str()) || cn.extra.iter().any(|x| x.network_id == n.id) {
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
        if running {
            ctl.connect(&n.id, &ConnectRequest { container_id: id.clone(), container_name: name, aliases: aliases.clone(), ip }, &ns).map_err(net_err)?;
        }
        drop(ctl);
        cn.extra.push(ExtraNet { network_id: n.id.clone(), aliases, ip });
        if let Err(e) = cn.save(&dir) {
            if running {
                let _ = self.net.lock().disconnect(&n.id, &id);
            }
            return Err(e);
        }
        if running && n.has_embedded_dns() {
            self.net_ensure_dns(&id, &ns);
        }
        Ok(())
    }

    /// `network disconnect`: only networks added with `connect` can be left; the `NetworkMode`
    /// network is the container's identity.
    pub fn network_disconnect(&self, key: &str, container: &str) -> Result<(), DaemonError> {
        let c = self.get(container)?;
        let id = c.id().to_string();
        let dir = self.store.dir(&id);
        let mut cn = ContainerNet::load(&dir);
        let mut ctl = self.net.lock();
        let n = ctl.store().get(key).map_err(net_err)?.clone();
        let name = c.record.name.trim_start_matches('/').to_string();
        let Some(pos) = cn.extra.iter().position(|x| x.network_id == n.id) else {
            if ctl.store().endpoint(&n.id, &id).is_some() {
                return Err(DaemonError::Forbidden(format!("berth cannot disconnect container {name} from its --network {}", n.name)));
            }
            return Err(net_err(NetError::NotConnected { container: name, network: n.name }));
        };
        if ctl.store().endpoint(&n.id, &id).is_some() {
            ctl.disconnect(&n.id, &id).map_err(net_err)?;
        }
        drop(ctl);
        cn.extra.remove(pos);
        cn.save(&dir)
    }

    fn net_ensure_dns(&self, id: &str, ns: &Path) {
        if !self.net.has_dns(id) {
            if let Err(e) = self.net.start_dns_for(id, ns) {
                eprintln!("berthd: embedded DNS for {id}: {e}");
            }
        }
    }
}

/// `{"NetworksDeleted": [...]}`
pub fn prune_json(names: &[String]) -> Value {
    json!({ "NetworksDeleted": names })
}
