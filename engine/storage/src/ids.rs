//! Random identifiers: 64-hex cache/mount IDs (`stringid.GenerateRandomID`) and 26-char base32
//! overlay short links (`overlayutils.GenerateID(26)`).

use rand::RngCore;

/// 32 random bytes as 64 hex chars; re-rolled while the 12-char prefix is all digits (Docker does this
/// because an all-digit short ID would make an invalid hostname).
pub fn random_id() -> String {
    loop {
        let mut b = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut b);
        let id = hex::encode(b);
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 (no padding needed: we only take a prefix).
pub fn base32(data: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((acc >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The overlay2 short link name: 17 random bytes, base32, first 26 characters.
pub fn link_id() -> String {
    let mut b = [0u8; 17];
    rand::thread_rng().fill_bytes(&mut b);
    base32(&b)[..26].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn link_and_random_ids_have_docker_shape() {
        let l = link_id();
        assert_eq!(l.len(), 26);
        assert!(l.bytes().all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
        let r = random_id();
        assert_eq!(r.len(), 64);
        assert!(crate::digest::is_hex64(&r));
    }
}
