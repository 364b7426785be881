//! The bridge driver's kernel work: bridge device, veth pair, container addressing. Every step
//! that fails undoes the earlier ones, so nothing is left half set up.
use crate::error::{NetError, Result};
use crate::netlink::{Netlink, VethPeer};
use crate::store::Endpoint;
use crate::subnet::Ipv4Net;
use crate::veth::CONTAINER_IFNAME;
use std::os::fd::RawFd;

/// Make sure bridge `name` exists with the gateway address and is up; returns its index.
/// A bridge that already exists (daemon restart, a device the user named) is adopted.
pub fn ensure_bridge(nl: &mut dyn Netlink, name: &str, mtu: u32, gateway: Ipv4Net) -> Result<u32> {
    let (index, created) = match nl.link_by_name(name)? {
        Some(l) if l.kind.as_deref() == Some("bridge") => (l.index, false),
        Some(_) => return Err(NetError::Netlink(format!("{name} exists and is not a bridge"))),
        None => {
            nl.create_bridge(name, mtu)?;
            let l = nl.link_by_name(name)?.ok_or_else(|| NetError::Netlink(format!("bridge {name} vanished")))?;
            (l.index, true)
        }
    };
    let rest = nl.add_addr(index, gateway).and_then(|_| nl.set_up(index));
    if let Err(e) = rest {
        if created {
            let _ = nl.delete_link(index);
        }
        return Err(e);
    }
    Ok(index)
}

/// Delete the bridge if present (network removal). Its ports are gone by then.
pub fn remove_bridge(nl: &mut dyn Netlink, name: &str) -> Result<()> {
    if let Some(l) = nl.link_by_name(name)? {
        nl.delete_link(l.index)?;
    }
    Ok(())
}

/// Plug endpoint `ep` into bridge `bridge_index`: veth pair with the container end created
/// inside the container namespace (MAC derived from the IP), host end on the bridge, address and
/// default route inside. `ctr` is a netlink socket opened in that namespace. The container end
/// is `eth0`, or the next free `ethN` for a second network (`docker network connect`), and the
/// first network's default route is kept, as Docker does. Returns the interface name.
pub fn attach(host: &mut dyn Netlink, ctr: &mut dyn Netlink, ctr_netns: RawFd, bridge_index: u32, ep: &Endpoint, mtu: u32, internal: bool) -> Result<String> {
    let veth = ep.veth.as_deref().ok_or_else(|| NetError::Netlink("endpoint has no veth name".into()))?;
    let ip = ep.ip.ok_or_else(|| NetError::Netlink("endpoint has no address".into()))?;
    let mac = crate::mac::mac_from_ip(ip);
    let existing: Vec<String> = ctr.links()?.into_iter().map(|l| l.name).collect();
    let ifname = (0..)
        .map(|i| if i == 0 { CONTAINER_IFNAME.to_string() } else { format!("eth{i}") })
        .find(|n| !existing.contains(n))
        .expect("a free ethN");
    host.create_veth(veth, mtu, VethPeer { name: &ifname, netns_fd: ctr_netns, mac })?;
    let r = (|| -> Result<()> {
        let hl = host.link_by_name(veth)?.ok_or_else(|| NetError::Netlink(format!("{veth} vanished")))?;
        host.set_master(hl.index, bridge_index)?;
        host.set_up(hl.index)?;
        bring_up_loopback(ctr)?;
        let cl = ctr.link_by_name(&ifname)?.ok_or_else(|| NetError::Netlink(format!("{ifname} not in container namespace")))?;
        ctr.add_addr(cl.index, Ipv4Net::new(ip, ep.prefix))?;
        ctr.set_up(cl.index)?;
        // Docker gives internal networks no default route: nothing beyond the bridge is reachable.
        let has_default = ctr.routes()?.iter().any(|r| r.dst.is_none());
        if let (Some(gw), false, false) = (ep.gateway, internal, has_default) {
            ctr.add_default_route(gw)?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        // Deleting one end of a veth pair deletes both.
        if let Ok(Some(l)) = host.link_by_name(veth) {
            let _ = host.delete_link(l.index);
        }
        return Err(e);
    }
    Ok(ifname)
}

/// Remove the endpoint's veth (both ends go). Missing is fine: the container's namespace may be
/// gone already, which takes the pair with it.
pub fn detach(host: &mut dyn Netlink, ep: &Endpoint) -> Result<()> {
    if let Some(v) = &ep.veth {
        if let Some(l) = host.link_by_name(v)? {
            host.delete_link(l.index)?;
        }
    }
    Ok(())
}

/// `--network none` (and every container namespace): only `lo`, up.
pub fn bring_up_loopback(nl: &mut dyn Netlink) -> Result<()> {
    if let Some(lo) = nl.link_by_name("lo")? {
        if !lo.up {
            nl.set_up(lo.index)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::fake::FakeNetlink;

    fn ep() -> Endpoint {
        Endpoint {
            id: "e".repeat(64),
            network_id: "n".into(),
            container_id: "c".into(),
            container_name: "c1".into(),
            aliases: vec![],
            ip: Some("172.17.0.2".parse().unwrap()),
            prefix: 16,
            gateway: Some("172.17.0.1".parse().unwrap()),
            mac: None,
            veth: Some("veth1234567".into()),
        }
    }

    #[test]
    fn attach_and_detach() {
        let ctr = FakeNetlink::new();
        let mut host = FakeNetlink::new();
        host.peer = Some(Box::new(ctr.clone()));
        let b = ensure_bridge(&mut host, "berth0", 1500, "172.17.0.1/16".parse().unwrap()).unwrap();
        assert_eq!(ensure_bridge(&mut host, "berth0", 1500, "172.17.0.1/16".parse().unwrap()).unwrap(), b, "adopted");
        let mut c = ctr.clone();
        attach(&mut host, &mut c, -1, b, &ep(), 1500, false).unwrap();
        let v = host.link_by_name("veth1234567").unwrap().unwrap();
        assert_eq!((v.master, v.up), (Some(b), true));
        let e0 = c.link_by_name("eth0").unwrap().unwrap();
        assert_eq!(e0.mac, Some([2, 0x42, 172, 17, 0, 2]));
        assert!(e0.up && c.link_by_name("lo").unwrap().unwrap().up);
        assert_eq!(c.addrs().unwrap()[0].addr.to_string(), "172.17.0.2/16");
        assert_eq!(c.routes().unwrap()[0].gateway.unwrap().to_string(), "172.17.0.1");
        // A second network: eth1, default route unchanged.
        let mut ep2 = ep();
        ep2.veth = Some("veth7654321".into());
        ep2.ip = Some("10.0.0.2".parse().unwrap());
        ep2.prefix = 24;
        ep2.gateway = Some("10.0.0.1".parse().unwrap());
        let b2 = ensure_bridge(&mut host, "br-2", 1500, "10.0.0.1/24".parse().unwrap()).unwrap();
        assert_eq!(attach(&mut host, &mut c, -1, b2, &ep2, 1500, false).unwrap(), "eth1");
        assert_eq!(c.routes().unwrap().len(), 1, "first network keeps the default route");
        detach(&mut host, &ep2).unwrap();
        remove_bridge(&mut host, "br-2").unwrap();
        detach(&mut host, &ep()).unwrap();
        assert!(host.link_by_name("veth1234567").unwrap().is_none());
        remove_bridge(&mut host, "berth0").unwrap();
        assert_eq!(host.links().unwrap().len(), 1);
    }

    #[test]
    fn failure_undoes_veth_and_new_bridge() {
        let ctr = FakeNetlink::new();
        let mut host = FakeNetlink::new();
        host.peer = Some(Box::new(ctr.clone()));
        let b = ensure_bridge(&mut host, "br-x", 1500, "10.0.0.1/24".parse().unwrap()).unwrap();
        ctr.state.lock().unwrap().fail_on = Some("add_default_route".into());
        let mut c = ctr.clone();
        assert!(attach(&mut host, &mut c, -1, b, &ep(), 1500, false).is_err());
        assert!(host.link_by_name("veth1234567").unwrap().is_none(), "veth undone");
        host.state.lock().unwrap().fail_on = Some("add_addr".into());
        assert!(ensure_bridge(&mut host, "br-y", 1500, "10.1.0.1/24".parse().unwrap()).is_err());
        assert!(host.link_by_name("br-y").unwrap().is_none(), "new bridge undone");
    }
}
