//! Docker-shaped JSON for `network inspect` / `network ls` and a container's `NetworkSettings`
//! pieces, so the daemon serves what the real CLI expects.
use crate::firewall::PortMap;
use crate::network::{Driver, Network};
use crate::store::Endpoint;
use serde_json::{json, Map, Value};

/// `GET /networks/{id}` (and each element of `GET /networks`).
pub fn network_json(n: &Network, endpoints: &[&Endpoint]) -> Value {
    let mut config = Vec::new();
    if let (Some(s), Some(g)) = (n.subnet, n.gateway) {
        let mut c = json!({ "Subnet": s.to_string(), "Gateway": g.to_string() });
        if let Some(r) = n.ip_range {
            c["IPRange"] = json!(r.to_string());
        }
        config.push(c);
    }
    let mut containers = Map::new();
    for e in endpoints {
        containers.insert(
            e.container_id.clone(),
            json!({
                "Name": e.container_name,
                "EndpointID": e.id,
                "MacAddress": e.mac.clone().unwrap_or_default(),
                "IPv4Address": e.ip.map(|ip| format!("{ip}/{}", e.prefix)).unwrap_or_default(),
                "IPv6Address": "",
            }),
        );
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver.as_str(),
        "EnableIPv6": false,
        "IPAM": { "Driver": "default", "Options": if n.driver == Driver::Bridge && !n.default_bridge { json!({}) } else { Value::Null }, "Config": config },
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": containers,
        "Options": n.options,
        "Labels": n.labels,
    })
}

/// One entry of `NetworkSettings.Networks` (`IPAMConfig` carries `--ip`).
pub fn endpoint_settings(e: &Endpoint, static_ip: bool, links: &[String]) -> Value {
    json!({
        "IPAMConfig": if static_ip { json!({ "IPv4Address": e.ip.map(|i| i.to_string()).unwrap_or_default() }) } else { Value::Null },
        "Links": if links.is_empty() { Value::Null } else { json!(links) },
        "Aliases": if e.aliases.is_empty() { Value::Null } else { json!(e.aliases) },
        "NetworkID": e.network_id,
        "EndpointID": e.id,
        "Gateway": e.gateway.map(|g| g.to_string()).unwrap_or_default(),
        "IPAddress": e.ip.map(|g| g.to_string()).unwrap_or_default(),
        "IPPrefixLen": e.prefix,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": e.mac.clone().unwrap_or_default(),
        "DriverOpts": Value::Null,
    })
}

/// `NetworkSettings.Ports`: every exposed port, `null` when not published (as Docker shows it).
pub fn ports_json(exposed: &[String], maps: &[PortMap]) -> Value {
    let mut m = Map::new();
    for e in exposed {
        let key = if e.contains('/') { e.clone() } else { format!("{e}/tcp") };
        m.insert(key, Value::Null);
    }
    for p in maps {
        let key = format!("{}/{}", p.container_port, p.proto);
        let entry = m.entry(key).or_insert(Value::Null);
        if entry.is_null() {
            *entry = json!([]);
        }
        entry.as_array_mut().expect("array").push(json!({ "HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string() }));
    }
    Value::Object(m)
}

/// `docker port <c>` lines: `80/tcp -> 0.0.0.0:8000`, sorted by container port.
pub fn port_lines(maps: &[PortMap]) -> Vec<String> {
    let mut v: Vec<&PortMap> = maps.iter().collect();
    v.sort_by_key(|p| (p.container_port, p.proto, p.host_ip, p.host_port));
    v.iter().map(|p| format!("{}/{} -> {}:{}", p.container_port, p.proto, p.host_ip, p.host_port)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{default_bridge, DaemonNetConfig};
    use crate::ports::Proto;

    #[test]
    fn shapes() {
        let n = default_bridge(&DaemonNetConfig::default()).unwrap();
        let e = Endpoint {
            id: "e".repeat(64),
            network_id: n.id.clone(),
            container_id: "c".repeat(64),
            container_name: "web1".into(),
            aliases: vec![],
            ip: Some("172.17.0.2".parse().unwrap()),
            prefix: 16,
            gateway: Some("172.17.0.1".parse().unwrap()),
            mac: Some("02:42:ac:11:00:02".into()),
            veth: None,
        };
        let j = network_json(&n, &[&e]);
        assert_eq!(j["IPAM"]["Config"][0]["Subnet"], "172.17.0.0/16");
        assert_eq!(j["Options"]["com.docker.network.bridge.name"], "berth0");
        assert_eq!(j["Containers"]["c".repeat(64)]["IPv4Address"], "172.17.0.2/16");
        let s = endpoint_settings(&e, false, &[]);
        assert_eq!((s["IPAddress"].as_str(), s["IPPrefixLen"].as_u64(), s["IPAMConfig"].is_null()), (Some("172.17.0.2"), Some(16), true));
        let p = ports_json(
            &["80/tcp".into(), "443".into()],
            &[PortMap { owner: "x".into(), host_ip: "0.0.0.0".parse().unwrap(), host_port: 8000, proto: Proto::Tcp, container_ip: "172.17.0.2".parse().unwrap(), container_port: 80 }],
        );
        assert_eq!(p.to_string(), r#"{"443/tcp":null,"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8000"}]}"#);
        let m = PortMap { owner: "x".into(), host_ip: "0.0.0.0".parse().unwrap(), host_port: 8000, proto: Proto::Tcp, container_ip: "172.17.0.2".parse().unwrap(), container_port: 80 };
        assert_eq!(port_lines(&[m]), ["80/tcp -> 0.0.0.0:8000"]);
    }
}
