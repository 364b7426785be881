//! Container networking through berthd (issue 6): default bridge, the course's user bridge via
//! the real docker CLI, published ports, links, embedded DNS, none/host/container: modes, bad
//! input leaving nothing behind, daemon SIGKILL + restart, teardown, bridge-network isolation.
//! Everything happens inside the Engine sandbox's own network namespace; the host's root
//! namespace is never touched (berthd, its bridges and nft table live in the sandbox).

use berth_tests::engine::{Engine, Run};

fn sandbox_out(e: &Engine, args: &[&str]) -> String {
    let r = e.in_sandbox(args);
    assert_eq!(r.code, 0, "{args:?}: {r:?}");
    r.stdout
}

/// Host-side veth names in the sandbox (berthd's "host" namespace).
fn veths(e: &Engine) -> Vec<String> {
    sandbox_out(e, &["ip", "-o", "link", "show", "type", "veth"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1).map(|n| n.split('@').next().unwrap_or(n).to_string()))
        .collect()
}

fn nft_ruleset(e: &Engine) -> String {
    sandbox_out(e, &["nft", "list", "ruleset"])
}

/// Everything a refused operation must leave as it was: links, addresses, routes and the
/// firewall in berthd's namespace, berth's network state files, container namespace files.
fn net_snapshot(e: &Engine) -> String {
    // Link names with their bridge (not flags or state: carrier and IPv6 DAD settle on their own).
    let mut s = String::from("== links\n");
    for l in sandbox_out(e, &["ip", "-o", "link"]).lines() {
        let name = l.split(": ").nth(1).unwrap_or("");
        let master = l.split(" master ").nth(1).and_then(|m| m.split_whitespace().next()).unwrap_or("-");
        s.push_str(&format!("{name} master {master}\n"));
    }
    for args in [&["ip", "-o", "-4", "addr"][..], &["ip", "route"], &["nft", "list", "ruleset"]] {
        s.push_str(&format!("== {args:?}\n{}", sandbox_out(e, args)));
    }
    for f in ["networks.json", "ports.json"] {
        let text = std::fs::read_to_string(e.data_root().join("network").join(f)).unwrap_or_default();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        // The IPAM cursor moves past an address that was handed out and released (so it is not
        // reused at once, as Docker's serial allocator); allocations and endpoints must not.
        strip_key(&mut v, "cursor");
        s.push_str(&format!("== {f}\n{}\n", serde_json::to_string_pretty(&v).unwrap()));
    }
    let mut ns: Vec<String> = std::fs::read_dir(e.exec_root().join("netns")).into_iter().flatten().flatten().map(|d| d.file_name().to_string_lossy().into_owned()).collect();
    ns.sort();
    s.push_str(&format!("== netns files {ns:?}\n"));
    s
}

fn strip_key(v: &mut serde_json::Value, key: &str) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove(key);
            m.values_mut().for_each(|x| strip_key(x, key));
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| strip_key(x, key)),
        _ => {}
    }
}

fn assert_unchanged(e: &Engine, before: &str, what: &str) {
    let after = net_snapshot(e);
    if after != before {
        panic!("{what} changed berth's network state:\n--- before\n{before}\n--- after\n{after}");
    }
}

/// `busybox wget` from the sandbox (the daemon's namespace), with a short timeout.
fn host_wget(e: &Engine, url: &str) -> Run {
    e.in_sandbox(&["busybox", "timeout", "5", "busybox", "wget", "-qO-", url])
}

/// A busybox httpd answering `body` on port 80.
fn httpd_cmd(body: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")]
}

fn run_httpd(e: &Engine, extra: &[&str], body: &str) -> String {
    let mut args: Vec<String> = vec!["run".into(), "-d".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("busybox".into());
    args.extend(httpd_cmd(body));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    e.ok(&refs).trim().to_string()
}

fn wait_http(e: &Engine, from: &str, url: &str, want: &str) {
    e.eventually(10, &format!("{url} from {from}"), || {
        let r = e.berth(&["exec", from, "timeout", "3", "wget", "-qO-", url]);
        r.code == 0 && r.stdout.trim() == want
    });
}

#[test]
fn default_bridge_gives_eth0_route_and_files() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "web", "-h", "webhost", "busybox", "sleep", "1000"]);
    let addr = e.ok(&["exec", "web", "ip", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains("inet 172.17.0.2/16"), "{addr}");
    let mac = e.ok(&["exec", "web", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac.trim(), "02:42:ac:11:00:02", "MAC derived from the IP as Docker does");
    let route = e.ok(&["exec", "web", "ip", "route"]);
    assert!(route.contains("default via 172.17.0.1 dev eth0"), "{route}");
    let hosts = e.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n") && hosts.ends_with("172.17.0.2\twebhost\n"), "{hosts}");
    assert_eq!(e.ok(&["exec", "web", "hostname"]), "webhost\n");
    let resolv = e.ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(!resolv.contains("127.0.0.11"), "no embedded DNS on the default bridge: {resolv}");
    let links = sandbox_out(&e, &["ip", "-o", "link", "show", "master", "berth0"]);
    assert!(links.contains("veth"), "{links}");
    let bridge_addr = sandbox_out(&e, &["ip", "-4", "-o", "addr", "show", "berth0"]);
    assert!(bridge_addr.contains("172.17.0.1/16"), "{bridge_addr}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}} {{.NetworkSettings.Networks.bridge.IPAddress}}", "web"]),
        "172.17.0.2 172.17.0.1 02:42:ac:11:00:02 172.17.0.2\n"
    );
    let net = e.ok(&["network", "inspect", "-f", "{{.IPAM.Config}}", "bridge"]);
    assert!(net.contains("172.17.0.0/16"), "{net}");
    // A second container gets the next address; stop frees its veth, start gets one back.
    e.ok(&["run", "-d", "--name", "web2", "busybox", "sleep", "1000"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web2"]), "172.17.0.3\n");
    assert_eq!(e.ok(&["exec", "web2", "ping", "-c", "1", "-W", "3", "172.17.0.2"]).contains("1 packets received"), true);
    assert_eq!(veths(&e).len(), 2);
    e.ok(&["stop", "-t", "0", "web2"]);
    assert_eq!(veths(&e).len(), 1, "stop releases the veth");
    assert_eq!(e.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}|{{.NetworkSettings.Networks.bridge.IPAddress}}", "web2"]), "|\n");
    e.ok(&["start", "web2"]);
    assert_eq!(veths(&e).len(), 2);
    e.ok(&["rm", "-f", "web", "web2"]);
    assert!(veths(&e).is_empty(), "rm -f releases every veth");
    let ns_dir = e.exec_root().join("netns");
    assert_eq!(std::fs::read_dir(&ns_dir).map(|d| d.count()).unwrap_or(0), 0, "no namespace file left");
}

#[test]
fn course_bridge0_with_docker_cli() {
    let e = Engine::start();
    e.import_busybox();
    let r = e.docker(&["network", "create", "-d", "bridge", "--subnet", "172.18.0.0/16", "--gateway", "172.18.0.1", "-o", "com.docker.network.bridge.name=docker1", "bridge0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.trim().len(), 64, "{r:?}");
    let ls = e.docker(&["network", "ls"]);
    assert_eq!(ls.code, 0, "{ls:?}");
    assert!(ls.stdout.starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"), "{}", ls.stdout);
    for n in ["bridge0", "bridge ", "host", "none"] {
        assert!(ls.stdout.contains(n), "{n}: {}", ls.stdout);
    }
    let dev = sandbox_out(&e, &["ip", "-4", "-o", "addr", "show", "docker1"]);
    assert!(dev.contains("172.18.0.1/16"), "{dev}");

    let r = e.docker(&["run", "-d", "--name", "c1", "--network", "bridge0", "--network-alias", "web", "busybox", "sh", "-c", "mkdir /www && echo hello-c1 > /www/index.html && exec httpd -f -p 80 -h /www"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["run", "-d", "--name", "c2", "--network", "bridge0", "busybox", "sleep", "1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    let ip = e.docker(&["inspect", "-f", "{{.NetworkSettings.Networks.bridge0.IPAddress}}", "c1"]);
    assert_eq!(ip.stdout, "172.18.0.2\n", "{ip:?}");
    assert!(e.ok(&["exec", "c1", "ip", "-4", "addr", "show", "eth0"]).contains("172.18.0.2/16"));
    let members = sandbox_out(&e, &["ip", "-o", "link", "show", "master", "docker1"]);
    assert_eq!(members.lines().count(), 2, "both veths on docker1: {members}");
    // Embedded DNS: name and alias resolve on a user network.
    let resolv = e.ok(&["exec", "c2", "cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    wait_http(&e, "c2", "http://c1/", "hello-c1");
    wait_http(&e, "c2", "http://web/", "hello-c1");
    let ns = e.ok(&["exec", "c2", "nslookup", "c1"]);
    assert!(ns.contains("172.18.0.2"), "{ns}");
    // network inspect lists both containers; rm refuses while they are attached.
    let insp = e.docker(&["network", "inspect", "bridge0"]);
    let v: serde_json::Value = serde_json::from_str(&insp.stdout).unwrap();
    assert_eq!(v[0]["Containers"].as_object().unwrap().len(), 2, "{}", insp.stdout);
    assert_eq!(v[0]["IPAM"]["Config"][0]["Gateway"], "172.18.0.1");
    assert_eq!(v[0]["Options"]["com.docker.network.bridge.name"], "docker1");
    let id = v[0]["Id"].as_str().unwrap();
    let rm = e.docker(&["network", "rm", "bridge0"]);
    assert_eq!(rm.code, 1);
    // docker 28 adds its own "exit status 1" line after the daemon's text.
    assert_eq!(rm.stderr.lines().next().unwrap_or(""), format!("Error response from daemon: error while removing network: network bridge0 id {id} has active endpoints"));
    // connect/disconnect a running container to a second network.
    e.ok(&["network", "create", "side"]);
    e.ok(&["network", "connect", "side", "c2"]);
    assert!(e.ok(&["exec", "c2", "ip", "-o", "-4", "addr"]).contains("eth1"), "second interface");
    let dup = e.berth(&["network", "connect", "side", "c2"]);
    assert!(dup.stderr.contains("already exists in network side"), "{dup:?}");
    e.ok(&["network", "disconnect", "side", "c2"]);
    assert!(!e.ok(&["exec", "c2", "ip", "-o", "-4", "addr"]).contains("eth1"));

    let r = e.docker(&["rm", "-f", "c1", "c2"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["network", "rm", "bridge0"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "bridge0\n"), "{r:?}");
    let links = sandbox_out(&e, &["ip", "-o", "link"]);
    assert!(!links.contains("docker1"), "bridge deleted with its network: {links}");
    assert_eq!(e.ok(&["network", "prune", "-f"]), "Deleted Networks:\nside\n");
}

#[test]
fn published_ports() {
    let e = Engine::start();
    e.import_busybox();
    run_httpd(&e, &["--name", "web", "-p", "8000:80"], "hello-web");
    assert_eq!(e.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8000\n");
    assert_eq!(e.ok(&["port", "web", "80"]), "0.0.0.0:8000\n");
    let ps = e.ok(&["ps"]);
    assert!(ps.contains("0.0.0.0:8000->80/tcp"), "{ps}");
    let r = e.docker(&["port", "web"]);
    assert!(r.stdout.contains("80/tcp -> 0.0.0.0:8000"), "{r:?}");
    // From the daemon's namespace: loopback and the bridge's address.
    let mut ok = false;
    for _ in 0..50 {
        let r = host_wget(&e, "http://127.0.0.1:8000/");
        if r.code == 0 && r.stdout.trim() == "hello-web" {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "127.0.0.1:8000 reachable; ruleset:\n{}", nft_ruleset(&e));
    assert_eq!(host_wget(&e, "http://172.17.0.1:8000/").stdout.trim(), "hello-web");
    // Container to container through the published port (hairpin via the gateway).
    e.ok(&["run", "-d", "--name", "client", "busybox", "sleep", "1000"]);
    wait_http(&e, "client", "http://172.17.0.1:8000/", "hello-web");
    wait_http(&e, "client", "http://172.17.0.2/", "hello-web");

    // Random host port on one address; -P with --expose.
    run_httpd(&e, &["--name", "rnd", "-p", "127.0.0.1::80"], "hello-rnd");
    let hp = e.ok(&["port", "rnd", "80/tcp"]);
    assert!(hp.starts_with("127.0.0.1:"), "{hp}");
    let port: u16 = hp.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!((32768..=60999).contains(&port), "{port}");
    assert_eq!(host_wget(&e, &format!("http://127.0.0.1:{port}/")).stdout.trim(), "hello-rnd");
    run_httpd(&e, &["--name", "all", "--expose", "80", "-P"], "hello-all");
    let all = e.ok(&["port", "all"]);
    assert!(all.starts_with("80/tcp -> 0.0.0.0:"), "{all}");
    let inspect = e.ok(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", "web"]);
    assert_eq!(inspect.trim(), r#"{"80/tcp":[{"HostIp":"","HostPort":"8000"}]}"#);

    // A taken port: Docker's text, and nothing half set up.
    let (veths_before, rules_before) = (veths(&e).len(), nft_ruleset(&e));
    let r = e.berth(&["run", "-d", "--name", "clash", "-p", "8000:80", "busybox", "sleep", "100"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Bind for 0.0.0.0:8000 failed: port is already allocated"), "{r:?}");
    assert_eq!(veths(&e).len(), veths_before, "no stray veth");
    assert_eq!(nft_ruleset(&e), rules_before, "no stray rule");
    let ipam = std::fs::read_to_string(e.data_root().join("network/networks.json")).unwrap();
    let clash_id = e.ok(&["inspect", "-f", "{{.Id}}", "clash"]);
    assert!(!ipam.contains(clash_id.trim()), "no endpoint/IPAM entry for the failed container");
    // Bad -p spec: the CLI's error, nothing created.
    let r = e.berth(&["run", "-p", "8000:http", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("invalid containerPort: http"), "{r:?}");

    // rm frees the port and its rules.
    e.ok(&["rm", "-f", "web", "client", "rnd", "all", "clash"]);
    assert!(!nft_ruleset(&e).contains("dnat to"), "{}", nft_ruleset(&e));
    run_httpd(&e, &["--name", "again", "-p", "8000:80"], "again");
    assert_eq!(e.ok(&["port", "again"]), "80/tcp -> 0.0.0.0:8000\n");
}

#[test]
fn links_are_one_way() {
    let e = Engine::start();
    e.import_busybox();
    run_httpd(&e, &["--name", "c1", "--expose", "80", "-e", "FOO=bar"], "from-c1");
    e.ok(&["run", "-d", "--name", "c2", "--link", "c1:haha", "busybox", "sleep", "1000"]);
    let c1_host = e.ok(&["inspect", "-f", "{{.Config.Hostname}}", "c1"]);
    let hosts = e.ok(&["exec", "c2", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("172.17.0.2\thaha {} c1\n", c1_host.trim())), "{hosts}");
    let env = e.ok(&["exec", "c2", "env"]);
    for want in ["HAHA_NAME=/c2/haha", "HAHA_PORT=tcp://172.17.0.2:80", "HAHA_PORT_80_TCP_ADDR=172.17.0.2", "HAHA_PORT_80_TCP_PORT=80", "HAHA_ENV_FOO=bar"] {
        assert!(env.lines().any(|l| l == want), "{want} in\n{env}");
    }
    wait_http(&e, "c2", "http://haha/", "from-c1");
    wait_http(&e, "c2", "http://c1/", "from-c1");
    // One way: c1 knows nothing of c2.
    let hosts1 = e.ok(&["exec", "c1", "cat", "/etc/hosts"]);
    // Whole names: c1's own hostname is random hex and may well contain "c2".
    assert!(!hosts1.split_whitespace().any(|w| w == "c2" || w == "haha"), "{hosts1}");
    assert!(!e.ok(&["exec", "c1", "env"]).contains("HAHA"));
    let r = e.berth(&["exec", "c1", "ping", "-c", "1", "-W", "1", "c2"]);
    assert_ne!(r.code, 0, "c1 cannot resolve c2: {r:?}");
    // Default bridge: no embedded DNS, so a plain name does not resolve.
    e.ok(&["run", "-d", "--name", "c3", "busybox", "sleep", "1000"]);
    let r = e.berth(&["exec", "c3", "ping", "-c", "1", "-W", "1", "c1"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(e.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks.bridge.Links}}", "c2"]).trim(), r#"["/c1:/c2/haha"]"#);
    assert_eq!(e.ok(&["inspect", "-f", "{{json .HostConfig.Links}}", "c2"]).trim(), r#"["/c1:/c2/haha"]"#);
    // Docker's errors: unknown target at create, stopped target at start.
    let r = e.berth(&["create", "--link", "nosuch:x", "busybox", "true"]);
    assert!(r.stderr.contains("could not get container for nosuch"), "{r:?}");
    e.ok(&["create", "--name", "stopped", "busybox", "true"]);
    let r = e.berth(&["run", "-d", "--name", "c4", "--link", "stopped:s", "busybox", "true"]);
    assert!(r.stderr.contains("Cannot link to a non running container: /stopped AS /c4/s"), "{r:?}");
}

#[test]
fn none_host_and_container_modes() {
    let e = Engine::start();
    e.import_busybox();
    let links = e.ok(&["run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"]);
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    // host: the daemon's namespace, so berth0 (created by a bridge container) is visible.
    e.ok(&["run", "-d", "--name", "bb", "busybox", "sleep", "1000"]);
    let links = e.ok(&["run", "--rm", "--network", "host", "busybox", "ip", "-o", "link"]);
    assert!(links.contains("berth0"), "{links}");
    assert_eq!(e.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]), sandbox_out(&e, &["hostname"]));
    // container:<name>: the same namespace, so 127.0.0.1 reaches the target's server.
    run_httpd(&e, &["--name", "srv"], "shared-ns");
    e.eventually(10, "httpd up", || e.berth(&["run", "--rm", "--network", "container:srv", "busybox", "wget", "-qO-", "http://127.0.0.1/"]).stdout.trim() == "shared-ns");
    let a = e.ok(&["exec", "srv", "ip", "-o", "-4", "addr", "show", "eth0"]);
    let b = e.ok(&["run", "--rm", "--network", "container:srv", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert_eq!(a, b);
    // container: of a stopped container: Docker's text, nothing set up.
    let id = e.ok(&["create", "--name", "off", "busybox", "true"]);
    let before = veths(&e);
    let r = e.berth(&["run", "--network", "container:off", "busybox", "true"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&format!("cannot join network of a non running container: {}", id.trim())), "{r:?}");
    assert_eq!(veths(&e), before);
    let r = e.berth(&["run", "--network", "container:nosuch", "busybox", "true"]);
    assert!(r.stderr.contains("No such container: nosuch"), "{r:?}");
    let r = e.berth(&["run", "--network", "nonet", "busybox", "true"]);
    assert!(r.stderr.contains("network nonet not found"), "{r:?}");
}

#[test]
fn bad_network_input_leaves_nothing() {
    let e = Engine::start();
    // A bridge and a running container first, so "nothing changed" covers addresses, veths and
    // rules that exist, not just an empty namespace.
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "up", "-p", "8000:80", "busybox", "sleep", "1000"]);
    let state = || std::fs::read_to_string(e.data_root().join("network/networks.json")).unwrap();
    let before = state();
    let snap = net_snapshot(&e);
    let cases: [(&[&str], &str); 5] = [
        (&["network", "create", "--subnet", "172.17.5.0/24", "x"], "Error response from daemon: Pool overlaps with other one on this address space"),
        // The docker CLI checks this one itself; berth's CLI below lets the daemon answer.
        (&["network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.8.0.1", "x"], "no matching subnet for gateway 10.8.0.1"),
        (&["network", "create", "-d", "host", "h2"], "Error response from daemon: only one instance of \"host\" network is allowed"),
        (&["network", "create", "bridge"], "Error response from daemon: network with name bridge already exists"),
        (&["network", "rm", "bridge"], "Error response from daemon: bridge is a pre-defined network and cannot be removed"),
    ];
    for (args, want) in cases {
        let r = e.docker(args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().next().unwrap_or(""), want, "{args:?}");
    }
    let r = e.berth(&["network", "create", "--subnet", "10.9.0.0/24", "--gateway", "10.8.0.1", "x"]);
    assert_eq!((r.code, r.stderr.trim()), (1, "Error response from daemon: no matching subnet for gateway 10.8.0.1"));
    assert_eq!(state(), before, "no network recorded");
    assert_unchanged(&e, &snap, "refused network create/rm (no device, address, rule or IPAM entry)");
    // A network that overlaps a user one is refused too; --ip rules.
    e.ok(&["network", "create", "--subnet", "10.1.0.0/24", "u1"]);
    let r = e.berth(&["network", "create", "--subnet", "10.1.0.128/25", "u2"]);
    assert!(r.stderr.contains("Pool overlaps"), "{r:?}");
    let r = e.berth(&["create", "--ip", "172.17.0.9", "busybox", "true"]);
    assert!(r.stderr.contains("user specified IP address is supported on user defined networks only"), "{r:?}");
    let r = e.berth(&["create", "--network", "u1", "--ip", "10.2.0.9", "busybox", "true"]);
    assert!(r.stderr.contains("Invalid address 10.2.0.9: It does not belong to any of this network's subnets"), "{r:?}");
    e.ok(&["run", "-d", "--name", "fixed", "--network", "u1", "--ip", "10.1.0.50", "busybox", "sleep", "1000"]);
    assert!(e.ok(&["exec", "fixed", "ip", "-4", "addr"]).contains("10.1.0.50/24"));
    assert_eq!(e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.u1.IPAMConfig.IPv4Address}}", "fixed"]), "10.1.0.50\n");
    let snap = net_snapshot(&e);
    let r = e.berth(&["run", "-d", "--network", "u1", "--ip", "10.1.0.50", "busybox", "sleep", "1000"]);
    assert!(r.stderr.contains("Address already in use"), "{r:?}");
    assert_unchanged(&e, &snap, "a taken --ip");
    let ls = e.ok(&["network", "ls", "-q"]);
    assert_eq!(ls.lines().count(), 4, "{ls}");

    // Removing a network with a container attached: Docker's 403 text; bridge, address, veth,
    // IPAM entry and the container's connectivity all stay.
    let net_id = e.ok(&["network", "inspect", "-f", "{{.Id}}", "u1"]).trim().to_string();
    let r = e.docker(&["network", "rm", "u1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.lines().next().unwrap_or(""), format!("Error response from daemon: error while removing network: network u1 id {net_id} has active endpoints"));
    assert_unchanged(&e, &snap, "a refused network rm");
    assert!(e.ok(&["exec", "fixed", "ping", "-c", "1", "-W", "3", "10.1.0.1"]).contains("1 packets received"));

    // A bad -p spec: the CLIs' own errors, no container, nothing set up.
    let count = e.ok(&["ps", "-aq"]).lines().count();
    for spec in ["8000:http", "70000:80", "1.2.3:8000:80"] {
        let r = e.berth(&["run", "-d", "-p", spec, "busybox", "sleep", "1"]);
        assert_eq!(r.code, 125, "{spec}: {r:?}");
        let d = e.docker(&["run", "-d", "-p", spec, "busybox", "sleep", "1"]);
        assert_eq!(d.code, 125, "{spec}: {d:?}");
    }
    let r = e.berth(&["run", "-p", "8000:http", "busybox", "true"]);
    assert!(r.stderr.contains("invalid containerPort: http"), "{r:?}");
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), count, "no container created");
    assert_unchanged(&e, &snap, "bad -p specs");

    // A host port held by a process that is not berth (bind test in berthd's namespace).
    let _busy = e.in_netns(|| std::net::TcpListener::bind("0.0.0.0:8100").unwrap());
    let r = e.berth(&["run", "-d", "--name", "busyport", "-p", "8100:80", "busybox", "sleep", "100"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Bind for 0.0.0.0:8100 failed: port is already allocated"), "{r:?}");
    assert_unchanged(&e, &snap, "a port held by another process");
    // …and one published by another container.
    let r = e.berth(&["run", "-d", "--name", "dupport", "-p", "8000:80", "busybox", "sleep", "100"]);
    assert!(r.stderr.contains("Bind for 0.0.0.0:8000 failed: port is already allocated"), "{r:?}");
    assert_unchanged(&e, &snap, "a port published by another container");

    // Joining the namespace of a stopped container.
    let off = e.ok(&["create", "--name", "off", "busybox", "true"]).trim().to_string();
    let r = e.docker(&["run", "--network", "container:off", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains(&format!("cannot join network of a non running container: {off}")), "{r:?}");
    assert_unchanged(&e, &snap, "container: of a stopped container");
}

#[test]
fn daemon_restart_keeps_connectivity_then_teardown_is_exact() {
    let mut e = Engine::start();
    e.import_busybox();
    e.ok(&["network", "create", "resnet"]);
    run_httpd(&e, &["--name", "web", "--network", "resnet", "-p", "8080:80"], "survives");
    e.ok(&["run", "-d", "--name", "cli", "--network", "resnet", "busybox", "sleep", "1000"]);
    run_httpd(&e, &["--name", "plain", "-p", "8081:80"], "plain");
    wait_http(&e, "cli", "http://web/", "survives");
    e.eventually(10, "8080 published", || host_wget(&e, "http://127.0.0.1:8080/").stdout.trim() == "survives");
    let ip_before = e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.resnet.IPAddress}}", "cli"]);

    e.kill_daemon();
    // While berthd is away, the kernel keeps forwarding.
    assert_eq!(host_wget(&e, "http://127.0.0.1:8080/").stdout.trim(), "survives");
    e.start_daemon();
    assert_eq!(host_wget(&e, "http://127.0.0.1:8081/").stdout.trim(), "plain");
    wait_http(&e, "cli", "http://web/", "survives");
    assert_eq!(e.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8080\n");
    assert_eq!(e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.resnet.IPAddress}}", "cli"]), ip_before);
    // IPAM survived: a new container gets an unused address, and the old port stays taken.
    e.ok(&["run", "-d", "--name", "new", "--network", "resnet", "busybox", "sleep", "1000"]);
    let new_id = e_id(&e, "new");
    let ips: Vec<String> = ["web", "cli", "new"].iter().map(|c| e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.resnet.IPAddress}}", c])).collect();
    assert!(ips[2] != ips[0] && ips[2] != ips[1], "{ips:?}");
    let r = e.berth(&["run", "-d", "-p", "8080:80", "busybox", "sleep", "1"]);
    assert!(r.stderr.contains("port is already allocated"), "{r:?}");

    // A container that exits while berthd is down is released by the next one.
    let pid: i32 = e.ok(&["inspect", "-f", "{{.State.Pid}}", "new"]).trim().parse().unwrap();
    let before = veths(&e).len();
    e.kill_daemon();
    // SAFETY: the container's init, started by this test's berthd, by PID.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    e.start_daemon();
    e.eventually(10, "exited container released", || veths(&e).len() == before - 1);
    let ipam = std::fs::read_to_string(e.data_root().join("network/networks.json")).unwrap();
    assert!(!ipam.contains(&new_id), "endpoint of the dead container released");
    for id in e.ok(&["ps", "-aq"]).lines() {
        e.ok(&["rm", "-f", id]);
    }
    e.ok(&["network", "rm", "resnet"]);
    e.stop_daemon();
    assert_eq!(sandbox_out(&e, &["ip", "-o", "link"]).lines().count(), 1, "only lo left: {}", sandbox_out(&e, &["ip", "-o", "link"]));
    let addrs = sandbox_out(&e, &["ip", "-o", "-4", "addr"]);
    assert_eq!(addrs.lines().count(), 1, "only 127.0.0.1 left: {addrs}");
    assert_eq!(nft_ruleset(&e).trim(), "", "no nft table left");
}

fn e_id(e: &Engine, name: &str) -> String {
    e.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string()
}

#[test]
fn daemon_json_bip_and_mtu_shape_the_default_bridge() {
    let mut e = Engine::start();
    e.kill_daemon();
    std::fs::write(e.dir.path().join("daemon.json"), r#"{"bip": "10.55.0.1/24", "mtu": 1400}"#).unwrap();
    e.start_daemon();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "cc", "busybox", "sleep", "1000"]);
    let addr = e.ok(&["exec", "cc", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(addr.contains("inet 10.55.0.2/24"), "{addr}");
    assert_eq!(e.ok(&["exec", "cc", "cat", "/sys/class/net/eth0/mtu"]), "1400\n");
    assert!(sandbox_out(&e, &["ip", "-4", "-o", "addr", "show", "berth0"]).contains("10.55.0.1/24"));
    assert!(sandbox_out(&e, &["ip", "-o", "link", "show", "berth0"]).contains("mtu 1400"));
    assert_eq!(e.ok(&["network", "inspect", "-f", "{{index .Options \"com.docker.network.driver.mtu\"}}", "bridge"]), "1400\n");
    e.ok(&["rm", "-f", "cc"]);
}

#[test]
fn disconnect_any_network_and_hosts_follow() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["network", "create", "--subnet", "10.31.0.0/24", "n1"]);
    e.ok(&["network", "create", "--subnet", "10.32.0.0/24", "n2"]);
    e.ok(&["run", "-d", "--name", "cc", "--network", "n1", "-h", "box", "busybox", "sleep", "1000"]);
    let hosts = e.ok(&["exec", "cc", "cat", "/etc/hosts"]);
    assert!(hosts.ends_with("ff02::2\tip6-allrouters\n10.31.0.2\tbox\n"), "{hosts}");
    // connect: the new address is appended to the live /etc/hosts.
    e.ok(&["network", "connect", "n2", "cc"]);
    let hosts = e.ok(&["exec", "cc", "cat", "/etc/hosts"]);
    assert!(hosts.ends_with("\n10.31.0.2\tbox\n10.32.0.2\tbox\n"), "{hosts}");

    // disconnect of the --network network (through the docker CLI): eth0 goes, eth1 stays, the
    // namespace stays, and only that network's line leaves /etc/hosts.
    let ns = e.exec_root().join("netns").join(e_id(&e, "cc"));
    let veths_before = veths(&e).len();
    let r = e.docker(&["network", "disconnect", "n1", "cc"]);
    assert_eq!(r.code, 0, "{r:?}");
    let links = e.ok(&["exec", "cc", "ip", "-o", "link"]);
    assert!(!links.contains("eth0") && links.contains("eth1"), "{links}");
    let hosts = e.ok(&["exec", "cc", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("10.31.0.2") && hosts.ends_with("\n10.32.0.2\tbox\n"), "{hosts}");
    assert!(ns.exists(), "the container keeps its namespace");
    assert_eq!(veths(&e).len(), veths_before - 1, "n1's veth deleted");
    let r = e.docker(&["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}|{{.HostConfig.NetworkMode}}", "cc"]);
    assert_eq!(r.stdout, "n2 |n1\n", "{r:?}");
    let n1 = e.docker(&["network", "inspect", "-f", "{{len .Containers}}", "n1"]);
    assert_eq!(n1.stdout, "0\n", "{n1:?}");
    assert!(!std::fs::read_to_string(e.data_root().join("network/networks.json")).unwrap().contains("10.31.0.2"), "address released");
    let r = e.berth(&["network", "disconnect", "n1", "cc"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("is not connected to network n1"), "{r:?}");
    // …and back: a new interface on n1, its line back in /etc/hosts.
    e.ok(&["network", "connect", "n1", "cc"]);
    let ip = e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "cc"]).trim().to_string();
    assert!(ip.starts_with("10.31.0."), "{ip}");
    assert!(e.ok(&["exec", "cc", "cat", "/etc/hosts"]).ends_with(&format!("\n10.32.0.2\tbox\n{ip}\tbox\n")));
    e.ok(&["exec", "cc", "ping", "-c", "1", "-W", "3", "10.31.0.1"]);

    // A user-network container left with no network gets its --network back at the next start.
    e.ok(&["network", "disconnect", "n1", "cc"]);
    e.ok(&["network", "disconnect", "n2", "cc"]);
    assert_eq!(e.ok(&["exec", "cc", "ip", "-o", "link"]).lines().count(), 1, "only lo");
    e.ok(&["restart", "-t", "0", "cc"]);
    assert_eq!(e.docker(&["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "cc"]).stdout, "n1 \n");
    assert!(e.ok(&["exec", "cc", "ip", "-o", "-4", "addr", "show", "eth0"]).contains("10.31.0."));

    // Default bridge with a published port: disconnect takes the port's rule with it; the
    // container stays without a network across a restart (Docker does not re-add `bridge`);
    // connect brings address and port back.
    run_httpd(&e, &["--name", "web", "-p", "8090:80"], "hello-8090");
    e.eventually(10, "8090 published", || host_wget(&e, "http://127.0.0.1:8090/").stdout.trim() == "hello-8090");
    e.ok(&["network", "disconnect", "bridge", "web"]);
    assert!(!nft_ruleset(&e).contains("8090"), "{}", nft_ruleset(&e));
    assert_eq!(e.ok(&["port", "web"]), "");
    e.ok(&["restart", "-t", "0", "web"]);
    assert_eq!(e.ok(&["exec", "web", "ip", "-o", "link"]).lines().count(), 1, "still only lo after a restart");
    assert_eq!(e.ok(&["inspect", "-f", "{{json .NetworkSettings.Networks}}", "web"]), "{}\n");
    e.ok(&["network", "connect", "bridge", "web"]);
    assert_eq!(e.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8090\n");
    e.eventually(10, "8090 back", || host_wget(&e, "http://127.0.0.1:8090/").stdout.trim() == "hello-8090");

    // A default-bridge container connected to a user network starts using the embedded DNS.
    e.ok(&["run", "-d", "--name", "bb", "busybox", "sleep", "1000"]);
    assert!(!e.ok(&["exec", "bb", "cat", "/etc/resolv.conf"]).contains("127.0.0.11"));
    e.ok(&["network", "connect", "n1", "bb"]);
    assert!(e.ok(&["exec", "bb", "cat", "/etc/resolv.conf"]).starts_with("nameserver 127.0.0.11\n"));
    e.eventually(10, "c resolves from bb", || e.berth(&["exec", "bb", "nslookup", "cc"]).stdout.contains("10.31.0."));

    for c in ["cc", "web", "bb"] {
        e.ok(&["rm", "-f", c]);
    }
    assert!(veths(&e).is_empty());
    assert!(!nft_ruleset(&e).contains("dnat to"), "{}", nft_ruleset(&e));
}

#[test]
fn iptables_backend_through_berthd() {
    let probe = std::process::Command::new("iptables").arg("--version").output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        eprintln!("test skipped: iptables not installed");
        return;
    }
    let mut e = Engine::start_configured(r#"{"firewall-backend": "iptables"}"#, &[]);
    e.import_busybox();
    let nat_before = sandbox_out(&e, &["iptables", "-w", "-t", "nat", "-S"]);
    let filter_before = sandbox_out(&e, &["iptables", "-w", "-S"]);
    run_httpd(&e, &["--name", "web", "-p", "8000:80"], "via-iptables");
    e.eventually(10, "8000 published", || host_wget(&e, "http://127.0.0.1:8000/").stdout.trim() == "via-iptables");
    assert_eq!(host_wget(&e, "http://172.17.0.1:8000/").stdout.trim(), "via-iptables");
    let nat = sandbox_out(&e, &["iptables", "-w", "-t", "nat", "-S"]);
    assert!(nat.contains("-A BERTH-PORTS -p tcp -m tcp --dport 8000 -j DNAT --to-destination 172.17.0.2:80"), "{nat}");
    assert!(e.in_sandbox(&["nft", "list", "table", "ip", "berth"]).code != 0, "no nft table of berth's own");
    // Hairpin from a neighbour, and the taken port refused with rules unchanged.
    e.ok(&["run", "-d", "--name", "client", "busybox", "sleep", "1000"]);
    wait_http(&e, "client", "http://172.17.0.1:8000/", "via-iptables");
    let r = e.berth(&["run", "-d", "-p", "8000:80", "busybox", "sleep", "100"]);
    assert!(r.stderr.contains("port is already allocated"), "{r:?}");
    assert_eq!(sandbox_out(&e, &["iptables", "-w", "-t", "nat", "-S"]), nat);
    // Restart with containers running: rules kept, no duplicate jumps.
    e.kill_daemon();
    e.start_daemon();
    assert_eq!(host_wget(&e, "http://127.0.0.1:8000/").stdout.trim(), "via-iptables");
    assert_eq!(sandbox_out(&e, &["iptables", "-w", "-t", "nat", "-S"]), nat);
    for id in e.ok(&["ps", "-aq"]).lines() {
        e.ok(&["rm", "-f", id]);
    }
    e.stop_daemon();
    assert_eq!(sandbox_out(&e, &["iptables", "-w", "-t", "nat", "-S"]), nat_before);
    assert_eq!(sandbox_out(&e, &["iptables", "-w", "-S"]), filter_before);
}

/// Docker's DOCKER-ISOLATION-STAGE-1/2: a container on one bridge network cannot reach one on
/// another by IP, neighbours on the same bridge still can, the host (gateway) stays reachable,
/// and `network rm` takes the isolation rules with it (the ruleset is back to what it was).
#[test]
fn bridge_networks_are_isolated_from_each_other() {
    let e = Engine::start();
    e.import_busybox();
    // The default bridge (and its rules) comes up with its first container.
    run_httpd(&e, &["--name", "web0"], "on-bridge");
    let before = nft_ruleset(&e);
    assert!(!before.contains("drop"), "one bridge: nothing to isolate\n{before}");
    e.ok(&["network", "create", "--subnet", "172.30.0.0/24", "iso"]);
    run_httpd(&e, &["--name", "web1", "--network", "iso"], "on-iso");
    e.ok(&["run", "-d", "--name", "c0", "busybox", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", "c1", "--network", "iso", "busybox", "sleep", "1000"]);
    let ip = |c: &str, net: &str| e.ok(&["inspect", "-f", &format!("{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}"), c]).trim().to_string();
    let (web0, web1) = (ip("web0", "bridge"), ip("web1", "iso"));
    // Both directions between the two bridges are dropped.
    let rules = nft_ruleset(&e);
    assert_eq!(rules.lines().filter(|l| l.trim().starts_with("iifname") && l.trim().ends_with("drop")).count(), 2, "{rules}");
    // Same bridge: works.
    wait_http(&e, "c0", &format!("http://{web0}/"), "on-bridge");
    wait_http(&e, "c1", &format!("http://{web1}/"), "on-iso");
    // Across bridges, both directions: TCP and ping fail.
    for (from, to) in [("c0", &web1), ("c1", &web0)] {
        let r = e.berth(&["exec", from, "timeout", "3", "wget", "-qO-", &format!("http://{to}/")]);
        assert_ne!(r.code, 0, "{from} reached {to}: {r:?}");
        let r = e.berth(&["exec", from, "ping", "-c", "1", "-W", "1", to]);
        assert_ne!(r.code, 0, "{from} pinged {to}: {r:?}");
    }
    // The gateway (the host side) is still reachable from both.
    e.ok(&["exec", "c1", "ping", "-c", "1", "-W", "2", "172.30.0.1"]);
    let route = e.ok(&["exec", "c0", "ip", "route"]);
    let gw0 = route.split("default via ").nth(1).and_then(|r| r.split_whitespace().next()).expect("default route").to_string();
    e.ok(&["exec", "c0", "ping", "-c", "1", "-W", "2", &gw0]);
    e.ok(&["rm", "-f", "web1", "c1"]);
    e.ok(&["network", "rm", "iso"]);
    assert_eq!(nft_ruleset(&e), before, "network rm removes exactly its isolation rules");
}
