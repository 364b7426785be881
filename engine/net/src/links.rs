//! `--link name:alias` environment variables, as Docker's daemon/links computes them. One-way: only
//! the linking container gets them.
use crate::ports::Proto;
use std::net::Ipv4Addr;

/// What the daemon knows about the linked (child) container.
#[derive(Clone, Debug)]
pub struct LinkedContainer {
    pub ip: Ipv4Addr,
    /// Exposed ports of the linked container.
    pub ports: Vec<(u16, Proto)>,
    /// Its `Config.Env` (`KEY=value`).
    pub env: Vec<String>,
}

/// Environment for the linking container `linking_name` (without `/`) linking `alias`.
pub fn link_env(linking_name: &str, alias: &str, child: &LinkedContainer) -> Vec<String> {
    let p = alias.to_ascii_uppercase().replace('-', "_");
    let mut ports = child.ports.clone();
    ports.sort();
    let mut env = Vec::new();
    if let Some((port, proto)) = ports.first() {
        env.push(format!("{p}_PORT={proto}://{}:{port}", child.ip));
    }
    for (port, proto) in &ports {
        let up = proto.to_string().to_ascii_uppercase();
        env.push(format!("{p}_PORT_{port}_{up}={proto}://{}:{port}", child.ip));
        env.push(format!("{p}_PORT_{port}_{up}_ADDR={}", child.ip));
        env.push(format!("{p}_PORT_{port}_{up}_PORT={port}"));
        env.push(format!("{p}_PORT_{port}_{up}_PROTO={proto}"));
    }
    env.push(format!("{p}_NAME=/{}/{alias}", linking_name.trim_start_matches('/')));
    for kv in &child.env {
        if let Some((k, v)) = kv.split_once('=') {
            // Docker skips these: they describe the image, not the service.
            if k == "HOME" || k == "PATH" {
                continue;
            }
            env.push(format!("{p}_ENV_{k}={v}"));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn course_example() {
        let child = LinkedContainer {
            ip: "172.17.0.2".parse().unwrap(),
            ports: vec![(80, Proto::Tcp)],
            env: vec!["PATH=/usr/bin".into(), "NGINX_VERSION=1.25".into()],
        };
        assert_eq!(
            link_env("c2", "haha", &child),
            [
                "HAHA_PORT=tcp://172.17.0.2:80",
                "HAHA_PORT_80_TCP=tcp://172.17.0.2:80",
                "HAHA_PORT_80_TCP_ADDR=172.17.0.2",
                "HAHA_PORT_80_TCP_PORT=80",
                "HAHA_PORT_80_TCP_PROTO=tcp",
                "HAHA_NAME=/c2/haha",
                "HAHA_ENV_NGINX_VERSION=1.25",
            ]
        );
        let e = link_env("/c3", "my-db", &LinkedContainer { ip: "172.17.0.5".parse().unwrap(), ports: vec![], env: vec![] });
        assert_eq!(e, ["MY_DB_NAME=/c3/my-db"]);
    }
}
