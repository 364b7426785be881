//! Networks, address pools and endpoints, persisted as one JSON file written atomically
//! (temp + rename) on every change, so a restarted daemon never hands out an address twice.
use crate::error::{NetError, Result};
use crate::ipam::Pool;
use crate::mac::{format_mac, mac_from_ip};
use crate::network::{self, DaemonNetConfig, Driver, Network, NetworkCreate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "networks.json";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub network_id: String,
    pub container_id: String,
    /// Container name without the leading `/`: what DNS answers for.
    pub container_name: String,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    pub prefix: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: Option<String>,
    /// Host side of the veth pair (bridge networks).
    pub veth: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    networks: Vec<Network>,
    pools: BTreeMap<String, Pool>,
    endpoints: Vec<Endpoint>,
}

pub struct Store {
    path: PathBuf,
    state: State,
}

/// How a container asks to join a network.
#[derive(Clone, Debug, Default)]
pub struct ConnectRequest {
    pub container_id: String,
    pub container_name: String,
    pub aliases: Vec<String>,
    /// `--ip`
    pub ip: Option<Ipv4Addr>,
}

impl Store {
    /// Load the state dir, creating the pre-defined networks (`bridge`, `host`, `none`) on first use.
    /// A changed `bip`/`mtu` re-shapes the default bridge while nothing is attached to it.
    pub fn open(dir: &Path, cfg: &DaemonNetConfig) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(STATE_FILE);
        let state = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| NetError::State { path: path.display().to_string(), msg: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e.into()),
        };
        let mut s = Store { path, state };
        let want = network::default_bridge(cfg)?;
        let existing = s.state.networks.iter().position(|n| n.default_bridge);
        let mut changed = false;
        match existing {
            None => {
                s.add_network(want)?;
                changed = true;
            }
            Some(i) => {
                let cur = &s.state.networks[i];
                let differs = cur.subnet != want.subnet || cur.gateway != want.gateway || cur.mtu != want.mtu || cur.bridge != want.bridge;
                if differs && s.endpoints_of(&cur.id).is_empty() {
                    let id = cur.id.clone();
                    let mut n = want;
                    n.id = id.clone();
                    s.state.pools.insert(id, Pool::new(n.subnet.unwrap(), None, n.gateway.unwrap())?);
                    s.state.networks[i] = n;
                    changed = true;
                }
            }
        }
        for (name, drv) in [("host", Driver::Host), ("none", Driver::Null)] {
            if !s.state.networks.iter().any(|n| n.driver == drv) {
                s.state.networks.push(network::predefined_plain(name, drv));
                changed = true;
            }
        }
        if changed {
            s.save()?;
        }
        Ok(s)
    }

    fn add_network(&mut self, n: Network) -> Result<()> {
        if n.driver == Driver::Bridge {
            let pool = Pool::new(n.subnet.expect("bridge has subnet"), n.ip_range, n.gateway.expect("bridge has gateway"))?;
            self.state.pools.insert(n.id.clone(), pool);
        }
        self.state.networks.push(n);
        Ok(())
    }

    fn save(&self) -> Result<()> {
        let tmp = self.path.with_extension("json.tmp");
        let data = serde_json::to_vec_pretty(&self.state).expect("state serializes");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            // No fsync: rename keeps the file whole across a daemon crash, which is what the
            // state must survive; an fsync per connect (~10 ms here) would dominate start time.
            f.write_all(&data)?;
        }
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    pub fn networks(&self) -> &[Network] {
        &self.state.networks
    }

    /// Docker's lookup order: full id, exact name, then unique id prefix.
    pub fn get(&self, key: &str) -> Result<&Network> {
        let ns = &self.state.networks;
        if let Some(n) = ns.iter().find(|n| n.id == key).or_else(|| ns.iter().find(|n| n.name == key)) {
            return Ok(n);
        }
        let mut m = ns.iter().filter(|n| !key.is_empty() && n.id.starts_with(key));
        match (m.next(), m.next()) {
            (Some(n), None) => Ok(n),
            _ => Err(NetError::NotFound(key.to_string())),
        }
    }

    pub fn create(&mut self, req: &NetworkCreate, default_mtu: u32) -> Result<Network> {
        let n = network::build_network(req, &self.state.networks, default_mtu)?;
        self.add_network(n.clone())?;
        self.save()?;
        Ok(n)
    }

    /// Remove a user network. The caller tears the bridge down afterwards (see `bridge::remove_bridge`).
    pub fn remove(&mut self, key: &str) -> Result<Network> {
        let n = self.check_removable(key)?;
        self.state.networks.retain(|x| x.id != n.id);
        self.state.pools.remove(&n.id);
        self.save()?;
        Ok(n)
    }

    /// Docker's refusals for `network rm`, without changing anything.
    pub fn check_removable(&self, key: &str) -> Result<Network> {
        let n = self.get(key)?.clone();
        if n.is_predefined() {
            return Err(NetError::PreDefined(n.name));
        }
        if !self.endpoints_of(&n.id).is_empty() {
            return Err(NetError::ActiveEndpoints { name: n.name, id: n.id });
        }
        Ok(n)
    }

    pub fn endpoints_of(&self, network_id: &str) -> Vec<&Endpoint> {
        self.state.endpoints.iter().filter(|e| e.network_id == network_id).collect()
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.state.endpoints
    }

    pub fn endpoint(&self, network_id: &str, container_id: &str) -> Option<&Endpoint> {
        self.state.endpoints.iter().find(|e| e.network_id == network_id && e.container_id == container_id)
    }

    pub fn pool(&self, network_id: &str) -> Option<&Pool> {
        self.state.pools.get(network_id)
    }

    /// Allocate the endpoint (address, MAC, veth name) and persist it before any kernel work,
    /// so a crash in between leaves a record the daemon can clean up instead of a lost address.
    pub fn connect(&mut self, key: &str, req: &ConnectRequest) -> Result<Endpoint> {
        let n = self.get(key)?.clone();
        if self.endpoint(&n.id, &req.container_id).is_some() {
            return Err(NetError::AlreadyConnected { container: req.container_name.clone(), network: n.name });
        }
        let id = network::new_id();
        let mut ep = Endpoint {
            id: id.clone(),
            network_id: n.id.clone(),
            container_id: req.container_id.clone(),
            container_name: req.container_name.trim_start_matches('/').to_string(),
            aliases: req.aliases.clone(),
            ip: None,
            prefix: 0,
            gateway: None,
            mac: None,
            veth: None,
        };
        if n.driver == Driver::Bridge {
            if req.ip.is_some() && n.default_bridge {
                return Err(NetError::StaticIpOnDefault);
            }
            if req.ip.is_some() && !n.user_subnet {
                return Err(NetError::StaticIpNoUserSubnet);
            }
            let pool = self.state.pools.get_mut(&n.id).expect("bridge network has a pool");
            if let Some(ip) = req.ip.filter(|ip| !pool.subnet.contains(*ip)) {
                return Err(NetError::StaticIpOutsideSubnet(ip));
            }
            let ip = match req.ip {
                Some(ip) => {
                    pool.reserve(ip, &id)?;
                    ip
                }
                None => pool.allocate(&id)?,
            };
            ep.ip = Some(ip);
            ep.prefix = pool.subnet.prefix;
            ep.gateway = Some(pool.gateway);
            ep.mac = Some(format_mac(&mac_from_ip(ip)));
            ep.veth = Some(crate::veth::host_veth_name(&id));
        } else if req.ip.is_some() {
            return Err(NetError::StaticIpOnDefault);
        }
        self.state.endpoints.push(ep.clone());
        self.save()?;
        Ok(ep)
    }

    /// Release the endpoint's address and forget it.
    pub fn disconnect(&mut self, key: &str, container_id: &str) -> Result<Endpoint> {
        let n = self.get(key)?.clone();
        let pos = self
            .state
            .endpoints
            .iter()
            .position(|e| e.network_id == n.id && e.container_id == container_id)
            .ok_or_else(|| NetError::NotConnected { container: container_id.to_string(), network: n.name.clone() })?;
        let ep = self.state.endpoints.remove(pos);
        if let (Some(ip), Some(pool)) = (ep.ip, self.state.pools.get_mut(&n.id)) {
            pool.release(ip);
        }
        self.save()?;
        Ok(ep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn creq(c: &str) -> ConnectRequest {
        ConnectRequest { container_id: c.into(), container_name: format!("/{c}"), ..Default::default() }
    }
    #[test]
    fn persistence_across_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DaemonNetConfig::default();
        let (ip1, bridge_id) = {
            let mut s = Store::open(dir.path(), &cfg).unwrap();
            assert_eq!(s.networks().len(), 3);
            let e = s.connect("bridge", &creq("c1")).unwrap();
            assert_eq!(e.mac.as_deref(), Some("02:42:ac:11:00:02"));
            (e.ip.unwrap(), s.get("bridge").unwrap().id.clone())
        };
        let mut s = Store::open(dir.path(), &cfg).unwrap();
        assert_eq!(s.get("bridge").unwrap().id, bridge_id, "ids survive restart");
        let e2 = s.connect("bridge", &creq("c2")).unwrap();
        assert_ne!(e2.ip.unwrap(), ip1, "no address handed out twice across restarts");
        s.disconnect("bridge", "c1").unwrap();
        assert!(!s.pool(&bridge_id).unwrap().allocated.contains_key(&ip1));
        drop(s);
        let s = Store::open(dir.path(), &cfg).unwrap();
        assert_eq!(s.endpoints().len(), 1);
    }
    #[test]
    fn corrupt_state_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        let e = Store::open(dir.path(), &DaemonNetConfig::default()).err().unwrap().to_string();
        assert!(e.starts_with(&format!("state file {}", dir.path().join(STATE_FILE).display())), "{e}");
    }
    #[test]
    fn remove_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), &DaemonNetConfig::default()).unwrap();
        let err = s.remove("bridge").unwrap_err();
        assert_eq!((err.to_string().as_str(), err.status()), ("bridge is a pre-defined network and cannot be removed", 403));
        assert_eq!(s.remove("host").unwrap_err().to_string(), "host is a pre-defined network and cannot be removed");
        let n = s.create(&NetworkCreate { name: "resnet".into(), ..Default::default() }, 1500).unwrap();
        s.connect("resnet", &creq("c1")).unwrap();
        let err = s.remove("resnet").unwrap_err();
        assert_eq!(err.to_string(), format!("error while removing network: network resnet id {} has active endpoints", n.id));
        s.disconnect(&n.id[..5], "c1").unwrap();
        s.remove("resnet").unwrap();
        assert!(matches!(s.get("resnet"), Err(NetError::NotFound(_))));
        assert_eq!(s.get("nosuchnet").unwrap_err().to_string(), "network nosuchnet not found");
    }
    #[test]
    fn static_ip_rules_and_bip_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), &DaemonNetConfig::default()).unwrap();
        let mut r = creq("c1");
        r.ip = Some("172.17.0.9".parse().unwrap());
        assert_eq!(s.connect("bridge", &r).unwrap_err().to_string(), "user specified IP address is supported on user defined networks only");
        s.create(&NetworkCreate { name: "u".into(), subnet: Some("10.1.0.0/24".into()), ..Default::default() }, 1500).unwrap();
        r.ip = Some("10.1.0.9".parse().unwrap());
        assert_eq!(s.connect("u", &r).unwrap().ip, r.ip);
        let mut r2 = creq("c2");
        r2.ip = r.ip;
        assert_eq!(s.connect("u", &r2).unwrap_err().to_string(), "Address already in use");
        assert_eq!(s.endpoints().len(), 1, "failed connect records nothing");
        r2.ip = Some("10.2.0.9".parse().unwrap());
        assert_eq!(s.connect("u", &r2).unwrap_err().to_string(), "Invalid address 10.2.0.9: It does not belong to any of this network's subnets");
        s.create(&NetworkCreate { name: "auto".into(), ..Default::default() }, 1500).unwrap();
        r2.ip = Some("172.18.0.9".parse().unwrap());
        assert_eq!(s.connect("auto", &r2).unwrap_err().to_string(), "user specified IP address is supported only when connecting to networks with user configured subnets");
        drop(s);
        let cfg = DaemonNetConfig { bip: Some("10.20.0.1/24".into()), ..Default::default() };
        let s = Store::open(dir.path(), &cfg).unwrap();
        assert_eq!(s.get("bridge").unwrap().subnet.unwrap().to_string(), "10.20.0.0/24");
        assert_eq!(s.networks().len(), 5);
    }
}
