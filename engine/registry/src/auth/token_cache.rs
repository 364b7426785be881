//! Bearer tokens cached per (registry, account, scope set) until shortly before they expire.
//!
//! A token is only good for the scopes it was issued for, and different accounts get different
//! tokens, so all three are part of the key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens are dropped this long before their announced expiry, so a request never races it.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    pub registry: String,
    pub account: String,
    /// Sorted, space-joined scopes.
    pub scope: String,
}

impl TokenKey {
    pub fn new(registry: &str, account: &str, scopes: &[String]) -> Self {
        let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
        s.sort_unstable();
        s.dedup();
        TokenKey {
            registry: registry.into(),
            account: account.into(),
            scope: s.join(" "),
        }
    }
}

#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<TokenKey, (String, Instant)>>,
}

impl TokenCache {
    pub fn get(&self, key: &TokenKey) -> Option<String> {
        let mut map = self.map.lock().unwrap();
        match map.get(key) {
            Some((tok, exp)) if Instant::now() + EXPIRY_MARGIN < *exp => Some(tok.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: TokenKey, token: String, ttl: Duration) {
        self.map
            .lock()
            .unwrap()
            .insert(key, (token, Instant::now() + ttl));
    }

    /// Called when the registry rejected a cached token (revoked, clock skew).
    pub fn invalidate(&self, key: &TokenKey) {
        self.map.lock().unwrap().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ignores_scope_order() {
        let a = TokenKey::new("r", "u", &["b".into(), "a".into()]);
        let b = TokenKey::new("r", "u", &["a".into(), "b".into(), "a".into()]);
        assert_eq!(a, b);
    }

    #[test]
    fn expiry_and_invalidate() {
        let c = TokenCache::default();
        let k = TokenKey::new("r", "", &["s".into()]);
        c.insert(k.clone(), "t".into(), Duration::from_secs(2)); // inside the margin: already stale
        assert_eq!(c.get(&k), None);
        c.insert(k.clone(), "t".into(), Duration::from_secs(300));
        assert_eq!(c.get(&k).as_deref(), Some("t"));
        c.invalidate(&k);
        assert_eq!(c.get(&k), None);
    }
}
