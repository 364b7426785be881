//! Docker derives a container's MAC from its IPv4 address: 02:42 followed by the 4 address bytes,
//! so the same IP always gets the same MAC (locally administered, unicast).
use std::net::Ipv4Addr;

pub fn mac_from_ip(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn docker_mac() {
        assert_eq!(format_mac(&mac_from_ip("172.17.0.2".parse().unwrap())), "02:42:ac:11:00:02");
        assert_eq!(format_mac(&mac_from_ip("10.0.0.254".parse().unwrap())), "02:42:0a:00:00:fe");
    }
}
