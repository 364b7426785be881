//! Networking at container create: Docker's checks on `--network`, `--ip`, `--network-alias`,
//! `-p`, `--link`, and the per-container record of what to attach at start
//! (`<container-dir>/network.json`, beside `config.v2.json`).

use std::net::Ipv4Addr;
use std::path::Path;

use berth_net::mode::NetworkMode;
use berth_net::network::Driver;
use berth_net::NetError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::DaemonError;
use super::network::net_err;
use super::state::Daemon;
use crate::container::config::{Config, HostConfig};

pub const FILE: &str = "network.json";

/// What a container attaches at start besides what `NetworkMode` says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerNet {
    /// `--network-alias` on the primary network.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip` on the primary network.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// Networks added with `network connect` (by id), attached after the primary one.
    #[serde(default)]
    pub extra: Vec<ExtraNet>,
    /// `--link name:alias`, resolved by name at start as Docker does.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// `network disconnect` of the `NetworkMode` network: not attached at start (Docker drops
    /// it from `NetworkSettings.Networks`; `HostConfig.NetworkMode` keeps its name).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_disconnected: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtraNet {
    pub network_id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkSpec {
    pub name: String,
    pub alias: String,
}

impl ContainerNet {
    /// Missing file (a container from before networking) = defaults.
    pub fn load(dir: &Path) -> ContainerNet {
        std::fs::read(dir.join(FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }
    pub fn save(&self, dir: &Path) -> Result<(), DaemonError> {
        let data = serde_json::to_vec_pretty(self).expect("serializes");
        crate::util::fs::write_atomic(&dir.join(FILE), &data, 0o600).map_err(|e| DaemonError::System(format!("{}: {e}", dir.join(FILE).display())))
    }
}

/// `name:alias` or `name` (alias = name), Docker's `--link` forms.
pub fn parse_link(s: &str) -> Result<LinkSpec, DaemonError> {
    let (name, alias) = match s.split(':').collect::<Vec<_>>().as_slice() {
        [n] => (n.to_string(), n.to_string()),
        [n, a] => (n.to_string(), a.to_string()),
        _ => return Err(DaemonError::InvalidParameter(format!("invalid link format: {s}"))),
    };
    let name = name.trim_start_matches('/').to_string();
    // The daemon stores `/c1:/c2/haha`: take the last path element of the alias.
    let alias = alias.rsplit('/').next().unwrap_or(&alias).to_string();
    if name.is_empty() || alias.is_empty() {
        return Err(DaemonError::InvalidParameter(format!("invalid link format: {s}")));
    }
    Ok(LinkSpec { name, alias })
}

/// The `EndpointsConfig` entry for the container's network (keyed by its name, or `default`).
fn endpoint_config<'a>(nc: Option<&'a Value>, network: &str) -> Option<&'a Value> {
    let m = nc?.get("EndpointsConfig")?.as_object()?;
    m.get(network).or_else(|| if network == "bridge" { m.get("default") } else { None }).or_else(|| if m.len() == 1 { m.values().next() } else { None })
}

impl Daemon {
    /// Docker's create-time checks; returns what to record plus warnings for the client.
    pub fn net_prepare(&self, config: &mut Config, hc: &HostConfig, nc: Option<&Value>) -> Result<(ContainerNet, Vec<String>), DaemonError> {
        let mut cn = ContainerNet::default();
        let mut warnings = Vec::new();
        let mode = NetworkMode::parse(&hc.network_mode);
        let has_ports = hc.port_bindings.as_ref().and_then(|p| p.as_object()).map(|m| !m.is_empty()).unwrap_or(false);
        let links = hc.links.clone().unwrap_or_default();
        match &mode {
            NetworkMode::Container(target) => {
                self.get(target)?;
                if !config.hostname.is_empty() {
                    return Err(DaemonError::InvalidParameter("conflicting options: hostname and the network mode".into()));
                }
                if has_ports || hc.publish_all_ports {
                    return Err(DaemonError::InvalidParameter("conflicting options: port publishing and the container type network mode".into()));
                }
                if !links.is_empty() {
                    return Err(DaemonError::InvalidParameter("conflicting options: container type network can't be used with links. This would result in undefined behavior".into()));
                }
            }
            NetworkMode::Host => {
                if !links.is_empty() {
                    return Err(DaemonError::InvalidParameter("conflicting options: host type networking can't be used with links. This would result in undefined behavior".into()));
                }
                if has_ports || hc.publish_all_ports {
                    warnings.push("Published ports are discarded when using host network mode".to_string());
                }
                if config.hostname.is_empty() {
                    // Docker gives a host-network container the host's name.
                    config.hostname = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
                }
            }
            NetworkMode::None => {}
            NetworkMode::Network(name) => {
                let ctl = self.net.lock();
                let n = ctl.store().get(name).map_err(net_err)?.clone();
                drop(ctl);
                if let Some(ep) = endpoint_config(nc, name) {
                    cn.aliases = ep["Aliases"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect();
                    let ip = ep["IPAMConfig"]["IPv4Address"].as_str().unwrap_or("");
                    if !ip.is_empty() {
                        let ip: Ipv4Addr = ip.parse().map_err(|_| DaemonError::InvalidParameter(format!("invalid IPv4 address: {ip}")))?;
                        let err = if n.default_bridge || n.driver != Driver::Bridge {
                            Some(NetError::StaticIpOnDefault)
                        } else if !n.user_subnet {
                            Some(NetError::StaticIpNoUserSubnet)
                        } else if !n.subnet.map(|s| s.contains(ip)).unwrap_or(false) {
                            Some(NetError::StaticIpOutsideSubnet(ip))
                        } else {
                            None
                        };
                        if let Some(e) = err {
                            return Err(DaemonError::InvalidParameter(e.to_string()));
                        }
                        cn.ip = Some(ip);
                    }
                }
                if n.default_bridge && !cn.aliases.is_empty() {
                    return Err(DaemonError::InvalidParameter("network-scoped alias is supported only for containers in user defined networks".into()));
                }
                if n.driver == Driver::Host && (has_ports || hc.publish_all_ports) {
                    warnings.push("Published ports are discarded when using host network mode".to_string());
                }
            }
        }
        // Bad `-p` specs are refused here, not at start.
        super::network::port_bindings(hc, config)?;
        for l in &links {
            let spec = parse_link(l)?;
            self.get(&spec.name).map_err(|e| DaemonError::InvalidParameter(format!("could not get container for {}: {e}", spec.name)))?;
            cn.links.push(spec);
        }
        Ok((cn, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn links_parse() {
        assert_eq!(parse_link("c1:haha").unwrap(), LinkSpec { name: "c1".into(), alias: "haha".into() });
        assert_eq!(parse_link("c1").unwrap(), LinkSpec { name: "c1".into(), alias: "c1".into() });
        assert_eq!(parse_link("/c1:/c2/haha").unwrap(), LinkSpec { name: "c1".into(), alias: "haha".into() });
        assert!(parse_link("a:b:c").is_err());
    }

    #[test]
    fn endpoint_config_lookup() {
        let nc = json!({"EndpointsConfig": {"default": {"Aliases": ["x"]}}});
        assert_eq!(endpoint_config(Some(&nc), "bridge").unwrap()["Aliases"][0], "x");
        let nc = json!({"EndpointsConfig": {"bridge0": {"IPAMConfig": {"IPv4Address": "172.18.0.9"}}}});
        assert!(endpoint_config(Some(&nc), "bridge0").is_some());
        assert!(endpoint_config(None, "bridge").is_none());
    }

    #[test]
    fn record_round_trips() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(ContainerNet::load(d.path()), ContainerNet::default());
        let cn = ContainerNet { aliases: vec!["www".into()], ip: Some("10.1.0.9".parse().unwrap()), extra: vec![], links: vec![], primary_disconnected: true };
        cn.save(d.path()).unwrap();
        assert_eq!(ContainerNet::load(d.path()), cn);
    }
}
