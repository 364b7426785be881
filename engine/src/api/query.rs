//! Query strings: `a=1&b=x%2Fy` → map; Docker's boolean convention (`1`, `true`).

use std::collections::HashMap;

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Default, Clone)]
pub struct Query(pub HashMap<String, Vec<String>>);

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        let mut m = HashMap::new();
        for part in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            m.entry(percent_decode(k)).or_insert_with(Vec::new).push(percent_decode(v));
        }
        Query(m)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(|v| v.last()).map(String::as_str)
    }

    /// Every value of a repeated parameter (`names=a&names=b`).
    pub fn all(&self, k: &str) -> Vec<String> {
        self.0.get(k).cloned().unwrap_or_default()
    }

    /// Docker's `httputils.BoolValue`: anything but "", "0", "no", "false", "none" is true.
    pub fn bool(&self, k: &str) -> bool {
        match self.get(k) {
            None => false,
            Some(v) => !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "no" | "false" | "none"),
        }
    }

    pub fn int(&self, k: &str) -> Option<i64> {
        self.get(k).and_then(|v| v.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse(Some("repo=docker.io%2Flibrary%2Fbb&tag=l2&force=1&v=0&filters=%7B%22a%22%3A1%7D"));
        assert_eq!(q.get("repo"), Some("docker.io/library/bb"));
        assert!(q.bool("force"));
        assert!(!q.bool("v"));
        assert_eq!(q.get("filters"), Some("{\"a\":1}"));
    }
}
