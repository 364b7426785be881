//! `GET /containers/{id}/json` in Docker 20.10's key order (Go struct field order; Go maps
//! sorted), and `berth inspect` printing it as sent. The order is what everyday pipelines see:
//! chapters 11/12 read a container's address with `docker inspect c1 | grep IPAddress | tail -1`,
//! which must print the network's `"IPAddress"`, not `"SecondaryIPAddresses": null`.

use berth_tests::engine::{bins, docker_cli, have_docker, Engine, Run};
use std::io::{Read, Write};
use std::process::Command;

/// `GET path` on berthd's socket: the body exactly as sent.
fn get_raw(e: &Engine, path: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(&e.sock).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head: {out}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{out}");
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    body.to_string()
}

/// End of the JSON value starting at `i` (after any whitespace).
fn skip_value(b: &[u8], mut i: usize) -> usize {
    while b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut depth = 0usize;
    loop {
        match b[i] {
            b'"' => {
                i += 1;
                while b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' | b'}' | b']' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
        if depth == 0 && (i >= b.len() || matches!(b[i], b',' | b'}' | b']') || b[i].is_ascii_whitespace()) {
            return i;
        }
    }
}

/// The members of the JSON object `s`, in the order they are written: (key, raw value).
fn members(s: &str) -> Vec<(String, &str)> {
    let b = s.as_bytes();
    let mut i = s.find('{').unwrap_or_else(|| panic!("not an object: {s}")) + 1;
    let mut out = vec![];
    loop {
        while b[i].is_ascii_whitespace() || b[i] == b',' {
            i += 1;
        }
        if b[i] == b'}' {
            return out;
        }
        assert_eq!(b[i], b'"', "a key at {i}: {s}");
        let end = i + 1 + s[i + 1..].find('"').unwrap();
        let key = s[i + 1..end].to_string();
        i = end + 1 + s[end + 1..].find(':').unwrap() + 1;
        let vend = skip_value(b, i);
        out.push((key, s[i..vend].trim()));
        i = vend;
    }
}

/// The elements of the JSON array `s`, raw.
fn elements(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut i = s.find('[').unwrap_or_else(|| panic!("not an array: {s}")) + 1;
    let mut out = vec![];
    loop {
        while b[i].is_ascii_whitespace() || b[i] == b',' {
            i += 1;
        }
        if b[i] == b']' {
            return out;
        }
        let end = skip_value(b, i);
        out.push(s[i..end].trim());
        i = end;
    }
}

fn keys(s: &str) -> Vec<String> {
    members(s).into_iter().map(|(k, _)| k).collect()
}

fn member<'a>(s: &'a str, key: &str) -> &'a str {
    members(s).into_iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key} in {s}")).1
}

/// Whether `got` lists keys of `all` only, in `all`'s order (for structs with omitempty fields).
fn in_order(got: &[String], all: &[&str]) -> bool {
    let mut it = all.iter();
    got.iter().all(|k| it.any(|a| a == k))
}

const TOP: [&str; 23] = [
    "Id",
    "Created",
    "Path",
    "Args",
    "State",
    "Image",
    "ResolvConfPath",
    "HostnamePath",
    "HostsPath",
    "LogPath",
    "Name",
    "RestartCount",
    "Driver",
    "Platform",
    "MountLabel",
    "ProcessLabel",
    "AppArmorProfile",
    "ExecIDs",
    "HostConfig",
    "GraphDriver",
    "Mounts",
    "Config",
    "NetworkSettings",
];
const STATE: [&str; 11] =
    ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"];
const NETWORK_SETTINGS: [&str; 18] = [
    "Bridge",
    "SandboxID",
    "HairpinMode",
    "LinkLocalIPv6Address",
    "LinkLocalIPv6PrefixLen",
    "Ports",
    "SandboxKey",
    "SecondaryIPAddresses",
    "SecondaryIPv6Addresses",
    "EndpointID",
    "Gateway",
    "GlobalIPv6Address",
    "GlobalIPv6PrefixLen",
    "IPAddress",
    "IPPrefixLen",
    "IPv6Gateway",
    "MacAddress",
    "Networks",
];
const ENDPOINT: [&str; 13] = [
    "IPAMConfig",
    "Links",
    "Aliases",
    "NetworkID",
    "EndpointID",
    "Gateway",
    "IPAddress",
    "IPPrefixLen",
    "IPv6Gateway",
    "GlobalIPv6Address",
    "GlobalIPv6PrefixLen",
    "MacAddress",
    "DriverOpts",
];
/// moby `container.Config`, every field (most are omitempty or absent in berth).
const CONFIG: [&str; 25] = [
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ExposedPorts",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Healthcheck",
    "ArgsEscaped",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "NetworkDisabled",
    "MacAddress",
    "OnBuild",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "Shell",
];
const MOUNT: [&str; 8] = ["Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation"];

fn sh(cmd: &str, envs: &[(&str, &str)]) -> Run {
    let mut c = Command::new("sh");
    c.args(["-c", cmd]);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("sh").into()
}

#[test]
fn container_inspect_in_docker_key_order() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["network", "create", "n1"]);
    let vol_src = e.dir.path().join("bindsrc");
    std::fs::create_dir_all(&vol_src).unwrap();
    let bind = format!("{}:/mnt/b:ro", vol_src.display());
    e.ok(&[
        "run",
        "-d",
        "--name",
        "c1",
        "-p",
        "8080:80",
        "--expose",
        "443",
        "-v",
        &bind,
        "-v",
        "v1:/mnt/v",
        "-l",
        "b=2",
        "-l",
        "a=1",
        "busybox",
        "sleep",
        "1000",
    ]);
    e.ok(&["run", "-d", "--name", "c2", "--network", "n1", "busybox", "sleep", "1000"]);
    e.ok(&["create", "--name", "c3", "busybox", "true"]);

    for name in ["c1", "c2", "c3"] {
        let body = get_raw(&e, &format!("/v1.41/containers/{name}/json"));
        assert_eq!(keys(&body), TOP, "{name}: {body}");
        assert_eq!(keys(member(&body, "State")), STATE, "{name}");
        let ns = member(&body, "NetworkSettings");
        assert_eq!(keys(ns), NETWORK_SETTINGS, "{name}");
        let nets = member(ns, "Networks");
        assert!(!keys(nets).is_empty(), "{name}: {ns}");
        for (net, ep) in members(nets) {
            assert_eq!(keys(ep), ENDPOINT, "{name} {net}");
        }
        let config = keys(member(&body, "Config"));
        assert!(in_order(&config, &CONFIG), "{name}: Config keys {config:?}");
        assert_eq!(keys(member(&body, "GraphDriver")), ["Data", "Name"], "{name}");
        // The parsed document is what it was: only the order is Docker's.
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["Name"], format!("/{name}"));
    }

    // Go maps: sorted keys (Ports, Networks, Labels).
    let c1 = get_raw(&e, "/v1.41/containers/c1/json");
    let ns = member(&c1, "NetworkSettings");
    assert_eq!(keys(member(ns, "Ports")), ["443/tcp", "80/tcp"], "{ns}");
    assert_eq!(member(member(ns, "Ports"), "80/tcp").replace(' ', ""), r#"[{"HostIp":"0.0.0.0","HostPort":"8080"}]"#);
    assert_eq!(keys(member(member(&c1, "Config"), "Labels")), ["a", "b"]);
    let mounts = elements(member(&c1, "Mounts"));
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    assert_eq!(keys(mounts[0]), ["Type", "Source", "Destination", "Mode", "RW", "Propagation"], "{mounts:?}");
    assert_eq!(keys(mounts[1]), MOUNT, "{mounts:?}");
    let c2 = get_raw(&e, "/v1.41/containers/c2/json");
    assert_eq!(keys(member(member(&c2, "NetworkSettings"), "Networks")), ["n1"]);

    // `berth inspect` prints the daemon's order: indented as the docker CLI's json.Indent.
    let out = e.ok(&["inspect", "c1"]);
    let top: Vec<&str> = out.lines().filter(|l| l.starts_with("        \"")).map(|l| l.trim().split('"').nth(1).unwrap()).collect();
    assert_eq!(top, TOP, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0], serde_json::from_str::<serde_json::Value>(&c1).unwrap());
}

#[test]
fn grep_ipaddress_tail_prints_the_network_address() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["network", "create", "n1"]);
    e.ok(&["run", "-d", "--name", "c1", "busybox", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", "c2", "--network", "n1", "busybox", "sleep", "1000"]);
    let ip1 = e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "c1"]).trim().to_string();
    let ip2 = e.ok(&["inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "c2"]).trim().to_string();
    assert!(ip1.starts_with("172.17."), "{ip1}");
    assert!(!ip2.is_empty() && ip2 != ip1, "{ip2}");

    let (berth, _) = bins();
    let host = e.host();
    let cfg = e.dir.path().join("berth-config");
    let berth_env = [("BERTH_HOST", host.as_str()), ("BERTH_CONFIG", cfg.to_str().unwrap())];
    for (c, ip) in [("c1", &ip1), ("c2", &ip2)] {
        let r = sh(&format!("'{}' inspect {c} | grep IPAddress | tail -1", berth.display()), &berth_env);
        assert_eq!((r.code, r.stdout.as_str()), (0, format!("                    \"IPAddress\": \"{ip}\",\n").as_str()), "{r:?}");
    }
    // The docker CLI prints what berthd sent, as is.
    if have_docker("docker inspect c1 | grep IPAddress | tail -1") {
        let docker = docker_cli().unwrap();
        let dcfg = e.dir.path().join("docker-config");
        std::fs::create_dir_all(&dcfg).unwrap();
        let docker_env = [("DOCKER_HOST", host.as_str()), ("DOCKER_CONFIG", dcfg.to_str().unwrap())];
        for (c, ip) in [("c1", &ip1), ("c2", &ip2)] {
            let r = sh(&format!("unset DOCKER_API_VERSION; '{}' inspect {c} | grep IPAddress | tail -1", docker.display()), &docker_env);
            assert_eq!((r.code, r.stdout.trim()), (0, format!("\"IPAddress\": \"{ip}\",").as_str()), "{r:?}");
            let d = e.docker(&["inspect", c]);
            assert_eq!(d.code, 0, "{d:?}");
            assert_eq!(d.stdout, e.ok(&["inspect", c]), "berth inspect prints what docker inspect prints");
        }
    }
}
