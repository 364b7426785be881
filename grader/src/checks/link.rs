//! A network link in a process's network namespace, as rtnetlink reports it: name, kind, up,
//! MTU, the bridge it is a port of, and for a veth the far end (found by its index in another
//! namespace, and linked back), e.g. "c4's eth0 is a veth whose peer on vm1 is a port of docker1".

use super::netlink::{Link, Snapshot};
use super::{netlink, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// The namespace holding the veth's other end (usually the host's).
    pub of: ProcRef,
    /// Name of the bridge the other end must be a port of.
    #[serde(default)]
    pub master: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkCheck {
    /// Whose network namespace.
    pub of: ProcRef,
    /// Regex on the link name (anchor it: "^eth0$").
    pub name: String,
    #[serde(default = "yes")]
    pub present: bool,
    /// bridge, veth, vxlan, tun… (`type` in lab.toml: `kind` names the check).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Administratively up (IFF_UP).
    #[serde(default)]
    pub up: Option<bool>,
    /// Name of the bridge it is a port of, in the same namespace.
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Every link of the namespace matches `name` (e.g. "^lo$": nothing but loopback).
    #[serde(default)]
    pub only: bool,
    #[serde(default)]
    pub peer: Option<Peer>,
}

fn yes() -> bool {
    true
}

fn show(l: &Link, snap: &Snapshot) -> String {
    let mut s = format!(
        "{} ({}, {}, mtu {}",
        l.name,
        l.kind.as_deref().unwrap_or("no kind"),
        if l.up { "up" } else { "down" },
        l.mtu
    );
    if let Some(m) = l.master {
        s += &format!(", master {}", snap.link_name(m));
    }
    s + ")"
}

/// The far end of a veth in another namespace: the link at our IFLA_LINK index over there that
/// points back at us (an index alone could name an unrelated link of another namespace).
fn peer_of<'a>(l: &Link, other: &'a Snapshot) -> Option<&'a Link> {
    let i = l.peer_index?;
    other
        .links
        .iter()
        .find(|o| o.index == i && o.peer_index == Some(l.index))
}

impl LinkCheck {
    pub fn describe(&self) -> String {
        if !self.present {
            return format!("no link /{}/ in the netns of {}", self.name, self.of);
        }
        let mut parts = vec![format!("link /{}/ in the netns of {}", self.name, self.of)];
        if let Some(k) = &self.kind {
            parts.push(format!("type {k}"));
        }
        if let Some(u) = self.up {
            parts.push(if u { "up" } else { "down" }.into());
        }
        if let Some(m) = &self.master {
            parts.push(format!("master {m}"));
        }
        if let Some(m) = self.mtu {
            parts.push(format!("mtu {m}"));
        }
        if self.only {
            parts.push("and no other link".into());
        }
        if let Some(p) = &self.peer {
            let m = p
                .master
                .as_ref()
                .map(|m| format!(" with master {m}"))
                .unwrap_or_default();
            parts.push(format!("veth peer in the netns of {}{m}", p.of));
        }
        parts.join(", ")
    }

    /// What is wrong with one link (empty: nothing).
    fn mismatches(&self, l: &Link, snap: &Snapshot, peer: Option<&Snapshot>) -> Vec<String> {
        let mut bad = Vec::new();
        if let Some(k) = &self.kind {
            if l.kind.as_deref() != Some(k.as_str()) {
                bad.push(format!(
                    "type {} ≠ {k}",
                    l.kind.as_deref().unwrap_or("none")
                ));
            }
        }
        if let Some(u) = self.up {
            if l.up != u {
                bad.push(format!(
                    "{} is {}",
                    l.name,
                    if l.up { "up" } else { "down" }
                ));
            }
        }
        if let Some(m) = &self.master {
            let have = l.master.map(|i| snap.link_name(i));
            if have.as_deref() != Some(m.as_str()) {
                bad.push(format!(
                    "master {} ≠ {m}",
                    have.as_deref().unwrap_or("none")
                ));
            }
        }
        if let Some(m) = self.mtu {
            if l.mtu != m {
                bad.push(format!("mtu {} ≠ {m}", l.mtu));
            }
        }
        if let (Some(p), Some(ps)) = (&self.peer, peer) {
            match peer_of(l, ps) {
                None => bad.push(format!(
                    "{} has no veth peer in the netns of {}",
                    l.name, p.of
                )),
                Some(o) => {
                    if let Some(m) = &p.master {
                        let have = o.master.map(|i| ps.link_name(i));
                        if have.as_deref() != Some(m.as_str()) {
                            bad.push(format!(
                                "peer {} has master {}, not {m}",
                                o.name,
                                have.as_deref().unwrap_or("none")
                            ));
                        }
                    }
                }
            }
        }
        bad
    }

    /// Decides from snapshots (no kernel access): unit-testable.
    pub fn judge(&self, snap: &Snapshot, who: &str, peer: Option<&Snapshot>) -> Outcome {
        let expected = self.describe();
        let re = match regex::Regex::new(&self.name) {
            Ok(r) => r,
            Err(e) => return Outcome::fail(expected, format!("bad regex: {e}")),
        };
        let all: Vec<String> = snap.links.iter().map(|l| show(l, snap)).collect();
        let listing = format!("{who} has {}", all.join(", "));
        let matching: Vec<&Link> = snap.links.iter().filter(|l| re.is_match(&l.name)).collect();
        if !self.present {
            return if matching.is_empty() {
                Outcome::pass(listing)
            } else {
                Outcome::fail(expected, listing)
            };
        }
        if matching.is_empty() {
            return Outcome::fail(expected, listing);
        }
        if self.only && matching.len() != snap.links.len() {
            return Outcome::fail(expected, listing);
        }
        let mut why = Vec::new();
        for l in &matching {
            let bad = self.mismatches(l, snap, peer);
            if bad.is_empty() {
                let far = match (peer, peer_of(l, peer.unwrap_or(snap))) {
                    (Some(ps), Some(o)) => format!(", veth peer {}", show(o, ps)),
                    _ => String::new(),
                };
                return Outcome::pass(format!("{who}: {}{far}", show(l, snap)));
            }
            why.push(bad.join(", "));
        }
        Outcome::fail(expected, format!("{listing}; {}", why.join("; ")))
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let (snap, who) = match netlink::read_of(ctx, &self.of) {
            Ok(s) => s,
            Err(e) => return Outcome::fail(self.describe(), e),
        };
        let peer = match &self.peer {
            None => None,
            Some(p) => match netlink::read_of(ctx, &p.of) {
                Ok((s, _)) => Some(s),
                Err(e) => return Outcome::fail(self.describe(), e),
            },
        };
        self.judge(&snap, &who, peer.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(
        index: u32,
        name: &str,
        kind: Option<&str>,
        master: Option<u32>,
        peer: Option<u32>,
    ) -> Link {
        Link {
            index,
            name: name.into(),
            kind: kind.map(String::from),
            up: true,
            mtu: 1500,
            master,
            peer_index: peer,
        }
    }

    fn chk(name: &str) -> LinkCheck {
        LinkCheck {
            of: ProcRef::default(),
            name: name.into(),
            present: true,
            kind: None,
            up: None,
            master: None,
            mtu: None,
            only: false,
            peer: None,
        }
    }

    #[test]
    fn veth_peer_on_the_right_bridge() {
        let container = Snapshot {
            links: vec![
                link(1, "lo", None, None, None),
                link(2, "eth0", Some("veth"), None, Some(9)),
            ],
            ..Default::default()
        };
        let host = Snapshot {
            links: vec![
                link(1, "lo", None, None, None),
                link(4, "berth0", Some("bridge"), None, None),
                link(5, "docker1", Some("bridge"), None, None),
                link(9, "veth1a2b3c4", Some("veth"), Some(5), Some(2)),
            ],
            ..Default::default()
        };
        let mut c = chk("^eth0$");
        c.kind = Some("veth".into());
        c.peer = Some(Peer {
            of: ProcRef::default(),
            master: Some("docker1".into()),
        });
        match c.judge(&container, "c4", Some(&host)) {
            Outcome::Pass { observed } => assert_eq!(
                observed,
                "c4: eth0 (veth, up, mtu 1500), veth peer veth1a2b3c4 (veth, up, mtu 1500, master docker1)"
            ),
            o => panic!("{o:?}"),
        }
        c.peer.as_mut().unwrap().master = Some("berth0".into());
        match c.judge(&container, "c4", Some(&host)) {
            Outcome::Fail { observed, .. } => {
                assert!(
                    observed.contains("peer veth1a2b3c4 has master docker1, not berth0"),
                    "{observed}"
                )
            }
            o => panic!("{o:?}"),
        }
        // index 9 over there pointing at another link is not our peer
        let mut other = host.clone();
        other.links[3].peer_index = Some(3);
        c.peer.as_mut().unwrap().master = Some("docker1".into());
        assert!(!c.judge(&container, "c4", Some(&other)).passed());
        let mut br = chk("^docker1$");
        br.kind = Some("bridge".into());
        br.up = Some(true);
        assert!(br.judge(&host, "vm1", None).passed());
        br.kind = Some("veth".into());
        assert!(!br.judge(&host, "vm1", None).passed());
    }

    #[test]
    fn only_loopback_and_absence() {
        let none = Snapshot {
            links: vec![link(1, "lo", None, None, None)],
            ..Default::default()
        };
        let bridged = Snapshot {
            links: vec![
                link(1, "lo", None, None, None),
                link(2, "eth0", Some("veth"), None, Some(9)),
            ],
            ..Default::default()
        };
        let mut lo = chk("^lo$");
        lo.only = true;
        assert!(lo.judge(&none, "c7", None).passed());
        match lo.judge(&bridged, "c7", None) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("eth0 (veth, up"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
        let mut no_eth = chk("^eth");
        no_eth.present = false;
        assert!(no_eth.judge(&none, "c7", None).passed());
        assert!(!no_eth.judge(&bridged, "c7", None).passed());
    }
}
