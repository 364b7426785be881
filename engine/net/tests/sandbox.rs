//! Real networking in throwaway namespaces: a sandboxed "host" namespace holds the bridge and
//! berth's nft table; "containers" are further namespaces. Nothing touches the root namespace.
mod common;

use berth_net::dns::wire::{build_query, parse_response_a, TYPE_A};
use berth_net::netlink::{real::RealNetlink, Netlink, VethPeer};
use berth_net::netns::{run_in_netns, NetnsHandle};
use berth_net::mode::{container_netns, JoinTarget};
use berth_net::network::{DaemonNetConfig, NetworkCreate, BRIDGE_NAME_OPTION};
use berth_net::ports::parse_port_spec;
use berth_net::store::ConnectRequest;
use berth_net::{ControllerConfig, NetController};
use common::*;
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

fn ctl(state: &Path, host: &NetnsHandle) -> NetController {
    NetController::open(ControllerConfig { state_dir: state.into(), host_netns: Some(host.path()), daemon: DaemonNetConfig::default(), firewall: None }).unwrap()
}

fn creq(id: char, name: &str) -> ConnectRequest {
    ConnectRequest { container_id: id.to_string().repeat(64), container_name: format!("/{name}"), aliases: vec![], ip: None }
}

/// Kills (by its own PID) a process the test started, also when an assertion fails.
struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nft_table(host: &NetnsHandle) -> Option<String> {
    let o = run_in(host, "nft", &["list", "table", "ip", "berth"]);
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn user_bridge_end_to_end() {
    require_root!();
    let root_before = root_links();
    let state = tempfile::tempdir().unwrap();
    let host = NetnsHandle::new().unwrap();
    let (c1, c2, c3, remote) = (NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap());
    let mut ctl = ctl(state.path(), &host);

    // The course's bridge0: chosen subnet, gateway and device name.
    let mut req = NetworkCreate { name: "bridge0".into(), subnet: Some("10.77.0.0/24".into()), gateway: Some("10.77.0.254".into()), ..Default::default() };
    req.options.insert(BRIDGE_NAME_OPTION.into(), "docker1".into());
    let net = ctl.create_network(&req).unwrap();
    let e1 = ctl.connect("bridge0", &creq('a', "web"), &c1.path()).unwrap();
    let e2 = ctl.connect("bridge0", &creq('b', "client"), &c2.path()).unwrap();
    assert_eq!(e1.ip.unwrap().to_string(), "10.77.0.1");
    assert_eq!(e2.ip.unwrap().to_string(), "10.77.0.2");

    // Kernel truth via netlink: bridge, gateway address, ports, container addressing.
    let mut hn = RealNetlink::open_in(&host.path()).unwrap();
    let br = hn.link_by_name("docker1").unwrap().expect("bridge docker1");
    assert!(br.up && br.kind.as_deref() == Some("bridge"));
    assert!(hn.addrs().unwrap().iter().any(|a| a.index == br.index && a.addr.to_string() == "10.77.0.254/24"));
    for ep in [&e1, &e2] {
        let v = hn.link_by_name(ep.veth.as_deref().unwrap()).unwrap().expect("host veth");
        assert_eq!(v.master, Some(br.index), "{} on docker1", v.name);
        assert!(v.name.starts_with("veth") && v.name.len() == 11);
    }
    let mut cn = RealNetlink::open_in(&c1.path()).unwrap();
    let eth0 = cn.link_by_name("eth0").unwrap().expect("eth0 in c1");
    assert_eq!(eth0.mac, Some([0x02, 0x42, 10, 77, 0, 1]));
    assert!(eth0.up && cn.link_by_name("lo").unwrap().unwrap().up);
    assert!(cn.addrs().unwrap().iter().any(|a| a.index == eth0.index && a.addr.to_string() == "10.77.0.1/24"));
    assert!(cn.routes().unwrap().iter().any(|r| r.dst.is_none() && r.gateway.map(|g| g.to_string()) == Some("10.77.0.254".into())));
    assert_eq!(berth_net::netns::read_sysctl(&host.path(), "net.ipv4.ip_forward").unwrap(), "1");
    if let Ok(v) = berth_net::netns::read_sysctl(&host.path(), berth_net::controller::BRIDGE_NF_CALL_IPTABLES) {
        assert_eq!(v, "0", "bridged frames skip the IPv4 hooks of the bridges' namespace");
    }

    // Container to container: TCP and ping.
    serve_tcp(&c1, "0.0.0.0:80", "web");
    assert_eq!(tcp_from(&c2, "10.77.0.1:80").unwrap(), "web:hi");
    let ping = run_in(&c1, busybox().to_str().unwrap(), &["ping", "-c", "1", "-W", "2", "10.77.0.2"]);
    assert!(ping.status.success(), "ping c1->c2: {}", String::from_utf8_lossy(&ping.stdout));

    // Embedded DNS inside c2's namespace answers for web, not for unknown names.
    // Upstream for unknown names: a fake resolver on the sandbox host's loopback.
    let up = run_in_netns(&host.path(), || UdpSocket::bind("127.0.0.1:5300")).unwrap().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 512];
        while let Ok((n, from)) = up.recv_from(&mut b) {
            let q = berth_net::dns::wire::parse_query(&b[..n]).unwrap();
            let _ = up.send_to(&berth_net::dns::wire::build_response(&q, 0, &["192.0.2.9".parse().unwrap()], 60), from);
        }
    });
    let dns = ctl.start_dns(&e2.container_id, &c2.path(), &["127.0.0.1:5300".parse().unwrap()]).unwrap().expect("user network has DNS");
    let ask = |name: &str| {
        let name = name.to_string();
        run_in_netns(&c2.path(), move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.send_to(&build_query(1, &name, TYPE_A), "127.0.0.11:53").unwrap();
            let mut b = [0u8; 512];
            let n = s.recv(&mut b).unwrap();
            parse_response_a(&b[..n]).unwrap()
        })
        .unwrap()
    };
    assert_eq!(ask("web").2, vec![e1.ip.unwrap()]);
    assert_eq!(ask("elsewhere.example").2, vec!["192.0.2.9".parse::<std::net::Ipv4Addr>().unwrap()], "forwarded from the host namespace");
    let nsl = run_in(&c2, busybox().to_str().unwrap(), &["nslookup", "web", "127.0.0.11"]);
    assert!(String::from_utf8_lossy(&nsl.stdout).contains("10.77.0.1"), "busybox nslookup: {}", String::from_utf8_lossy(&nsl.stdout));
    drop(dns);

    // Publish 8080 -> web:80; reachable from the host (loopback and its own address) and from
    // another machine on a LAN (the `remote` namespace, veth to the host).
    let maps = ctl.publish("bridge0", &e1.container_id, &parse_port_spec("8080:80").unwrap()).unwrap();
    assert_eq!(maps[0].host_port, 8080);
    hn.create_veth("lan0", 1500, VethPeer { name: "lan0", netns_fd: std::os::fd::AsRawFd::as_raw_fd(remote.file()), mac: [2, 0, 0, 0, 0, 2] }).unwrap();
    let lan = hn.link_by_name("lan0").unwrap().unwrap();
    hn.add_addr(lan.index, "192.168.77.1/24".parse().unwrap()).unwrap();
    hn.set_up(lan.index).unwrap();
    let mut rn = RealNetlink::open_in(&remote.path()).unwrap();
    let rl = rn.link_by_name("lan0").unwrap().unwrap();
    rn.add_addr(rl.index, "192.168.77.2/24".parse().unwrap()).unwrap();
    rn.set_up(rl.index).unwrap();
    assert_eq!(tcp_from(&host, "127.0.0.1:8080").unwrap(), "web:hi");
    assert_eq!(tcp_from(&host, "10.77.0.254:8080").unwrap(), "web:hi");
    assert_eq!(tcp_from(&remote, "192.168.77.1:8080").unwrap(), "web:hi");
    assert!(nft_table(&host).unwrap().contains("dnat to 10.77.0.1:80"));
    // Hairpin: a neighbour container through the host's address.
    assert_eq!(tcp_from(&c2, "10.77.0.254:8080").unwrap(), "web:hi");
    // Bound to one host address only.
    ctl.publish("bridge0", &e1.container_id, &parse_port_spec("127.0.0.1:8081:80").unwrap()).unwrap();
    assert_eq!(tcp_from(&host, "127.0.0.1:8081").unwrap(), "web:hi");
    assert!(tcp_from(&remote, "192.168.77.1:8081").is_err(), "127.0.0.1-only port is not reachable from the LAN");
    // UDP, random host port.
    let udp = run_in_netns(&c1.path(), || UdpSocket::bind("0.0.0.0:53")).unwrap().unwrap();
    std::thread::spawn(move || {
        let mut b = [0u8; 64];
        while let Ok((n, from)) = udp.recv_from(&mut b) {
            let _ = udp.send_to(&b[..n], from);
        }
    });
    let m = ctl.publish("bridge0", &e1.container_id, &parse_port_spec("53/udp").unwrap()).unwrap();
    assert!(m[0].host_port >= 32768, "random port from the ephemeral range");
    let port = m[0].host_port;
    let echoed = run_in_netns(&remote.path(), move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.send_to(b"ping", ("192.168.77.1", port)).unwrap();
        let mut b = [0u8; 16];
        s.recv(&mut b).map(|n| b[..n].to_vec())
    })
    .unwrap()
    .unwrap();
    assert_eq!(echoed, b"ping");

    // A host port already bound in the host namespace is refused with Docker's text.
    let _busy = run_in_netns(&host.path(), || std::net::TcpListener::bind("0.0.0.0:9090")).unwrap().unwrap();
    let err = ctl.publish("bridge0", &e2.container_id, &parse_port_spec("9090:80").unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "Bind for 0.0.0.0:9090 failed: port is already allocated");
    let err = ctl.publish("bridge0", &e2.container_id, &parse_port_spec("8080:80").unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "Bind for 0.0.0.0:8080 failed: port is already allocated");

    // Restart: a new controller over the same state dir keeps IPAM and the port map.
    drop(ctl);
    // Simulate a crash that lost the rules (e.g. a firewall reload): restore puts them back.
    assert!(run_in(&host, "nft", &["delete", "table", "ip", "berth"]).status.success());
    assert!(tcp_from(&host, "127.0.0.1:8080").is_err());
    let mut ctl = self::ctl(state.path(), &host);
    ctl.restore().unwrap();
    let e3 = ctl.connect("bridge0", &creq('c', "third"), &c3.path()).unwrap();
    assert_eq!(e3.ip.unwrap().to_string(), "10.77.0.3", "no address handed out twice across restarts");
    assert_eq!(tcp_from(&host, "127.0.0.1:8080").unwrap(), "web:hi");
    assert_eq!(tcp_from(&c3, "10.77.0.1:80").unwrap(), "web:hi");

    // container:<c1>: a process in c1's namespace (a running "container") is joined through
    // /proc/<pid>/ns/net and sees c1's eth0; a stopped target gets Docker's error.
    let mut sleeper = {
        let fd = std::os::fd::AsRawFd::as_raw_fd(c1.file());
        let mut cmd = std::process::Command::new(busybox());
        cmd.args(["sleep", "30"]);
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        KillOnDrop(cmd.spawn().unwrap())
    };
    let target = JoinTarget { id: &e1.container_id, running: true, pid: Some(sleeper.0.id()) };
    let joined = container_netns(&target).unwrap();
    let mut jn = RealNetlink::open_in(&joined).unwrap();
    let j_eth0 = jn.link_by_name("eth0").unwrap().expect("eth0 seen through container:");
    assert!(jn.addrs().unwrap().iter().any(|a| a.index == j_eth0.index && a.addr.to_string() == "10.77.0.1/24"));
    sleeper.0.kill().unwrap();
    sleeper.0.wait().unwrap();
    let err = container_netns(&JoinTarget { id: &e1.container_id, running: false, pid: None }).unwrap_err();
    assert_eq!(err.to_string(), format!("cannot join network of a non running container: {}", e1.container_id));

    // `network connect` to a second network: eth1 in c1, default route stays on bridge0.
    let second = ctl.create_network(&NetworkCreate { name: "second".into(), subnet: Some("10.78.0.0/24".into()), ..Default::default() }).unwrap();
    let e1b = ctl.connect("second", &creq('a', "web"), &c1.path()).unwrap();
    let eth1 = cn.link_by_name("eth1").unwrap().expect("eth1 in c1");
    assert!(cn.addrs().unwrap().iter().any(|a| a.index == eth1.index && a.addr.to_string() == "10.78.0.2/24"));
    let defaults: Vec<_> = cn.routes().unwrap().into_iter().filter(|r| r.dst.is_none()).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].gateway.unwrap().to_string(), "10.77.0.254");
    assert_eq!(tcp_from(&host, &format!("{}:80", e1b.ip.unwrap())).unwrap(), "web:hi");
    ctl.disconnect("second", &e1b.container_id).unwrap();
    assert!(cn.link_by_name("eth1").unwrap().is_none());
    assert_eq!(ctl.prune().unwrap(), ["second"]);
    assert!(hn.link_by_name(second.bridge.as_deref().unwrap()).unwrap().is_none());

    // Removing a network in use is refused; teardown is exact.
    let err = ctl.remove_network("bridge0").unwrap_err();
    assert_eq!(err.to_string(), format!("error while removing network: network bridge0 id {} has active endpoints", net.id));
    for c in ['a', 'b', 'c'] {
        ctl.disconnect("bridge0", &c.to_string().repeat(64)).unwrap();
    }
    assert!(cn.link_by_name("eth0").unwrap().is_none(), "eth0 gone from c1");
    ctl.remove_network("bridge0").unwrap();
    let left: Vec<String> = hn.links().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(left, ["lo", "lan0"], "only the test's own links remain in the host namespace");
    assert!(hn.addrs().unwrap().iter().all(|a| !a.addr.to_string().starts_with("10.77.")), "no address left");
    assert!(nft_table(&host).is_none(), "berth's nft table removed");
    assert!(ctl.store().pool(&net.id).is_none());

    let after = root_links();
    for l in ["docker1", "lan0"].iter().map(|s| s.to_string()).chain([&e1, &e2, &e3].iter().map(|e| e.veth.clone().unwrap())) {
        assert!(!after.contains(&l) || root_before.contains(&l), "{l} leaked into the root namespace");
    }
}

#[test]
fn default_bridge_none_and_bad_input() {
    require_root!();
    let state = tempfile::tempdir().unwrap();
    let host = NetnsHandle::new().unwrap();
    let (c1, c2, n1) = (NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap());
    let mut ctl = ctl(state.path(), &host);

    // Default bridge: berth0 172.17.0.0/16, created on first use, no embedded DNS.
    let e1 = ctl.connect("bridge", &creq('a', "c1"), &c1.path()).unwrap();
    assert_eq!(e1.ip.unwrap().to_string(), "172.17.0.2");
    assert_eq!(e1.mac.as_deref(), Some("02:42:ac:11:00:02"));
    let mut hn = RealNetlink::open_in(&host.path()).unwrap();
    let b = hn.link_by_name("berth0").unwrap().expect("berth0");
    assert!(hn.addrs().unwrap().iter().any(|a| a.index == b.index && a.addr.to_string() == "172.17.0.1/16"));
    assert!(ctl.dns_table().read().unwrap().lookup(&e1.container_id, "c1").is_empty(), "no DNS on the default bridge");
    assert!(ctl.start_dns(&e1.container_id, &c1.path(), &[]).unwrap().is_none());

    // none: only lo, up.
    ctl.connect("none", &creq('n', "lonely"), &n1.path()).unwrap();
    let mut nn = RealNetlink::open_in(&n1.path()).unwrap();
    let links = nn.links().unwrap();
    assert_eq!(links.len(), 1);
    assert!(links[0].name == "lo" && links[0].up);

    // Bad input leaves nothing behind.
    let err = ctl.create_network(&NetworkCreate { name: "x".into(), subnet: Some("172.17.8.0/24".into()), ..Default::default() }).unwrap_err();
    assert_eq!(err.to_string(), "Pool overlaps with other one on this address space");
    let err = ctl.create_network(&NetworkCreate { name: "x".into(), subnet: Some("10.9.0.0/24".into()), gateway: Some("10.10.0.1".into()), ..Default::default() }).unwrap_err();
    assert_eq!(err.to_string(), "no matching subnet for gateway 10.10.0.1");
    let u = ctl.create_network(&NetworkCreate { name: "u".into(), subnet: Some("10.9.0.0/24".into()), ..Default::default() }).unwrap();
    let mut r = creq('s', "static");
    r.ip = Some("10.9.0.50".parse().unwrap());
    let es = ctl.connect("u", &r, &c2.path()).unwrap();
    assert_eq!(es.ip, r.ip);
    let mut r2 = creq('t', "dup");
    r2.ip = Some("10.9.0.50".parse().unwrap());
    let n2 = NetnsHandle::new().unwrap();
    assert_eq!(ctl.connect("u", &r2, &n2.path()).unwrap_err().to_string(), "Address already in use");
    let veths = hn.links().unwrap().into_iter().filter(|l| l.kind.as_deref() == Some("veth")).count();
    assert_eq!(veths, 2, "failed connect left no veth");
    assert_eq!(ctl.remove_network("bridge").unwrap_err().to_string(), "bridge is a pre-defined network and cannot be removed");

    // --internal: neighbours reach each other, nothing leaves the bridge, no default route.
    let internal = ctl.create_network(&NetworkCreate { name: "int".into(), subnet: Some("10.66.0.0/24".into()), internal: true, ..Default::default() }).unwrap();
    let (i1, i2) = (NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap());
    let ei1 = ctl.connect("int", &creq('i', "i1"), &i1.path()).unwrap();
    let ei2 = ctl.connect("int", &creq('j', "i2"), &i2.path()).unwrap();
    serve_tcp(&i1, "0.0.0.0:80", "int");
    serve_tcp(&c1, "0.0.0.0:80", "c1");
    assert_eq!(tcp_from(&i2, &format!("{}:80", ei1.ip.unwrap())).unwrap(), "int:hi");
    assert!(tcp_from(&i2, "172.17.0.2:80").is_err(), "internal network cannot leave its bridge");
    assert!(RealNetlink::open_in(&i2.path()).unwrap().routes().unwrap().iter().all(|r| r.dst.is_some()), "no default route");
    ctl.disconnect("int", &ei1.container_id).unwrap();
    ctl.disconnect("int", &ei2.container_id).unwrap();
    ctl.remove_network(&internal.id).unwrap();

    // Tear everything down: no link, address or rule left in the host namespace.
    ctl.disconnect("u", &es.container_id).unwrap();
    ctl.remove_network(&u.id).unwrap();
    ctl.disconnect("bridge", &e1.container_id).unwrap();
    ctl.disconnect("none", &'n'.to_string().repeat(64)).unwrap();
    ctl.teardown_kernel().unwrap();
    let left: Vec<String> = hn.links().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(left, ["lo"]);
    assert!(nft_table(&host).is_none());
    assert!(ctl.store().endpoints().is_empty());
}

/// `iptables -t <table> -S` in the sandbox host.
fn ipt(host: &NetnsHandle, table: &str) -> String {
    let o = run_in(host, "iptables", &["-w", "-t", table, "-S"]);
    assert!(o.status.success(), "iptables -S: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn iptables_backend_publishes_and_tears_down_exactly() {
    require_root!();
    if !berth_net::firewall::exec::in_path("iptables") || !berth_net::firewall::exec::in_path("iptables-restore") {
        eprintln!("test skipped: iptables not installed");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let host = NetnsHandle::new().unwrap();
    let (c1, c2, remote) = (NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap(), NetnsHandle::new().unwrap());
    // Somebody else's rules in both tables: berth must leave them alone.
    for args in [["-t", "nat", "-A", "POSTROUTING", "-o", "lan9", "-j", "MASQUERADE"], ["-t", "filter", "-A", "FORWARD", "-i", "lan9", "-j", "ACCEPT"]] {
        assert!(run_in(&host, "iptables", &["-w"].into_iter().chain(args).collect::<Vec<_>>()).status.success());
    }
    let (nat_before, filter_before) = (ipt(&host, "nat"), ipt(&host, "filter"));
    let open = || {
        NetController::open(ControllerConfig {
            state_dir: state.path().into(),
            host_netns: Some(host.path()),
            daemon: DaemonNetConfig::default(),
            firewall: Some(berth_net::firewall::Backend::Iptables),
        })
        .unwrap()
    };
    let mut ctl = open();
    ctl.create_network(&NetworkCreate { name: "ipt".into(), subnet: Some("10.79.0.0/24".into()), ..Default::default() }).unwrap();
    let e1 = ctl.connect("ipt", &creq('a', "web"), &c1.path()).unwrap();
    ctl.connect("ipt", &creq('b', "client"), &c2.path()).unwrap();
    serve_tcp(&c1, "0.0.0.0:80", "web");
    ctl.publish("ipt", &e1.container_id, &parse_port_spec("8080:80").unwrap()).unwrap();
    let nat = ipt(&host, "nat");
    assert!(nat.contains("-A BERTH-PORTS -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.79.0.2:80"), "{nat}");
    assert!(nat.contains("-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-PORTS"), "{nat}");
    assert!(nft_table(&host).is_none(), "the iptables backend makes no nft table of its own");

    // The LAN peer, the host (loopback and gateway), and a neighbour through the host (hairpin).
    let mut hn = RealNetlink::open_in(&host.path()).unwrap();
    hn.create_veth("lan0", 1500, VethPeer { name: "lan0", netns_fd: std::os::fd::AsRawFd::as_raw_fd(remote.file()), mac: [2, 0, 0, 0, 0, 3] }).unwrap();
    let lan = hn.link_by_name("lan0").unwrap().unwrap();
    hn.add_addr(lan.index, "192.168.79.1/24".parse().unwrap()).unwrap();
    hn.set_up(lan.index).unwrap();
    let mut rn = RealNetlink::open_in(&remote.path()).unwrap();
    let rl = rn.link_by_name("lan0").unwrap().unwrap();
    rn.add_addr(rl.index, "192.168.79.2/24".parse().unwrap()).unwrap();
    rn.set_up(rl.index).unwrap();
    assert_eq!(tcp_from(&host, "127.0.0.1:8080").unwrap(), "web:hi");
    assert_eq!(tcp_from(&host, "10.79.0.1:8080").unwrap(), "web:hi");
    assert_eq!(tcp_from(&remote, "192.168.79.1:8080").unwrap(), "web:hi");
    assert_eq!(tcp_from(&c2, "10.79.0.1:8080").unwrap(), "web:hi");

    // Restart with the rules lost (say, a firewall reload): restore puts them back, once.
    drop(ctl);
    let script = "*nat\n-D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-PORTS\n-D OUTPUT -m addrtype --dst-type LOCAL -j BERTH-PORTS\n-F BERTH-PORTS\n-X BERTH-PORTS\nCOMMIT\n";
    use berth_net::firewall::exec::Runner;
    berth_net::firewall::exec::NsRunner::in_netns(&host.path()).unwrap().run("iptables-restore", &["-w", "--noflush"], Some(script)).unwrap();
    assert!(tcp_from(&host, "127.0.0.1:8080").is_err());
    let mut ctl = open();
    ctl.restore().unwrap();
    assert_eq!(tcp_from(&host, "127.0.0.1:8080").unwrap(), "web:hi");
    ctl.restore().unwrap();
    assert_eq!(ipt(&host, "nat").matches("-j BERTH-PORTS").count(), 2, "one jump each from PREROUTING and OUTPUT");

    // A taken port leaves the chains as they were.
    let nat_now = ipt(&host, "nat");
    assert!(ctl.publish("ipt", &'b'.to_string().repeat(64), &parse_port_spec("8080:81").unwrap()).is_err());
    assert_eq!(ipt(&host, "nat"), nat_now);

    // Teardown: exactly the rules that were there before berth.
    for c in ['a', 'b'] {
        ctl.disconnect("ipt", &c.to_string().repeat(64)).unwrap();
    }
    ctl.remove_network("ipt").unwrap();
    assert_eq!(ipt(&host, "nat"), nat_before);
    assert_eq!(ipt(&host, "filter"), filter_before);
    assert!(!ipt(&host, "nat").contains("BERTH"));
}
