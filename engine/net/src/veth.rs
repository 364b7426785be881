//! veth naming as Docker does: host side `veth` + 7 hex chars, container side `eth0`.
use sha2::{Digest, Sha256};

pub const CONTAINER_IFNAME: &str = "eth0";

/// Derived from the endpoint id (Docker uses random chars; deriving them makes teardown after a
/// restart find the device from the persisted endpoint alone).
pub fn host_veth_name(endpoint_id: &str) -> String {
    let h = Sha256::digest(endpoint_id.as_bytes());
    format!("veth{}", &hex::encode(h)[..7])
}

#[cfg(test)]
mod tests {
    #[test]
    fn name_shape() {
        let n = super::host_veth_name("abc");
        assert_eq!(n.len(), 11);
        assert!(n.starts_with("veth") && n[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(n, super::host_veth_name("abc"));
    }
}
