//! The responder. The daemon starts one per container on a user network: the UDP socket is
//! bound to 127.0.0.11:53 on a thread that joined the container's namespace, so it lives there
//! (no iptables redirect needed, unlike Docker), and is served from a daemon thread.
//! Names it knows get A records; AAAA and other types for known names get an empty NOERROR (so
//! resolvers do not fall back). Unknown names are relayed to the upstream servers the daemon
//! gives (the host's resolv.conf, filtered) from a socket in the host namespace, as Docker does;
//! without upstreams, or for containers only on `--internal` networks, they get REFUSED.
use super::table::SharedTable;
use super::wire::{build_response, parse_query, CLASS_IN, RCODE_FORMERR, RCODE_NOERROR, RCODE_REFUSED, TYPE_A};

pub const RCODE_SERVFAIL: u8 = 2;
use crate::error::Result;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const TTL: u32 = 600;

/// Relays queries for names berth does not know to upstream servers.
pub struct Forwarder {
    sock: UdpSocket,
    servers: Vec<SocketAddr>,
}

impl Forwarder {
    /// The socket is created in `netns` (the host side), so queries leave the way the host's
    /// own would, never from inside the container.
    pub fn new(netns: Option<&Path>, servers: Vec<SocketAddr>) -> Result<Forwarder> {
        let bind = || UdpSocket::bind("0.0.0.0:0");
        let sock = match netns {
            Some(p) => crate::netns::run_in_netns(p, bind)??,
            None => bind()?,
        };
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Forwarder { sock, servers })
    }

    fn forward(&self, req: &[u8]) -> Option<Vec<u8>> {
        let mut buf = [0u8; 4096];
        for s in &self.servers {
            if self.sock.send_to(req, s).is_err() {
                continue;
            }
            while let Ok((n, from)) = self.sock.recv_from(&mut buf) {
                // Same server, same id: a late answer to an earlier query is skipped.
                if from == *s && n >= 2 && buf[..2] == req[..2] {
                    return Some(buf[..n].to_vec());
                }
            }
        }
        None
    }
}

/// Answer one datagram. The server loop and the tests share it.
pub fn answer(table: &SharedTable, container_id: &str, req: &[u8], fwd: Option<&Forwarder>) -> Option<Vec<u8>> {
    let q = match parse_query(req) {
        Some(q) => q,
        None if req.len() >= 12 && req[2] & 0x80 == 0 => {
            // Malformed query: FORMERR with the header echoed and no sections.
            let mut r = req[..12].to_vec();
            r[2] |= 0x80;
            r[3] = (r[3] & 0xf0) | RCODE_FORMERR;
            r[4..12].fill(0);
            return Some(r);
        }
        None => return None,
    };
    let (ips, may_forward) = {
        let t = table.read().expect("dns table lock");
        (t.lookup(container_id, &q.name), t.may_forward(container_id))
    };
    Some(if ips.is_empty() {
        match fwd {
            Some(f) if may_forward => f.forward(req).unwrap_or_else(|| build_response(&q, RCODE_SERVFAIL, &[], 0)),
            _ => build_response(&q, RCODE_REFUSED, &[], 0),
        }
    } else if q.qtype == TYPE_A && q.qclass == CLASS_IN {
        build_response(&q, RCODE_NOERROR, &ips, TTL)
    } else {
        build_response(&q, RCODE_NOERROR, &[], 0)
    })
}

pub struct DnsServer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub addr: SocketAddr,
}

impl DnsServer {
    /// Bind `addr` (normally 127.0.0.11:53) inside the namespace at `netns` and serve
    /// `container_id`'s view of `table` until dropped.
    pub fn spawn_in(netns: &Path, addr: SocketAddr, table: SharedTable, container_id: &str, fwd: Option<Forwarder>) -> Result<DnsServer> {
        let sock = crate::netns::run_in_netns(netns, || UdpSocket::bind(addr))??;
        Self::serve(sock, table, container_id, fwd)
    }

    pub fn serve(sock: UdpSocket, table: SharedTable, container_id: &str, fwd: Option<Forwarder>) -> Result<DnsServer> {
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let addr = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let cid = container_id.to_string();
        let thread = std::thread::Builder::new().name(format!("dns-{}", &cid[..cid.len().min(12)])).spawn(move || {
            let mut buf = [0u8; 1500];
            while !s2.load(Ordering::Relaxed) {
                match sock.recv_from(&mut buf) {
                    Ok((n, peer)) => {
                        if let Some(resp) = answer(&table, &cid, &buf[..n], fwd.as_ref()) {
                            let _ = sock.send_to(&resp, peer);
                        }
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
        })?;
        Ok(DnsServer { stop, thread: Some(thread), addr })
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::table::DnsTable;
    use super::super::wire::{build_query, parse_response_a, RCODE_REFUSED};
    use super::*;
    use std::sync::RwLock;

    #[test]
    fn serves_over_loopback() {
        let mut t = DnsTable::default();
        t.names.insert("n".into(), vec![("web".into(), "172.18.0.2".parse().unwrap())]);
        t.member_of.insert("c".into(), vec!["n".into()]);
        let table: SharedTable = Arc::new(RwLock::new(t));
        let srv = DnsServer::serve(UdpSocket::bind("127.0.0.1:0").unwrap(), table.clone(), "c", None).unwrap();
        let cl = UdpSocket::bind("127.0.0.1:0").unwrap();
        cl.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 512];
        cl.send_to(&build_query(7, "web", TYPE_A), srv.addr).unwrap();
        let n = cl.recv(&mut buf).unwrap();
        let (id, rc, ips) = parse_response_a(&buf[..n]).unwrap();
        assert_eq!((id, rc, ips[0].to_string()), (7, 0, "172.18.0.2".into()));
        cl.send_to(&build_query(8, "example.com", TYPE_A), srv.addr).unwrap();
        let n = cl.recv(&mut buf).unwrap();
        assert_eq!(parse_response_a(&buf[..n]).unwrap().1, RCODE_REFUSED);
        // AAAA for a known name: empty NOERROR
        cl.send_to(&build_query(9, "web", 28), srv.addr).unwrap();
        let n = cl.recv(&mut buf).unwrap();
        assert_eq!(parse_response_a(&buf[..n]).unwrap(), (9, 0, vec![]));
        // table updates are seen live
        table.write().unwrap().names.get_mut("n").unwrap().push(("db".into(), "172.18.0.3".parse().unwrap()));
        cl.send_to(&build_query(10, "db", TYPE_A), srv.addr).unwrap();
        let n = cl.recv(&mut buf).unwrap();
        assert_eq!(parse_response_a(&buf[..n]).unwrap().2.len(), 1);
        drop(srv);
    }

    #[test]
    fn forwards_unknown_names_to_upstream() {
        // A fake upstream on loopback answering 192.0.2.7 for anything.
        let up = UdpSocket::bind("127.0.0.1:0").unwrap();
        let up_addr = up.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut b = [0u8; 512];
            while let Ok((n, from)) = up.recv_from(&mut b) {
                let q = parse_query(&b[..n]).unwrap();
                let _ = up.send_to(&build_response(&q, 0, &["192.0.2.7".parse().unwrap()], 60), from);
            }
        });
        let mut t = DnsTable::default();
        t.names.insert("n".into(), vec![("web".into(), "172.18.0.2".parse().unwrap())]);
        t.member_of.insert("c".into(), vec!["n".into()]);
        let table: SharedTable = Arc::new(RwLock::new(t));
        let fwd = Forwarder::new(None, vec![up_addr]).unwrap();
        let ask = |name: &str, fwd: Option<&Forwarder>| parse_response_a(&answer(&table, "c", &build_query(3, name, TYPE_A), fwd).unwrap()).unwrap();
        assert_eq!(ask("example.org", Some(&fwd)).2, vec!["192.0.2.7".parse::<std::net::Ipv4Addr>().unwrap()]);
        assert_eq!(ask("web", Some(&fwd)).2, vec!["172.18.0.2".parse::<std::net::Ipv4Addr>().unwrap()], "own names are not forwarded");
        table.write().unwrap().internal.insert("n".into());
        assert_eq!(ask("example.org", Some(&fwd)).1, RCODE_REFUSED, "internal networks do not forward");
        // Upstream silent: SERVFAIL after the timeout.
        table.write().unwrap().internal.clear();
        let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fwd2 = Forwarder::new(None, vec![dead.local_addr().unwrap()]).unwrap();
        assert_eq!(ask("example.org", Some(&fwd2)).1, RCODE_SERVFAIL);
    }
}
