//! The netlink seam: the few rtnetlink operations berth needs, behind a trait so the bridge logic
//! is unit-tested with a recording fake and run for real over a synchronous socket.
pub mod fake;
pub mod real;

use crate::error::Result;
use crate::subnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, … (None for plain devices such as `lo`).
    pub kind: Option<String>,
    /// Index of the bridge this link is a port of.
    pub master: Option<u32>,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub addr: Ipv4Net,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// None = default route.
    pub dst: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
}

/// The peer end of a new veth pair: created directly inside another namespace.
pub struct VethPeer<'a> {
    pub name: &'a str,
    pub netns_fd: RawFd,
    pub mac: [u8; 6],
}

pub trait Netlink: Send {
    fn links(&mut self) -> Result<Vec<Link>>;
    fn create_bridge(&mut self, name: &str, mtu: u32) -> Result<()>;
    fn create_veth(&mut self, name: &str, mtu: u32, peer: VethPeer<'_>) -> Result<()>;
    fn set_master(&mut self, index: u32, master: u32) -> Result<()>;
    fn set_up(&mut self, index: u32) -> Result<()>;
    fn delete_link(&mut self, index: u32) -> Result<()>;
    /// Idempotent: an address already present is not an error.
    fn add_addr(&mut self, index: u32, addr: Ipv4Net) -> Result<()>;
    fn addrs(&mut self) -> Result<Vec<Addr>>;
    fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()>;
    fn routes(&mut self) -> Result<Vec<Route>>;

    fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }
}
