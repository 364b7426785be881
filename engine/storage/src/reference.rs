//! Image references `[registry[:port]/]name[:tag][@digest]`, parsed and normalised with the rules
//! and error texts of `github.com/docker/distribution/reference` (`ParseNormalizedNamed`).
//!
//! A [`Reference`] is always fully qualified inside (`docker.io/library/busybox`); `familiar_*`
//! give Docker's short forms (`busybox`, `user/app`, `127.0.0.1:5000/x`) used in
//! `repositories.json`, `docker images` and messages.

use crate::error::{Result, StorageError};
use std::fmt;

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry `host[:port]`, e.g. `docker.io`, `127.0.0.1:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:…` manifest digest.
    pub digest: Option<String>,
}

fn err(msg: &str) -> StorageError {
    StorageError::InvalidReference(msg.to_string())
}

impl Reference {
    /// Docker's `ParseNormalizedNamed`: `busybox` → `docker.io/library/busybox` (no tag added).
    pub fn parse_normalized(s: &str) -> Result<Reference> {
        if crate::digest::is_hex64(s) {
            return Err(err(&format!("invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => &remainder[..],
        };
        if remote.to_lowercase() != remote {
            return Err(err(&format!("invalid reference format: repository name ({remote}) must be lowercase")));
        }
        let r = parse(&format!("{domain}/{remainder}"))?;
        Ok(r)
    }

    /// `ParseNormalizedNamed` + `TagNameOnly`: adds `:latest` when there is neither tag nor digest.
    pub fn parse_normalized_tagged(s: &str) -> Result<Reference> {
        Ok(Reference::parse_normalized(s)?.with_default_tag())
    }

    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// Full name without tag/digest: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Docker's `FamiliarName`: `busybox`, `user/app`, `127.0.0.1:5000/teach/bb`.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            if let Some(rest) = self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                if !rest.contains('/') {
                    return rest.to_string();
                }
            }
            return self.path.clone();
        }
        self.name()
    }

    /// `FamiliarString`: familiar name plus `:tag` and/or `@digest`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// Name-only (no tag/digest) copy.
    pub fn repository(&self) -> Reference {
        Reference { domain: self.domain.clone(), path: self.path.clone(), tag: None, digest: None }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder);
    match name.find('/') {
        Some(i) if name[..i].contains(['.', ':']) || &name[..i] == "localhost" => {
            domain = name[..i].to_string();
            remainder = name[i + 1..].to_string();
        }
        _ => {
            domain = DEFAULT_DOMAIN.to_string();
            remainder = name.to_string();
        }
    }
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Docker's `reference.Parse` (strict grammar, no normalisation).
pub fn parse(s: &str) -> Result<Reference> {
    match parse_grammar(s) {
        Some(r) => {
            if r.name().len() > NAME_TOTAL_LENGTH_MAX {
                return Err(err("repository name must not be more than 255 characters"));
            }
            if let Some(d) = &r.digest {
                validate_digest(d)?;
            }
            Ok(r)
        }
        None => {
            if s.is_empty() {
                return Err(err("repository name must have at least one component"));
            }
            if parse_grammar(&s.to_lowercase()).is_some() {
                return Err(err("repository name must be lowercase"));
            }
            Err(err("invalid reference format"))
        }
    }
}

fn validate_digest(d: &str) -> Result<()> {
    let (alg, hex) = d.split_once(':').ok_or_else(|| err("invalid checksum digest format"))?;
    if alg != "sha256" {
        return Err(err("unsupported digest algorithm"));
    }
    if hex.len() != 64 {
        return Err(err("invalid checksum digest length"));
    }
    Ok(())
}

fn parse_grammar(s: &str) -> Option<Reference> {
    let (name_tag, digest) = match s.split_once('@') {
        Some((a, d)) => {
            if !is_digest(d) {
                return None;
            }
            (a, Some(d.to_string()))
        }
        None => (s, None),
    };
    let last_slash = name_tag.rfind('/').map(|i| i as isize).unwrap_or(-1);
    let (name, tag) = match name_tag.rfind(':') {
        Some(i) if i as isize > last_slash => {
            let t = &name_tag[i + 1..];
            if !is_tag(t) {
                return None;
            }
            (&name_tag[..i], Some(t.to_string()))
        }
        _ => (name_tag, None),
    };
    let comps: Vec<&str> = name.split('/').collect();
    if comps.is_empty() {
        return None;
    }
    // The grammar's optional domain comes first and is tried greedily.
    if comps.len() > 1 && is_domain(comps[0]) && comps[1..].iter().all(|c| is_path_component(c)) {
        return Some(Reference { domain: comps[0].to_string(), path: comps[1..].join("/"), tag, digest });
    }
    if comps.iter().all(|c| is_path_component(c)) {
        // No domain: Parse leaves it empty; callers of parse() on normalised input always have one.
        return Some(Reference { domain: String::new(), path: name.to_string(), tag, digest });
    }
    None
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run between alnums
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `domain-component(\.domain-component)*(:[0-9]+)?`
fn is_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let w = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty() && b.len() <= 128 && w(b[0]) && b.iter().all(|&x| w(x) || x == b'.' || x == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
fn is_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else { return false };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|p| {
        let b = p.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Docker's `ParseAnyReference` outcome for image lookups.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyReference {
    /// A full image ID (`sha256:<hex>` or bare 64 hex).
    Id(crate::digest::Digest),
    /// A named reference, tag defaulted to `latest`.
    Named(Reference),
}

pub fn parse_any(s: &str) -> Result<AnyReference> {
    if crate::digest::is_hex64(s) {
        return Ok(AnyReference::Id(crate::digest::Digest::from_hex(s)?));
    }
    if let Some(h) = s.strip_prefix("sha256:") {
        if crate::digest::is_hex64(h) {
            return Ok(AnyReference::Id(crate::digest::Digest::from_hex(h)?));
        }
    }
    Ok(AnyReference::Named(Reference::parse_normalized_tagged(s)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap()
    }

    #[test]
    fn normalisation() {
        assert_eq!(n("busybox").to_string(), "docker.io/library/busybox");
        assert_eq!(n("busybox").familiar_name(), "busybox");
        assert_eq!(n("docker.io/library/bb:l2").familiar_string(), "bb:l2");
        assert_eq!(n("index.docker.io/user/app").familiar_name(), "user/app");
        assert_eq!(n("user/app:v1").to_string(), "docker.io/user/app:v1");
        let r = n("127.0.0.1:5002/teach/bb:v1");
        assert_eq!(r.domain, "127.0.0.1:5002");
        assert_eq!(r.familiar_string(), "127.0.0.1:5002/teach/bb:v1");
        assert_eq!(n("localhost/x").domain, "localhost");
        assert_eq!(n("localhost:5000/x").domain, "localhost:5000");
        assert_eq!(n("foo/bar").domain, "docker.io");
        assert_eq!(Reference::parse_normalized_tagged("bb").unwrap().familiar_string(), "bb:latest");
        let d = format!("bb@sha256:{}", "a".repeat(64));
        let r = n(&d);
        assert_eq!(r.tag, None);
        assert_eq!(r.familiar_string(), d);
        assert_eq!(n("a.b-c__d--e/f_g.h:V1.0-x").path, "a.b-c__d--e/f_g.h");
    }

    #[test]
    fn docker_error_texts() {
        let e = |s: &str| Reference::parse_normalized(s).unwrap_err().to_string();
        assert_eq!(e("BB"), "invalid reference format: repository name (library/BB) must be lowercase");
        assert_eq!(e(""), "invalid reference format");
        assert_eq!(e("a b"), "invalid reference format");
        assert_eq!(e("bb:"), "invalid reference format");
        assert_eq!(e("bb:-x"), "invalid reference format");
        assert_eq!(e("-bb"), "invalid reference format");
        assert_eq!(e("bb!"), "invalid reference format");
        assert_eq!(e("a//b"), "invalid reference format");
        assert_eq!(e("a___b"), "invalid reference format");
        assert_eq!(
            e(&"a".repeat(64)),
            format!("invalid repository name ({}), cannot specify 64-byte hexadecimal strings", "a".repeat(64))
        );
        assert_eq!(e(&"a".repeat(300)), "repository name must not be more than 255 characters");
        assert_eq!(e(&format!("bb@sha256:{}", "a".repeat(40))), "invalid checksum digest length");
        assert_eq!(e(&format!("bb@md5:{}", "a".repeat(40))), "unsupported digest algorithm");
        assert_eq!(e(&format!("bb:{}", "t".repeat(129))), "invalid reference format");
    }

    #[test]
    fn any_reference() {
        let h = "5".repeat(64);
        assert!(matches!(parse_any(&h).unwrap(), AnyReference::Id(_)));
        assert!(matches!(parse_any(&format!("sha256:{h}")).unwrap(), AnyReference::Id(_)));
        match parse_any("53fe571a").unwrap() {
            AnyReference::Named(r) => assert_eq!(r.familiar_string(), "53fe571a:latest"),
            _ => panic!(),
        }
    }
}
