//! Synchronous rtnetlink over netlink-sys + netlink-packet-route (netavark's shape: one socket per
//! namespace, opened on a thread that joined that namespace).
use super::{Addr, Link, Netlink, Route, VethPeer};
use crate::error::{NetError, Result};
use crate::subnet::Ipv4Net;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

pub struct RealNetlink {
    sock: Socket,
    seq: u32,
}

fn nlerr(op: &str, e: impl std::fmt::Display) -> NetError {
    NetError::Netlink(format!("{op}: {e}"))
}

impl RealNetlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<RealNetlink> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| nlerr("socket", e))?;
        sock.bind_auto().map_err(|e| nlerr("bind", e))?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(|e| nlerr("connect", e))?;
        Ok(RealNetlink { sock, seq: 0 })
    }

    /// A socket bound to the namespace at `path`; the caller's namespace is untouched.
    pub fn open_in(path: &Path) -> Result<RealNetlink> {
        crate::netns::run_in_netns(path, RealNetlink::open)?
    }

    fn request(&mut self, op: &str, msg: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|e| nlerr(op, e))?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        let mut rbuf: Vec<u8> = Vec::with_capacity(1 << 16);
        loop {
            rbuf.clear();
            let n = self.sock.recv(&mut rbuf, 0).map_err(|e| nlerr(op, e))?;
            let mut off = 0;
            while off < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[off..n]).map_err(|e| nlerr(op, e))?;
                let len = m.header.length as usize;
                if m.header.sequence_number != self.seq {
                    off += (len + 3) & !3;
                    continue;
                }
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(out),
                        Some(code) => {
                            let io = std::io::Error::from_raw_os_error(-code.get());
                            return Err(NetError::Netlink(format!("{op}: {io}")));
                        }
                    },
                    NetlinkPayload::InnerMessage(inner) => {
                        out.push(inner);
                        if !dump {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
            }
        }
    }

    fn ack(&mut self, op: &str, msg: RouteNetlinkMessage, flags: u16) -> Result<()> {
        self.request(op, msg, NLM_F_ACK | flags).map(|_| ())
    }

    fn set_link(&mut self, op: &str, index: u32, f: impl FnOnce(&mut LinkMessage)) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        f(&mut m);
        self.ack(op, RouteNetlinkMessage::SetLink(m), 0)
    }
}

fn link_from(m: &LinkMessage) -> Link {
    let mut l = Link { index: m.header.index, name: String::new(), kind: None, master: None, up: m.header.flags.contains(LinkFlags::Up), mtu: 0, mac: None };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Controller(i) => l.master = Some(*i),
            LinkAttribute::Mtu(v) => l.mtu = *v,
            LinkAttribute::Address(b) if b.len() == 6 => l.mac = Some([b[0], b[1], b[2], b[3], b[4], b[5]]),
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

impl Netlink for RealNetlink {
    fn links(&mut self) -> Result<Vec<Link>> {
        let msgs = self.request("dump links", RouteNetlinkMessage::GetLink(LinkMessage::default()), NLM_F_DUMP)?;
        Ok(msgs.iter().filter_map(|m| if let RouteNetlinkMessage::NewLink(l) = m { Some(link_from(l)) } else { None }).collect())
    }

    /// One RTM_GETLINK by name instead of a dump: connect() asks this several times.
    fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(&format!("get link {name}"), RouteNetlinkMessage::GetLink(m), 0) {
            Ok(msgs) => Ok(msgs.iter().find_map(|m| if let RouteNetlinkMessage::NewLink(l) = m { Some(link_from(l)) } else { None })),
            Err(NetError::Netlink(e)) if e.contains("No such device") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn create_bridge(&mut self, name: &str, mtu: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.ack(&format!("create bridge {name}"), RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    fn create_veth(&mut self, name: &str, mtu: u32, peer: VethPeer<'_>) -> Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.name.to_string()));
        p.attributes.push(LinkAttribute::Mtu(mtu));
        p.attributes.push(LinkAttribute::Address(peer.mac.to_vec()));
        p.attributes.push(LinkAttribute::NetNsFd(peer.netns_fd));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.ack(&format!("create veth {name}"), RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        self.set_link("set master", index, |m| m.attributes.push(LinkAttribute::Controller(master)))
    }

    fn set_up(&mut self, index: u32) -> Result<()> {
        self.set_link("set up", index, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    fn delete_link(&mut self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.ack("delete link", RouteNetlinkMessage::DelLink(m), 0)
    }

    fn add_addr(&mut self, index: u32, addr: Ipv4Net) -> Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = addr.prefix;
        m.header.index = index;
        m.attributes.push(AddressAttribute::Local(IpAddr::V4(addr.addr)));
        m.attributes.push(AddressAttribute::Address(IpAddr::V4(addr.addr)));
        if addr.prefix < 31 {
            m.attributes.push(AddressAttribute::Broadcast(addr.broadcast()));
        }
        match self.ack(&format!("add address {addr}"), RouteNetlinkMessage::NewAddress(m), NLM_F_CREATE | NLM_F_EXCL) {
            Err(NetError::Netlink(e)) if e.contains("File exists") => Ok(()),
            r => r,
        }
    }

    fn addrs(&mut self) -> Result<Vec<Addr>> {
        let mut q = AddressMessage::default();
        q.header.family = AddressFamily::Inet;
        let msgs = self.request("dump addresses", RouteNetlinkMessage::GetAddress(q), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for m in msgs {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                for at in &a.attributes {
                    if let AddressAttribute::Local(IpAddr::V4(ip)) = at {
                        out.push(Addr { index: a.header.index, addr: Ipv4Net::new(*ip, a.header.prefix_len) });
                    }
                }
            }
        }
        Ok(out)
    }

    fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.ack(&format!("add default route via {gateway}"), RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    fn routes(&mut self) -> Result<Vec<Route>> {
        let mut q = RouteMessage::default();
        q.header.address_family = AddressFamily::Inet;
        let msgs = self.request("dump routes", RouteNetlinkMessage::GetRoute(q), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for m in msgs {
            if let RouteNetlinkMessage::NewRoute(r) = m {
                if r.header.table != RouteHeader::RT_TABLE_MAIN {
                    continue;
                }
                let mut route = Route { dst: None, gateway: None, oif: None };
                for a in &r.attributes {
                    match a {
                        RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                            route.dst = Some(Ipv4Net::new(*ip, r.header.destination_prefix_length))
                        }
                        RouteAttribute::Gateway(RouteAddress::Inet(ip)) => route.gateway = Some(*ip),
                        RouteAttribute::Oif(i) => route.oif = Some(*i),
                        _ => {}
                    }
                }
                out.push(route);
            }
        }
        Ok(out)
    }
}
