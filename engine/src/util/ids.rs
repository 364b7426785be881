//! Docker's `stringid`: 64-hex random IDs whose 12-char prefix is never all digits.

use rand::RngCore;

/// A new random ID, regenerated while its short form would parse as an integer (an
/// all-digit short ID would be taken for a number by hostname and CLI parsing).
pub fn generate_id() -> String {
    let mut rng = rand::thread_rng();
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let id = hex_encode(&bytes);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// First 12 characters of an ID (without any `sha256:` prefix).
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `s` looks like a (possibly truncated) hex ID.
pub fn is_hex_prefix(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_short_prefix_not_numeric() {
        for _ in 0..200 {
            let id = generate_id();
            assert_eq!(id.len(), 64);
            assert!(is_hex_prefix(&id));
            assert!(!short_id(&id).bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
