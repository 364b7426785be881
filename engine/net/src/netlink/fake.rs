//! In-memory netlink for unit tests: keeps links/addresses/routes, enforces the kernel's basic
//! rules (unique names, existing indexes), records calls and can fail a chosen operation.
use super::{Addr, Link, Netlink, Route, VethPeer};
use crate::error::{NetError, Result};
use crate::subnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

#[derive(Default, Debug)]
pub struct FakeState {
    pub links: Vec<Link>,
    pub addrs: Vec<Addr>,
    pub routes: Vec<Route>,
    pub calls: Vec<String>,
    /// Fail the first call whose log line starts with this.
    pub fail_on: Option<String>,
    next_index: u32,
}

#[derive(Clone, Default)]
pub struct FakeNetlink {
    pub state: Arc<Mutex<FakeState>>,
    /// Where veth peers land (the "container namespace").
    pub peer: Option<Box<FakeNetlink>>,
}

impl FakeNetlink {
    pub fn new() -> FakeNetlink {
        let f = FakeNetlink::default();
        f.add_link("lo", None);
        f
    }
    fn add_link(&self, name: &str, kind: Option<&str>) -> u32 {
        let mut s = self.state.lock().unwrap();
        s.next_index += 1;
        let index = s.next_index;
        s.links.push(Link { index, name: name.into(), kind: kind.map(String::from), master: None, up: false, mtu: 1500, mac: None });
        index
    }
    fn call(&self, line: String) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        if let Some(f) = &s.fail_on {
            if line.starts_with(f.as_str()) {
                s.fail_on = None;
                return Err(NetError::Netlink(format!("{line}: injected failure")));
            }
        }
        s.calls.push(line);
        Ok(())
    }
    fn exists(&self, name: &str) -> bool {
        self.state.lock().unwrap().links.iter().any(|l| l.name == name)
    }
    fn with_link(&self, index: u32, f: impl FnOnce(&mut Link)) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        let l = s.links.iter_mut().find(|l| l.index == index).ok_or_else(|| NetError::Netlink("No such device".into()))?;
        f(l);
        Ok(())
    }
}

impl Netlink for FakeNetlink {
    fn links(&mut self) -> Result<Vec<Link>> {
        Ok(self.state.lock().unwrap().links.clone())
    }
    fn create_bridge(&mut self, name: &str, mtu: u32) -> Result<()> {
        self.call(format!("create_bridge {name} mtu {mtu}"))?;
        if self.exists(name) {
            return Err(NetError::Netlink(format!("create bridge {name}: File exists")));
        }
        let i = self.add_link(name, Some("bridge"));
        self.with_link(i, |l| l.mtu = mtu)
    }
    fn create_veth(&mut self, name: &str, mtu: u32, peer: VethPeer<'_>) -> Result<()> {
        self.call(format!("create_veth {name} peer {}", peer.name))?;
        if self.exists(name) {
            return Err(NetError::Netlink(format!("create veth {name}: File exists")));
        }
        let i = self.add_link(name, Some("veth"));
        self.with_link(i, |l| l.mtu = mtu)?;
        if let Some(p) = &self.peer {
            let j = p.add_link(peer.name, Some("veth"));
            p.with_link(j, |l| {
                l.mtu = mtu;
                l.mac = Some(peer.mac)
            })?;
        }
        Ok(())
    }
    fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        self.call(format!("set_master {index} {master}"))?;
        self.with_link(index, |l| l.master = Some(master))
    }
    fn set_up(&mut self, index: u32) -> Result<()> {
        self.call(format!("set_up {index}"))?;
        self.with_link(index, |l| l.up = true)
    }
    fn delete_link(&mut self, index: u32) -> Result<()> {
        self.call(format!("delete_link {index}"))?;
        let mut s = self.state.lock().unwrap();
        let before = s.links.len();
        s.links.retain(|l| l.index != index);
        if s.links.len() == before {
            return Err(NetError::Netlink("delete link: No such device".into()));
        }
        s.addrs.retain(|a| a.index != index);
        s.routes.retain(|r| r.oif != Some(index));
        for l in s.links.iter_mut() {
            if l.master == Some(index) {
                l.master = None;
            }
        }
        Ok(())
    }
    fn add_addr(&mut self, index: u32, addr: Ipv4Net) -> Result<()> {
        self.call(format!("add_addr {index} {addr}"))?;
        let mut s = self.state.lock().unwrap();
        let a = Addr { index, addr };
        if !s.addrs.contains(&a) {
            s.addrs.push(a);
        }
        Ok(())
    }
    fn addrs(&mut self) -> Result<Vec<Addr>> {
        Ok(self.state.lock().unwrap().addrs.clone())
    }
    fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        self.call(format!("add_default_route {gateway}"))?;
        self.state.lock().unwrap().routes.push(Route { dst: None, gateway: Some(gateway), oif: None });
        Ok(())
    }
    fn routes(&mut self) -> Result<Vec<Route>> {
        Ok(self.state.lock().unwrap().routes.clone())
    }
}
