//! Address pools: one per bridge network. Pure bookkeeping; the store persists it.
use crate::error::{NetError, Result};
use crate::subnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Pool {
    pub subnet: Ipv4Net,
    /// Addresses are handed out from here (Docker's `--ip-range`); defaults to the subnet.
    pub range: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// address -> owner (endpoint id, or "gateway").
    pub allocated: BTreeMap<Ipv4Addr, String>,
    /// Next address to try: Docker allocates sequentially and wraps, so a just-released
    /// address is not immediately reused.
    #[serde(default)]
    pub cursor: u32,
}

pub const GATEWAY_OWNER: &str = "gateway";

impl Pool {
    pub fn new(subnet: Ipv4Net, range: Option<Ipv4Net>, gateway: Ipv4Addr) -> Result<Pool> {
        let subnet = subnet.trunc();
        if !subnet.contains(gateway) {
            return Err(NetError::GatewayOutsideSubnet(gateway));
        }
        let range = match range {
            Some(r) => {
                let r = r.trunc();
                if !subnet.contains(r.network()) || r.prefix < subnet.prefix {
                    return Err(NetError::RangeOutsideSubnet(r.to_string()));
                }
                r
            }
            None => subnet,
        };
        let mut allocated = BTreeMap::new();
        allocated.insert(gateway, GATEWAY_OWNER.to_string());
        Ok(Pool { subnet, range, gateway, allocated, cursor: 0 })
    }

    /// Static address (`--ip`): anywhere in the subnet, not only the range, as Docker allows.
    pub fn reserve(&mut self, ip: Ipv4Addr, owner: &str) -> Result<()> {
        let (lo, hi) = self.subnet.host_range();
        let v = u32::from(ip);
        if v < lo || v > hi {
            return Err(NetError::AddressOutOfRange);
        }
        if self.allocated.contains_key(&ip) {
            return Err(NetError::AddressInUse);
        }
        self.allocated.insert(ip, owner.to_string());
        Ok(())
    }

    pub fn allocate(&mut self, owner: &str) -> Result<Ipv4Addr> {
        let (sub_lo, sub_hi) = self.subnet.host_range();
        // The whole range is usable when it sits inside a bigger subnet; only the subnet's own
        // network and broadcast addresses are excluded.
        let lo = u32::from(self.range.network()).max(sub_lo);
        let hi = u32::from(self.range.broadcast()).min(sub_hi);
        if hi < lo {
            return Err(NetError::PoolExhausted);
        }
        let size = hi - lo + 1;
        let start = if self.cursor >= lo && self.cursor <= hi { self.cursor } else { lo };
        for i in 0..size {
            let v = lo + (start - lo + i) % size;
            let ip = Ipv4Addr::from(v);
            if let std::collections::btree_map::Entry::Vacant(slot) = self.allocated.entry(ip) {
                slot.insert(owner.to_string());
                self.cursor = if v == hi { lo } else { v + 1 };
                return Ok(ip);
            }
        }
        Err(NetError::PoolExhausted)
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if self.allocated.get(&ip).map(|o| o != GATEWAY_OWNER).unwrap_or(false) {
            self.allocated.remove(&ip);
        }
    }

    /// Endpoints holding an address (the gateway is not one).
    pub fn in_use(&self) -> usize {
        self.allocated.values().filter(|o| *o != GATEWAY_OWNER).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }
    #[test]
    fn sequential_skips_gateway_and_never_reuses_immediately() {
        let mut p = Pool::new(n("172.17.0.0/16"), None, "172.17.0.1".parse().unwrap()).unwrap();
        assert_eq!(p.allocate("a").unwrap().to_string(), "172.17.0.2");
        assert_eq!(p.allocate("b").unwrap().to_string(), "172.17.0.3");
        p.release("172.17.0.2".parse().unwrap());
        assert_eq!(p.allocate("c").unwrap().to_string(), "172.17.0.4");
        p.release("172.17.0.1".parse().unwrap());
        assert!(p.allocated.contains_key(&"172.17.0.1".parse().unwrap()), "gateway stays reserved");
    }
    #[test]
    fn range_static_and_exhaustion() {
        let mut p = Pool::new(n("10.5.0.0/24"), Some(n("10.5.0.8/30")), "10.5.0.1".parse().unwrap()).unwrap();
        // /30 range: .8 .. .11, all usable since they sit inside the bigger subnet.
        let got: Vec<_> = (0..4).map(|i| p.allocate(&i.to_string()).unwrap().to_string()).collect();
        assert_eq!(got, ["10.5.0.8", "10.5.0.9", "10.5.0.10", "10.5.0.11"]);
        assert!(matches!(p.allocate("x"), Err(NetError::PoolExhausted)));
        p.reserve("10.5.0.200".parse().unwrap(), "s").unwrap();
        assert!(matches!(p.reserve("10.5.0.200".parse().unwrap(), "t"), Err(NetError::AddressInUse)));
        assert!(matches!(p.reserve("10.5.1.1".parse().unwrap(), "t"), Err(NetError::AddressOutOfRange)));
        assert!(matches!(p.reserve("10.5.0.1".parse().unwrap(), "t"), Err(NetError::AddressInUse)));
    }
    #[test]
    fn validation() {
        assert_eq!(
            Pool::new(n("10.0.0.0/24"), None, "10.1.0.1".parse().unwrap()).unwrap_err().to_string(),
            "no matching subnet for gateway 10.1.0.1"
        );
        assert!(matches!(
            Pool::new(n("10.0.0.0/24"), Some(n("10.0.1.0/25")), "10.0.0.1".parse().unwrap()),
            Err(NetError::RangeOutsideSubnet(_))
        ));
    }
}
