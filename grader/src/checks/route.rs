//! An IPv4 route of the main table in a process's network namespace (what `ip route` shows).

use super::netlink::{self, parse_ip_prefix, Snapshot};
use super::{Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCheck {
    pub of: ProcRef,
    /// "default" or a network "10.3.3.0/24".
    pub dst: String,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default = "yes")]
    pub present: bool,
}

fn yes() -> bool {
    true
}

/// None: the default route.
pub fn parse_dst(s: &str) -> Result<Option<(Ipv4Addr, u8)>, String> {
    if s == "default" {
        return Ok(None);
    }
    match parse_ip_prefix(s)? {
        (ip, Some(p)) => Ok(Some((ip, p))),
        (_, None) => Err(format!(
            "{s:?}: a network needs its prefix (10.3.3.0/24) or \"default\""
        )),
    }
}

impl RouteCheck {
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}route {}",
            if self.present { "" } else { "no " },
            self.dst
        );
        if let Some(g) = &self.gateway {
            s += &format!(" via {g}");
        }
        if let Some(d) = &self.dev {
            s += &format!(" dev {d}");
        }
        format!("{s} in the netns of {}", self.of)
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        parse_dst(&self.dst).map_err(|e| ("dst".to_string(), e))?;
        if let Some(g) = &self.gateway {
            g.parse::<Ipv4Addr>().map_err(|_| {
                (
                    "gateway".to_string(),
                    format!("{g:?} is not an IPv4 address"),
                )
            })?;
        }
        Ok(())
    }

    pub fn judge(&self, snap: &Snapshot, who: &str) -> Outcome {
        let expected = self.describe();
        let dst = match parse_dst(&self.dst) {
            Ok(d) => d,
            Err(e) => return Outcome::fail(expected, e),
        };
        let gw: Option<Ipv4Addr> = self.gateway.as_ref().and_then(|g| g.parse().ok());
        let show: Vec<String> = snap
            .routes
            .iter()
            .map(|r| {
                let mut s = match r.dst {
                    None => "default".to_string(),
                    Some((ip, p)) => format!("{ip}/{p}"),
                };
                if let Some(g) = r.gateway {
                    s += &format!(" via {g}");
                }
                if let Some(i) = r.oif {
                    s += &format!(" dev {}", snap.link_name(i));
                }
                s
            })
            .collect();
        let observed = format!(
            "{who} routes: {}",
            if show.is_empty() {
                "none".to_string()
            } else {
                show.join("; ")
            }
        );
        let found = snap.routes.iter().any(|r| {
            r.dst == dst
                && gw.is_none_or(|g| r.gateway == Some(g))
                && self
                    .dev
                    .as_ref()
                    .is_none_or(|d| r.oif.map(|i| snap.link_name(i)).as_deref() == Some(d))
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
    use crate::checks::netlink::{Link, Route};

    #[test]
    fn default_and_subnet_routes() {
        let snap = Snapshot {
            links: vec![Link {
                index: 2,
                name: "eth0".into(),
                ..Default::default()
            }],
            routes: vec![
                Route {
                    dst: None,
                    gateway: Some([10, 3, 3, 1].into()),
                    oif: Some(2),
                },
                Route {
                    dst: Some(([10, 3, 3, 0].into(), 24)),
                    gateway: None,
                    oif: Some(2),
                },
            ],
            ..Default::default()
        };
        let mut c = RouteCheck {
            of: ProcRef::default(),
            dst: "default".into(),
            gateway: Some("10.3.3.1".into()),
            dev: Some("eth0".into()),
            present: true,
        };
        assert!(c.validate().is_ok());
        assert!(c.judge(&snap, "c4").passed());
        c.gateway = Some("172.17.0.1".into());
        match c.judge(&snap, "c4") {
            Outcome::Fail { observed, .. } => assert_eq!(
                observed,
                "c4 routes: default via 10.3.3.1 dev eth0; 10.3.3.0/24 dev eth0"
            ),
            o => panic!("{o:?}"),
        }
        c.gateway = None;
        c.dst = "10.3.3.0/24".into();
        assert!(c.judge(&snap, "c4").passed());
        c.present = false;
        assert!(!c.judge(&snap, "c4").passed());
        let empty = Snapshot::default();
        c.dst = "default".into();
        assert!(
            c.judge(&empty, "c7").passed(),
            "the none container has no default route"
        );
        c.dst = "10.3.3.0".into();
        assert!(c.validate().is_err());
    }
}
