//! Who is called what on which network: the data the embedded DNS answers from. The controller
//! rebuilds it on every connect/disconnect; servers read it on every query.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, RwLock};

#[derive(Debug, Default, Clone)]
pub struct DnsTable {
    /// network id -> (name, address); names are lower-case.
    pub names: BTreeMap<String, Vec<(String, Ipv4Addr)>>,
    /// container id -> network ids with embedded DNS it is attached to.
    pub member_of: BTreeMap<String, Vec<String>>,
    /// `--internal` networks: their containers get no answers from outside.
    pub internal: BTreeSet<String>,
}

pub type SharedTable = Arc<RwLock<DnsTable>>;

impl DnsTable {
    /// Addresses for `name` as seen by `container_id`: only containers sharing a user network
    /// with it resolve (network isolation in DNS, as Docker and aardvark do).
    pub fn lookup(&self, container_id: &str, name: &str) -> Vec<Ipv4Addr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut out = Vec::new();
        for net in self.member_of.get(container_id).into_iter().flatten() {
            for (n, ip) in self.names.get(net).into_iter().flatten() {
                if *n == name && !out.contains(ip) {
                    out.push(*ip);
                }
            }
        }
        out
    }

    /// Unknown names are forwarded only for containers with a way out (a non-internal network).
    pub fn may_forward(&self, container_id: &str) -> bool {
        self.member_of.get(container_id).into_iter().flatten().any(|n| !self.internal.contains(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn scoped_lookup() {
        let mut t = DnsTable::default();
        t.names.insert("n1".into(), vec![("web".into(), "172.18.0.2".parse().unwrap()), ("db".into(), "172.18.0.3".parse().unwrap())]);
        t.names.insert("n2".into(), vec![("cache".into(), "172.19.0.2".parse().unwrap())]);
        t.member_of.insert("a".into(), vec!["n1".into()]);
        assert_eq!(t.lookup("a", "WEB."), vec!["172.18.0.2".parse::<Ipv4Addr>().unwrap()]);
        assert!(t.lookup("a", "cache").is_empty(), "other network is invisible");
        assert!(t.lookup("stranger", "web").is_empty());
        assert!(t.may_forward("a") && !t.may_forward("stranger"));
        t.internal.insert("n1".into());
        assert!(!t.may_forward("a"));
    }
}
