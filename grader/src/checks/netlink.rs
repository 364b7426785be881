//! The grader's own rtnetlink reader: links, IPv4 addresses and main-table IPv4 routes of one
//! network namespace, dumped over a NETLINK_ROUTE socket opened on a thread that joined that
//! namespace (`netns::in_netns`). Read-only (dump requests only), and independent of the
//! engine's netlink code, so the grader checks the engine instead of trusting it.

use super::{netns, procfs, Ctx, ProcRef};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFLA_INFO_KIND: "bridge", "veth", …; None for lo and physical devices.
    pub kind: Option<String>,
    /// IFF_UP (administratively up).
    pub up: bool,
    pub mtu: u32,
    /// The index of the bridge this link is a port of (same namespace).
    pub master: Option<u32>,
    /// IFLA_LINK: for a veth, its peer's index (in the peer's namespace).
    pub peer_index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Addr {
    pub index: u32,
    pub ip: Ipv4Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// None: the default route.
    pub dst: Option<(Ipv4Addr, u8)>,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
}

/// What one namespace's rtnetlink reports.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub links: Vec<Link>,
    pub addrs: Vec<Addr>,
    pub routes: Vec<Route>,
}

impl Snapshot {
    pub fn link_name(&self, index: u32) -> String {
        self.links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| format!("if{index}"))
    }
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
}

pub fn link_from(m: &LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        up: m.header.flags.contains(LinkFlags::Up),
        ..Default::default()
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Mtu(v) => l.mtu = *v,
            LinkAttribute::Controller(i) => l.master = Some(*i),
            LinkAttribute::Link(i) => l.peer_index = Some(*i),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        l.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    l
}

pub fn addrs_from(m: &AddressMessage) -> Vec<Addr> {
    m.attributes
        .iter()
        .filter_map(|a| match a {
            // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on p2p links).
            AddressAttribute::Local(IpAddr::V4(ip)) => Some(Addr {
                index: m.header.index,
                ip: *ip,
                prefix: m.header.prefix_len,
            }),
            _ => None,
        })
        .collect()
}

/// A main-table IPv4 route; None for other tables (local, broadcast…).
pub fn route_from(m: &RouteMessage) -> Option<Route> {
    if m.header.table != RouteHeader::RT_TABLE_MAIN
        || m.header.address_family != AddressFamily::Inet
    {
        return None;
    }
    let mut r = Route {
        dst: None,
        gateway: None,
        oif: None,
    };
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                r.dst = Some((*ip, m.header.destination_prefix_length))
            }
            RouteAttribute::Gateway(RouteAddress::Inet(ip)) => r.gateway = Some(*ip),
            RouteAttribute::Oif(i) => r.oif = Some(*i),
            _ => {}
        }
    }
    Some(r)
}

/// Sends one dump request and collects the answers until NLMSG_DONE.
fn dump(
    sock: &Socket,
    seq: u32,
    msg: RouteNetlinkMessage,
) -> Result<Vec<RouteNetlinkMessage>, String> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    sock.send(&buf, 0)
        .map_err(|e| format!("netlink send: {e}"))?;
    let mut out = Vec::new();
    let mut rbuf: Vec<u8> = Vec::with_capacity(1 << 16);
    loop {
        rbuf.clear();
        let n = sock
            .recv(&mut rbuf, 0)
            .map_err(|e| format!("netlink recv: {e}"))?;
        let mut off = 0;
        while off < n {
            let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[off..n])
                .map_err(|e| format!("netlink message: {e}"))?;
            let len = m.header.length as usize;
            if m.header.sequence_number == seq {
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            return Err(format!(
                                "netlink dump: {}",
                                std::io::Error::from_raw_os_error(-code.get())
                            ));
                        }
                        return Ok(out);
                    }
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
            if len == 0 {
                break;
            }
            off += (len + 3) & !3;
        }
    }
}

/// Links, addresses and routes of the calling thread's network namespace.
pub fn read_current() -> Result<Snapshot, String> {
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| format!("netlink socket: {e}"))?;
    sock.bind_auto().map_err(|e| format!("netlink bind: {e}"))?;
    sock.connect(&SocketAddr::new(0, 0))
        .map_err(|e| format!("netlink connect: {e}"))?;
    let mut snap = Snapshot::default();
    for m in dump(
        &sock,
        1,
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
    )? {
        if let RouteNetlinkMessage::NewLink(l) = m {
            snap.links.push(link_from(&l));
        }
    }
    let mut q = AddressMessage::default();
    q.header.family = AddressFamily::Inet;
    for m in dump(&sock, 2, RouteNetlinkMessage::GetAddress(q))? {
        if let RouteNetlinkMessage::NewAddress(a) = m {
            snap.addrs.extend(addrs_from(&a));
        }
    }
    let mut q = RouteMessage::default();
    q.header.address_family = AddressFamily::Inet;
    for m in dump(&sock, 3, RouteNetlinkMessage::GetRoute(q))? {
        if let RouteNetlinkMessage::NewRoute(r) = m {
            snap.routes.extend(route_from(&r));
        }
    }
    Ok(snap)
}

/// The snapshot of the network namespace of a process reference, and who that is.
pub fn read_of(ctx: &Ctx, r: &ProcRef) -> Result<(Snapshot, String), String> {
    let (pid, who) = procfs::resolve(ctx, r)?;
    // pid 0 is the grader itself: read in place rather than setns into our own namespace.
    let target = (pid != 0).then_some(pid);
    let snap = netns::in_netns(&ctx.proc_root, target, read_current)??;
    Ok((snap, who))
}

/// "10.3.3.2/24" or "10.3.3.2" (any prefix).
pub fn parse_ip_prefix(s: &str) -> Result<(Ipv4Addr, Option<u8>), String> {
    let (ip, prefix) = match s.split_once('/') {
        Some((a, p)) => (
            a,
            Some(
                p.parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 32)
                    .ok_or_else(|| format!("{s:?}: bad prefix"))?,
            ),
        ),
        None => (s, None),
    };
    let ip = ip
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address[/prefix]"))?;
    Ok((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::link::InfoKind;
    use netlink_packet_route::route::RouteType;

    #[test]
    fn parses_link_messages() {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = LinkFlags::Up;
        m.attributes
            .push(LinkAttribute::IfName("veth1a2b3c4".into()));
        m.attributes.push(LinkAttribute::Mtu(1500));
        m.attributes.push(LinkAttribute::Controller(3));
        m.attributes.push(LinkAttribute::Link(2));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Veth,
            )]));
        let l = link_from(&m);
        assert_eq!(
            l,
            Link {
                index: 7,
                name: "veth1a2b3c4".into(),
                kind: Some("veth".into()),
                up: true,
                mtu: 1500,
                master: Some(3),
                peer_index: Some(2),
            }
        );
        let mut lo = LinkMessage::default();
        lo.attributes.push(LinkAttribute::IfName("lo".into()));
        let lo = link_from(&lo);
        assert!(!lo.up && lo.kind.is_none() && lo.master.is_none());
    }

    #[test]
    fn parses_addresses_and_main_routes() {
        let mut a = AddressMessage::default();
        a.header.index = 2;
        a.header.prefix_len = 24;
        a.attributes
            .push(AddressAttribute::Address(IpAddr::V4([10, 3, 3, 2].into())));
        a.attributes
            .push(AddressAttribute::Local(IpAddr::V4([10, 3, 3, 2].into())));
        assert_eq!(
            addrs_from(&a),
            vec![Addr {
                index: 2,
                ip: [10, 3, 3, 2].into(),
                prefix: 24
            }]
        );
        let mut r = RouteMessage::default();
        r.header.address_family = AddressFamily::Inet;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.kind = RouteType::Unicast;
        r.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(
                [10, 3, 3, 1].into(),
            )));
        r.attributes.push(RouteAttribute::Oif(2));
        assert_eq!(
            route_from(&r),
            Some(Route {
                dst: None,
                gateway: Some([10, 3, 3, 1].into()),
                oif: Some(2)
            })
        );
        r.header.table = 255; // local table: not what `ip route` shows
        assert_eq!(route_from(&r), None);
        assert_eq!(
            parse_ip_prefix("10.3.3.2/24").unwrap(),
            ([10, 3, 3, 2].into(), Some(24))
        );
        assert_eq!(parse_ip_prefix("10.3.3.2").unwrap().1, None);
        assert!(parse_ip_prefix("10.3.3.2/33").is_err() && parse_ip_prefix("x").is_err());
    }

    /// A real dump: as root in a fresh namespace of a helper thread (exactly one link, lo,
    /// down), otherwise of the test's own namespace (dumps are read-only and unprivileged).
    #[test]
    fn dumps_a_real_namespace() {
        if nix::unistd::Uid::effective().is_root() {
            let s = std::thread::spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                read_current()
            })
            .join()
            .unwrap()
            .unwrap();
            assert_eq!(s.links.len(), 1, "{s:?}");
            assert!(!s.links[0].up && s.links[0].name == "lo");
            assert!(s.addrs.is_empty() && s.routes.is_empty(), "{s:?}");
            return;
        }
        let s = read_current().unwrap();
        let lo = s.link("lo").expect("every namespace has lo");
        assert_eq!(s.link_name(lo.index), "lo");
    }
}
