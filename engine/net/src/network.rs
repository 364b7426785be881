//! The network model: what `docker network create` records, with Docker's defaults and checks.
use crate::error::{NetError, Result};
use crate::subnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
pub const MTU_OPTION: &str = "com.docker.network.driver.mtu";
pub const DEFAULT_BRIDGE_DEVICE: &str = "berth0";
pub const DEFAULT_BRIDGE_SUBNET: &str = "172.17.0.0/16";
pub const DEFAULT_MTU: u32 = 1500;
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Host,
    Null,
}

impl Driver {
    pub fn parse(s: &str) -> Result<Driver> {
        match s {
            "" | "bridge" => Ok(Driver::Bridge),
            "host" => Ok(Driver::Host),
            "null" => Ok(Driver::Null),
            other => Err(NetError::UnknownDriver(other.to_string())),
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: Driver,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
    /// Kernel device for bridge networks (`berth0`, `br-<12 hex>` or the option's name).
    pub bridge: Option<String>,
    pub mtu: u32,
    /// The default bridge: no DNS, no `--ip`, links allowed.
    pub default_bridge: bool,
    /// `--subnet` was given: only then does Docker accept `--ip` on the network.
    #[serde(default)]
    pub user_subnet: bool,
    pub created: String,
}

impl Network {
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.contains(&self.name.as_str()) && (self.default_bridge || self.driver != Driver::Bridge)
    }
    /// Subnet with the gateway as address, as it is put on the bridge (`172.17.0.1/16`).
    pub fn gateway_cidr(&self) -> Option<Ipv4Net> {
        Some(Ipv4Net::new(self.gateway?, self.subnet?.prefix))
    }
    /// User-defined bridges get the embedded DNS server; the default bridge does not.
    pub fn has_embedded_dns(&self) -> bool {
        self.driver == Driver::Bridge && !self.default_bridge
    }
}

/// What `docker network create` sends (the fields berth honours).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub internal: bool,
}

/// daemon.json values that shape the default bridge.
#[derive(Clone, Debug, Default)]
pub struct DaemonNetConfig {
    /// "gateway-ip/prefix", e.g. "10.10.0.1/24" as dockerd's `bip`.
    pub bip: Option<String>,
    pub mtu: Option<u32>,
    /// Device name of the default bridge (berth0 unless a test wants its own).
    pub bridge_device: Option<String>,
}

pub fn new_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn now_rfc3339() -> String {
    // Seconds precision is enough for inspect's Created; avoid a chrono dependency here.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86400;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// The default `bridge` network from daemon settings (`bip` = gateway/prefix, like dockerd).
pub fn default_bridge(cfg: &DaemonNetConfig) -> Result<Network> {
    let (subnet, gateway) = match &cfg.bip {
        Some(bip) => {
            let n: Ipv4Net = bip.parse()?;
            (n.trunc(), n.addr)
        }
        None => {
            let n: Ipv4Net = DEFAULT_BRIDGE_SUBNET.parse()?;
            (n, Ipv4Addr::from(u32::from(n.network()) + 1))
        }
    };
    let device = cfg.bridge_device.clone().unwrap_or_else(|| DEFAULT_BRIDGE_DEVICE.to_string());
    let mtu = cfg.mtu.unwrap_or(DEFAULT_MTU);
    let mut options = BTreeMap::new();
    options.insert("com.docker.network.bridge.default_bridge".into(), "true".into());
    options.insert("com.docker.network.bridge.enable_icc".into(), "true".into());
    options.insert("com.docker.network.bridge.enable_ip_masquerade".into(), "true".into());
    options.insert("com.docker.network.bridge.host_binding_ipv4".into(), "0.0.0.0".into());
    options.insert(BRIDGE_NAME_OPTION.into(), device.clone());
    options.insert(MTU_OPTION.into(), mtu.to_string());
    Ok(Network {
        id: new_id(),
        name: "bridge".into(),
        driver: Driver::Bridge,
        subnet: Some(subnet),
        gateway: Some(gateway),
        ip_range: None,
        options,
        labels: BTreeMap::new(),
        internal: false,
        bridge: Some(device),
        mtu,
        default_bridge: true,
        user_subnet: false,
        created: now_rfc3339(),
    })
}

pub fn predefined_plain(name: &str, driver: Driver) -> Network {
    Network {
        id: new_id(),
        name: name.into(),
        driver,
        subnet: None,
        gateway: None,
        ip_range: None,
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
        internal: false,
        bridge: None,
        mtu: 0,
        default_bridge: false,
        user_subnet: false,
        created: now_rfc3339(),
    }
}

/// Docker picks user subnets from 172.18.0.0/16 upwards, then 192.168.0.0/20 blocks.
pub fn auto_subnet(existing: &[Ipv4Net]) -> Result<Ipv4Net> {
    let candidates = (18..=31u32)
        .map(|b| Ipv4Net::new(Ipv4Addr::new(172, b as u8, 0, 0), 16))
        .chain((0..16u32).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, (i * 16) as u8, 0), 20)));
    for c in candidates {
        if !existing.iter().any(|e| e.overlaps(&c)) {
            return Ok(c);
        }
    }
    Err(NetError::PoolExhausted)
}

/// Validate a create request against the existing networks and build the network.
pub fn build_network(req: &NetworkCreate, existing: &[Network], default_mtu: u32) -> Result<Network> {
    let driver = Driver::parse(&req.driver)?;
    if existing.iter().any(|n| n.name == req.name) {
        return Err(NetError::DuplicateName(req.name.clone()));
    }
    if driver != Driver::Bridge {
        // host and null are singletons, pre-created by the daemon.
        return Err(NetError::OnlyOneInstance(driver.as_str().to_string()));
    }
    let taken: Vec<Ipv4Net> = existing.iter().filter_map(|n| n.subnet).collect();
    let subnet = match &req.subnet {
        Some(s) => {
            let s: Ipv4Net = s.parse()?;
            let s = s.trunc();
            if taken.iter().any(|t| t.overlaps(&s)) {
                return Err(NetError::PoolOverlap);
            }
            s
        }
        None => {
            if req.gateway.is_some() || req.ip_range.is_some() {
                return Err(NetError::InvalidOption("--gateway/--ip-range".into(), "requires --subnet".into()));
            }
            auto_subnet(&taken)?
        }
    };
    let ip_range = req.ip_range.as_deref().map(str::parse::<Ipv4Net>).transpose()?.map(|r| r.trunc());
    if let Some(r) = ip_range {
        if !subnet.contains(r.network()) || r.prefix < subnet.prefix {
            return Err(NetError::RangeOutsideSubnet(r.to_string()));
        }
    }
    let gateway = match &req.gateway {
        Some(g) => {
            let g: Ipv4Addr = g.parse().map_err(|_| NetError::InvalidGateway(g.clone()))?;
            if !subnet.contains(g) {
                return Err(NetError::GatewayOutsideSubnet(g));
            }
            g
        }
        None => Ipv4Addr::from(u32::from(subnet.network()) + 1),
    };
    let id = new_id();
    let bridge = match req.options.get(BRIDGE_NAME_OPTION) {
        Some(b) => {
            if b.is_empty() || b.len() > 15 || b.contains('/') || b.contains(char::is_whitespace) {
                return Err(NetError::InvalidOption(BRIDGE_NAME_OPTION.into(), b.clone()));
            }
            if existing.iter().any(|n| n.bridge.as_deref() == Some(b)) {
                return Err(NetError::InvalidOption(BRIDGE_NAME_OPTION.into(), format!("{b} is already in use")));
            }
            b.clone()
        }
        None => format!("br-{}", &id[..12]),
    };
    let mtu = match req.options.get(MTU_OPTION) {
        Some(m) => m.parse().map_err(|_| NetError::InvalidOption(MTU_OPTION.into(), m.clone()))?,
        None => default_mtu,
    };
    Ok(Network {
        id,
        name: req.name.clone(),
        driver,
        subnet: Some(subnet),
        gateway: Some(gateway),
        ip_range,
        options: req.options.clone(),
        labels: req.labels.clone(),
        internal: req.internal,
        bridge: Some(bridge),
        mtu,
        default_bridge: false,
        user_subnet: req.subnet.is_some(),
        created: now_rfc3339(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    fn defaults() -> Vec<Network> {
        vec![
            default_bridge(&DaemonNetConfig::default()).unwrap(),
            predefined_plain("host", Driver::Host),
            predefined_plain("none", Driver::Null),
        ]
    }
    fn req(name: &str) -> NetworkCreate {
        NetworkCreate { name: name.into(), driver: "bridge".into(), ..Default::default() }
    }
    #[test]
    fn default_bridge_and_bip() {
        let b = default_bridge(&DaemonNetConfig::default()).unwrap();
        assert_eq!(b.bridge.as_deref(), Some("berth0"));
        assert_eq!(b.gateway_cidr().unwrap().to_string(), "172.17.0.1/16");
        let cfg = DaemonNetConfig { bip: Some("10.10.0.1/24".into()), mtu: Some(1400), bridge_device: None };
        let b = default_bridge(&cfg).unwrap();
        assert_eq!(b.subnet.unwrap().to_string(), "10.10.0.0/24");
        assert_eq!(b.gateway.unwrap().to_string(), "10.10.0.1");
        assert_eq!(b.mtu, 1400);
        assert_eq!(b.id.len(), 64);
        assert!(b.is_predefined());
    }
    #[test]
    fn user_bridge_defaults() {
        let n = build_network(&req("resnet"), &defaults(), 1500).unwrap();
        assert_eq!(n.subnet.unwrap().to_string(), "172.18.0.0/16");
        assert_eq!(n.gateway.unwrap().to_string(), "172.18.0.1");
        assert_eq!(n.bridge.clone().unwrap(), format!("br-{}", &n.id[..12]));
        assert!(n.has_embedded_dns() && !n.is_predefined());
    }
    #[test]
    fn course_bridge0() {
        let mut r = req("bridge0");
        r.subnet = Some("172.28.0.0/16".into());
        r.gateway = Some("172.28.5.254".into());
        r.ip_range = Some("172.28.5.0/24".into());
        r.options.insert(BRIDGE_NAME_OPTION.into(), "docker1".into());
        let n = build_network(&r, &defaults(), 1500).unwrap();
        assert_eq!(n.bridge.as_deref(), Some("docker1"));
        assert_eq!(n.ip_range.unwrap().to_string(), "172.28.5.0/24");
    }
    #[test]
    fn docker_errors() {
        let d = defaults();
        let e = |r: NetworkCreate| build_network(&r, &d, 1500).unwrap_err();
        let mut r = req("x");
        r.subnet = Some("172.17.3.0/24".into());
        assert_eq!(e(r).to_string(), "Pool overlaps with other one on this address space");
        let mut r = req("x");
        r.subnet = Some("10.9.0.0/24".into());
        r.gateway = Some("10.8.0.1".into());
        assert_eq!(e(r).to_string(), "no matching subnet for gateway 10.8.0.1");
        let err = e(req("bridge"));
        assert_eq!((err.to_string().as_str(), err.status()), ("network with name bridge already exists", 409));
        let mut r = req("h2");
        r.driver = "host".into();
        let err = e(r);
        assert_eq!((err.to_string().as_str(), err.status()), ("only one instance of \"host\" network is allowed", 403));
        let mut r = req("n2");
        r.driver = "null".into();
        assert_eq!(e(r).to_string(), "only one instance of \"null\" network is allowed");
        let mut r = req("f");
        r.driver = "foo".into();
        let err = e(r);
        assert_eq!((err.to_string().as_str(), err.status()), ("plugin \"foo\" not found", 404));
    }
    #[test]
    fn date_format() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20000), (2024, 10, 4));
    }
}
