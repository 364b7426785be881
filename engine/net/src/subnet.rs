//! IPv4 prefix arithmetic (the only address family berth's bridge driver handles).
use crate::error::NetError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Ipv4Net { addr, prefix }
    }
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) }
    }
    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) | !self.mask())
    }
    pub fn trunc(&self) -> Ipv4Net {
        Ipv4Net::new(self.network(), self.prefix)
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }
    /// Usable host addresses, first and last (network and broadcast excluded for prefixes < 31).
    pub fn host_range(&self) -> (u32, u32) {
        let n = u32::from(self.network());
        let b = u32::from(self.broadcast());
        if self.prefix >= 31 { (n, b) } else { (n + 1, b - 1) }
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self, NetError> {
        let bad = || NetError::InvalidCidr(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Ipv4Net { addr, prefix })
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = NetError;
    fn try_from(s: String) -> Result<Self, NetError> {
        s.parse()
    }
}
impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn arithmetic() {
        let n: Ipv4Net = "172.17.5.9/16".parse().unwrap();
        assert_eq!(n.network().to_string(), "172.17.0.0");
        assert_eq!(n.broadcast().to_string(), "172.17.255.255");
        assert!(n.contains("172.17.200.1".parse().unwrap()));
        assert!(!n.contains("172.18.0.1".parse().unwrap()));
        let m: Ipv4Net = "172.17.3.0/24".parse().unwrap();
        assert!(n.overlaps(&m) && m.overlaps(&n));
        assert!(!m.overlaps(&"172.17.4.0/24".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("10.0.0/8".parse::<Ipv4Net>().is_err());
    }
}
