//! An IPv4 address on a link in a process's network namespace (rtnetlink IFA_LOCAL).

use super::netlink::{self, parse_ip_prefix, Snapshot};
use super::{Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddressCheck {
    pub of: ProcRef,
    /// "10.3.3.2/24" (address and prefix) or "10.3.3.2" (any prefix).
    pub ip: String,
    /// The link it must be on (any link when absent).
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default = "yes")]
    pub present: bool,
}

fn yes() -> bool {
    true
}

impl AddressCheck {
    pub fn describe(&self) -> String {
        let on = self
            .dev
            .as_ref()
            .map(|d| format!(" on {d}"))
            .unwrap_or_default();
        let neg = if self.present { "" } else { "no " };
        format!("{neg}address {}{on} in the netns of {}", self.ip, self.of)
    }

    pub fn judge(&self, snap: &Snapshot, who: &str) -> Outcome {
        let expected = self.describe();
        let (ip, prefix) = match parse_ip_prefix(&self.ip) {
            Ok(x) => x,
            Err(e) => return Outcome::fail(expected, e),
        };
        let all: Vec<String> = snap
            .addrs
            .iter()
            .map(|a| format!("{}/{} on {}", a.ip, a.prefix, snap.link_name(a.index)))
            .collect();
        let observed = format!(
            "{who} has {}",
            if all.is_empty() {
                "no IPv4 address".to_string()
            } else {
                all.join(", ")
            }
        );
        let found = snap.addrs.iter().any(|a| {
            a.ip == ip
                && prefix.is_none_or(|p| p == a.prefix)
                && self
                    .dev
                    .as_ref()
                    .is_none_or(|d| &snap.link_name(a.index) == d)
        });
        if found == self.present {
            Outcome::pass(observed)
        } else {
            Outcome::fail(expected, observed)
        }
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        match netlink::read_of(ctx, &self.of) {
            Ok((snap, who)) => self.judge(&snap, &who),
            Err(e) => Outcome::fail(self.describe(), e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::netlink::{Addr, Link};

    #[test]
    fn address_prefix_and_device() {
        let snap = Snapshot {
            links: vec![
                Link {
                    index: 1,
                    name: "lo".into(),
                    ..Default::default()
                },
                Link {
                    index: 2,
                    name: "eth0".into(),
                    ..Default::default()
                },
            ],
            addrs: vec![
                Addr {
                    index: 1,
                    ip: [127, 0, 0, 1].into(),
                    prefix: 8,
                },
                Addr {
                    index: 2,
                    ip: [10, 3, 3, 2].into(),
                    prefix: 24,
                },
            ],
            ..Default::default()
        };
        let mut c = AddressCheck {
            of: ProcRef::default(),
            ip: "10.3.3.2/24".into(),
            dev: Some("eth0".into()),
            present: true,
        };
        assert!(c.judge(&snap, "c4").passed());
        c.ip = "10.3.3.2/16".into();
        match c.judge(&snap, "c4") {
            Outcome::Fail { observed, .. } => {
                assert_eq!(observed, "c4 has 127.0.0.1/8 on lo, 10.3.3.2/24 on eth0")
            }
            o => panic!("{o:?}"),
        }
        c.ip = "10.3.3.2".into();
        c.dev = Some("lo".into());
        assert!(!c.judge(&snap, "c4").passed());
        c.dev = None;
        assert!(c.judge(&snap, "c4").passed());
        c.present = false;
        assert!(!c.judge(&snap, "c4").passed());
    }
}
