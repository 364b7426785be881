//! A container's network as the API shows it: inspect's `NetworkSettings`, and the `Ports` /
//! `NetworkSettings.Networks` of `GET /containers/json`.

use berth_net::firewall::PortMap;
use berth_net::mode::NetworkMode;
use berth_net::store::Endpoint;
use serde_json::{json, Map, Value};

use super::network_create::ContainerNet;
use super::state::Daemon;
use crate::api_types::container::{self as types, EndpointIpamConfig, EndpointSettings, NetworkSettings, PortBinding};
use crate::container::record::Container;

/// What the controller knows about one container, copied out under its lock.
struct Snapshot {
    /// (network name, endpoint) in attach order.
    endpoints: Vec<(String, Endpoint)>,
    /// Published ports of every endpoint.
    ports: Vec<PortMap>,
    /// Network name → id, for a stopped container's configured networks.
    configured: Vec<(String, String)>,
}

fn exposed_keys(c: &Container) -> Vec<String> {
    c.record.config.exposed_ports.iter().flat_map(|m| m.keys().cloned()).collect()
}

/// One entry of `NetworkSettings.Networks` (`IPAMConfig` carries `--ip`).
fn endpoint_settings(e: &Endpoint, static_ip: bool, links: &[String]) -> EndpointSettings {
    EndpointSettings {
        ipam_config: static_ip
            .then(|| EndpointIpamConfig { ipv4_address: e.ip.map(|i| i.to_string()).unwrap_or_default(), ..Default::default() }),
        links: Some(links.to_vec()).filter(|l| !l.is_empty()),
        aliases: Some(e.aliases.clone()).filter(|a| !a.is_empty()),
        network_id: e.network_id.clone(),
        endpoint_id: e.id.clone(),
        gateway: e.gateway.map(|g| g.to_string()).unwrap_or_default(),
        ip_address: e.ip.map(|g| g.to_string()).unwrap_or_default(),
        ip_prefix_len: e.prefix.into(),
        mac_address: e.mac.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// `NetworkSettings.Ports`: every exposed port, null when not published (as Docker shows it).
fn port_map(exposed: &[String], maps: &[PortMap]) -> types::PortMap {
    let mut m = types::PortMap::new();
    for e in exposed {
        let key = if e.contains('/') { e.clone() } else { format!("{e}/tcp") };
        m.insert(key, None);
    }
    for p in maps {
        let binding = PortBinding { host_ip: p.host_ip.to_string(), host_port: p.host_port.to_string() };
        m.entry(format!("{}/{}", p.container_port, p.proto)).or_insert(None).get_or_insert_with(Vec::new).push(binding);
    }
    m
}

impl Daemon {
    fn net_snapshot(&self, c: &Container) -> Snapshot {
        let ctl = self.net.lock();
        let st = ctl.store();
        let endpoints: Vec<(String, Endpoint)> = st
            .endpoints()
            .iter()
            .filter(|e| e.container_id == c.id())
            .map(|e| (st.get(&e.network_id).map(|n| n.name.clone()).unwrap_or_default(), e.clone()))
            .collect();
        let ports = endpoints.iter().flat_map(|(_, e)| ctl.publisher().ports_of(&e.id)).collect();
        let mut configured = Vec::new();
        let primary = match NetworkMode::parse(&c.host_config.network_mode) {
            NetworkMode::Network(n) => Some(n),
            NetworkMode::Host => Some("host".into()),
            NetworkMode::None => Some("none".into()),
            NetworkMode::Container(_) => None,
        };
        let cn = ContainerNet::load(&self.store.dir(c.id()));
        let primary = primary.filter(|_| !cn.primary_disconnected);
        for key in primary.into_iter().chain(cn.extra.into_iter().map(|x| x.network_id)) {
            if let Ok(n) = st.get(&key) {
                configured.push((n.name.clone(), n.id.clone()));
            }
        }
        Snapshot { endpoints, ports, configured }
    }

    /// `NetworkSettings` of `GET /containers/{id}/json`. The top-level address fields are the
    /// default bridge's only, as in Docker; a stopped container lists its networks empty.
    pub fn net_settings(&self, c: &Container) -> NetworkSettings {
        let s = self.net_snapshot(c);
        let running = c.record.state.running;
        let cn = ContainerNet::load(&self.store.dir(c.id()));
        let links: Vec<String> = cn.links.iter().map(|l| format!("/{}:{}/{}", l.name, c.record.name, l.alias)).collect();
        let mut ns = NetworkSettings::default();
        for (name, id) in &s.configured {
            let mut v = EndpointSettings::default();
            // Docker fills NetworkID at the first start and keeps it after a stop.
            if c.record.has_been_started_before {
                v.network_id = id.clone();
            }
            if cn.ip.is_some() && !cn.primary_disconnected && Some(name) == s.configured.first().map(|f| &f.0) {
                v.ipam_config =
                    Some(EndpointIpamConfig { ipv4_address: cn.ip.map(|i| i.to_string()).unwrap_or_default(), ..Default::default() });
            }
            ns.networks.insert(name.clone(), v);
        }
        for (i, (name, e)) in s.endpoints.iter().enumerate() {
            let static_ip = i == 0 && cn.ip.is_some() && !cn.primary_disconnected || cn.extra.iter().any(|x| x.network_id == e.network_id && x.ip.is_some());
            let l = if name == "bridge" { links.clone() } else { vec![] };
            let v = endpoint_settings(e, static_ip, &l);
            if name == "bridge" {
                ns.endpoint_id = v.endpoint_id.clone();
                ns.gateway = v.gateway.clone();
                ns.ip_address = v.ip_address.clone();
                ns.ip_prefix_len = v.ip_prefix_len;
                ns.mac_address = v.mac_address.clone();
            }
            ns.networks.insert(name.clone(), v);
        }
        if running && !s.endpoints.is_empty() && c.host_config.network_mode != "host" {
            ns.ports = port_map(&exposed_keys(c), &s.ports);
        }
        let netns = self.net.netns_path(c.id());
        if running && netns.exists() {
            ns.sandbox_key = netns.display().to_string();
            ns.sandbox_id = c.id().to_string();
        }
        ns
    }

    /// `HostConfig.Links` as Docker stores them (`/c1:/c2/haha`), None without links.
    pub fn net_links(&self, c: &Container) -> Option<Vec<String>> {
        let cn = ContainerNet::load(&self.store.dir(c.id()));
        if cn.links.is_empty() {
            return None;
        }
        Some(cn.links.iter().map(|l| format!("/{}:{}/{}", l.name, c.record.name, l.alias)).collect())
    }

    /// `Ports` and `NetworkSettings` of a `GET /containers/json` entry.
    pub fn net_list_fields(&self, c: &Container) -> (Value, Value) {
        let s = self.net_snapshot(c);
        let mut ports: Vec<Value> = Vec::new();
        for p in &s.ports {
            ports.push(json!({"IP": p.host_ip.to_string(), "PrivatePort": p.container_port, "PublicPort": p.host_port, "Type": p.proto.to_string()}));
        }
        if c.record.state.running {
            for k in exposed_keys(c) {
                let (port, proto) = k.split_once('/').unwrap_or((&k, "tcp"));
                let Ok(port) = port.parse::<u16>() else { continue };
                if !s.ports.iter().any(|p| p.container_port == port && p.proto.to_string() == proto) {
                    ports.push(json!({"PrivatePort": port, "Type": proto}));
                }
            }
        }
        let mut networks = Map::new();
        for (name, e) in &s.endpoints {
            networks.insert(name.clone(), json!(endpoint_settings(e, false, &[])));
        }
        (Value::Array(ports), json!({"Networks": networks}))
    }
}
