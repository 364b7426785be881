//! `-p` specs as Docker's go-connections `nat.ParsePortSpec` reads them, with its error texts
//! (v0.5, lowercase, as docker CLI 28 prints them).
use crate::error::{NetError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port. `host_port: None` means "pick a free ephemeral port".
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortBinding {
    pub host_ip: Ipv4Addr,
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortBinding {
    /// Docker's key in `Ports`/`PortBindings`: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }
}

fn perr(s: String) -> NetError {
    NetError::PortSpec(s)
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u16 = a.parse().ok()?;
    let b: u16 = b.parse().ok()?;
    if b < a {
        return None;
    }
    Some((a, b))
}

/// Parse one `-p` value into one binding per port (ranges expand).
pub fn parse_port_spec(raw: &str) -> Result<Vec<PortBinding>> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host, cport) = match n {
        1 => ("", "", parts[0]),
        2 => ("", parts[0], parts[1]),
        3 => (parts[0], parts[1], parts[2]),
        _ => return Err(perr(format!("invalid IP address: {}", parts[..n - 2].join(":")))),
    };
    let (cport, proto) = match cport.split_once('/') {
        Some((p, pr)) => (p, pr),
        None => (cport, "tcp"),
    };
    let host_ip = if ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        ip.trim_start_matches('[').trim_end_matches(']').parse().map_err(|_| perr(format!("invalid IP address: {ip}")))?
    };
    if cport.is_empty() {
        return Err(perr(format!("no port specified: {raw}<empty>")));
    }
    let (cs, ce) = parse_range(cport).filter(|(a, _)| *a > 0).ok_or_else(|| perr(format!("invalid containerPort: {cport}")))?;
    let hrange = if host.is_empty() {
        None
    } else {
        Some(parse_range(host).ok_or_else(|| perr(format!("invalid hostPort: {host}")))?)
    };
    if let Some((hs, he)) = hrange {
        // A host range with a single container port means "any one of these" in Docker; berth
        // takes the first, keeping the rule simple.
        if ce - cs != he - hs && ce != cs {
            return Err(perr(format!("invalid ranges specified for container and host Ports: {cport} and {host}")));
        }
    }
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" | "" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return Err(perr(format!("invalid proto: {proto}"))),
    };
    Ok((cs..=ce)
        .enumerate()
        .map(|(i, c)| PortBinding {
            host_ip,
            host_port: hrange.map(|(hs, he)| if he == hs || ce == cs { hs } else { hs + i as u16 }).filter(|p| *p != 0),
            container_port: c,
            proto,
        })
        .collect())
}

/// `-P`: every EXPOSEd port (`80/tcp`, `53/udp`, `8080`) on a random host port.
pub fn ports_from_expose<'a>(exposed: impl IntoIterator<Item = &'a str>) -> Result<Vec<PortBinding>> {
    let mut out = Vec::new();
    for e in exposed {
        out.extend(parse_port_spec(e)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn one(s: &str) -> PortBinding {
        let mut v = parse_port_spec(s).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }
    #[test]
    fn forms() {
        let b = one("8000:80");
        assert_eq!((b.host_ip, b.host_port, b.container_port, b.proto), (Ipv4Addr::UNSPECIFIED, Some(8000), 80, Proto::Tcp));
        let b = one("127.0.0.1:8001:80/udp");
        assert_eq!((b.host_ip.to_string(), b.host_port, b.proto), ("127.0.0.1".into(), Some(8001), Proto::Udp));
        let b = one("127.0.0.1::80");
        assert_eq!((b.host_ip.to_string(), b.host_port), ("127.0.0.1".into(), None));
        assert_eq!(one("80").host_port, None);
        assert_eq!(one("80").key(), "80/tcp");
        let r = parse_port_spec("8000-8002:80-82").unwrap();
        assert_eq!(r.iter().map(|b| (b.host_port.unwrap(), b.container_port)).collect::<Vec<_>>(), [(8000, 80), (8001, 81), (8002, 82)]);
    }
    #[test]
    fn errors() {
        let e = |s: &str| parse_port_spec(s).unwrap_err().to_string();
        assert_eq!(e("8000:http"), "invalid containerPort: http");
        assert_eq!(e("x:80"), "invalid hostPort: x");
        assert_eq!(e("1.2.3:8000:80"), "invalid IP address: 1.2.3");
        assert_eq!(e("8000:80/sctpx"), "invalid proto: sctpx");
        assert_eq!(e("8000:"), "no port specified: 8000:<empty>");
        assert_eq!(e("8000-8001:80-83"), "invalid ranges specified for container and host Ports: 80-83 and 8000-8001");
        assert_eq!(e("99999:80"), "invalid hostPort: 99999");
    }
    #[test]
    fn expose() {
        let v = ports_from_expose(["80/tcp", "53/udp", "80"]).unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|b| b.host_port.is_none()));
    }
}
