//! `WWW-Authenticate` challenges: `scheme SP param="quoted", param=token, ...`.
//!
//! Quoted strings must be parsed properly: a Bearer `scope` holds `:` and `,`
//! (`scope="repository:teach/bb:pull,push"`), so splitting on commas is wrong.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."` (htpasswd registries).
    Basic { realm: String },
    /// `Bearer realm=...,service=...,scope=...,error=...` (token servers: Docker Hub, Harbor).
    Bearer {
        realm: String,
        service: Option<String>,
        /// Space-separated in the header; one entry per resource scope.
        scopes: Vec<String>,
        /// `insufficient_scope`, `invalid_token`, ...
        error: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid WWW-Authenticate header {header:?}: {reason}")]
pub struct ChallengeError {
    pub header: String,
    pub reason: String,
}

/// Parses one header value. Unknown schemes are an error (the caller reports it).
pub fn parse(header: &str) -> Result<Challenge, ChallengeError> {
    let err = |reason: &str| ChallengeError {
        header: header.to_string(),
        reason: reason.to_string(),
    };
    let header_trim = header.trim();
    let (scheme, rest) = match header_trim.find(char::is_whitespace) {
        Some(i) => (&header_trim[..i], header_trim[i..].trim_start()),
        None => (header_trim, ""),
    };
    let params = parse_params(rest).map_err(|r| err(&r))?;
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Ok(Challenge::Basic {
            realm: params.get("realm").cloned().unwrap_or_default(),
        }),
        "bearer" => {
            let realm = params
                .get("realm")
                .cloned()
                .ok_or_else(|| err("Bearer challenge without realm"))?;
            Ok(Challenge::Bearer {
                realm,
                service: params.get("service").cloned(),
                scopes: params
                    .get("scope")
                    .map(|s| {
                        s.split(' ')
                            .filter(|x| !x.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                error: params.get("error").cloned(),
            })
        }
        "" => Err(err("empty header")),
        other => Err(err(&format!("unsupported scheme {other:?}"))),
    }
}

/// `k=v` / `k="quoted \" value"` pairs separated by commas. Keys are case-insensitive.
fn parse_params(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(format!("parameter {key:?} has no value"));
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = Vec::new();
            loop {
                match b.get(i) {
                    None => return Err(format!("unterminated quoted value for {key:?}")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < b.len() => {
                        v.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        v.push(c);
                        i += 1;
                    }
                }
            }
            String::from_utf8(v).map_err(|_| "value is not UTF-8".to_string())?
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            s[vs..i].to_string()
        };
        out.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        assert_eq!(
            parse(r#"Basic realm="basic-realm""#).unwrap(),
            Challenge::Basic {
                realm: "basic-realm".into()
            }
        );
        assert_eq!(
            parse("basic").unwrap(),
            Challenge::Basic {
                realm: String::new()
            }
        );
    }

    #[test]
    fn bearer_with_commas_in_scope_and_error() {
        let c = parse(r#"Bearer realm="http://127.0.0.1:5005/token",service="teach-registry",scope="repository:teach/bb:push,pull",error="insufficient_scope""#).unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:5005/token".into(),
                service: Some("teach-registry".into()),
                scopes: vec!["repository:teach/bb:push,pull".into()],
                error: Some("insufficient_scope".into()),
            }
        );
    }

    #[test]
    fn bearer_space_separated_scopes_and_tokens() {
        let c = parse(r#"BEARER realm=https://auth.example/token, service=reg, scope="repository:a:pull repository:b:pull""#).unwrap();
        match c {
            Challenge::Bearer {
                realm,
                service,
                scopes,
                error,
            } => {
                assert_eq!(realm, "https://auth.example/token");
                assert_eq!(service.as_deref(), Some("reg"));
                assert_eq!(scopes, vec!["repository:a:pull", "repository:b:pull"]);
                assert_eq!(error, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(r#"Bearer service="x""#).is_err());
        assert!(parse(r#"Bearer realm="unterminated"#).is_err());
        assert!(parse("Negotiate abc").is_err());
    }
}
