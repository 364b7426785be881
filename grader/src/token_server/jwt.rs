//! Registry tokens: JWTs signed RS256 with the token service's private key, the signing
//! certificate in the `x5c` header. docker-registry (`auth.token.rootcertbundle`) checks that
//! the certificate chains to its bundle, the signature, `iss`, `aud`, `exp`/`nbf`, and reads
//! the granted `access`.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{0}: no PEM block {1:?} (make it with `openssl req -x509 -newkey rsa:2048 -nodes …`)"
    )]
    NoPem(String, &'static str),
    #[error("{0}: not an RSA private key in PKCS#8 ({1})")]
    Key(String, String),
    #[error("signing failed")]
    Sign,
}

/// The DER bytes of the first `-----BEGIN <label>-----` block.
pub fn pem(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text.split_once(&begin)?.1.split_once(&end)?.0;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

pub fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub struct Signer {
    key: RsaKeyPair,
    x5c: String,
    rng: SystemRandom,
}

fn read(p: &Path) -> Result<String, JwtError> {
    std::fs::read_to_string(p).map_err(|source| JwtError::Io {
        path: p.display().to_string(),
        source,
    })
}

impl Signer {
    /// `key`: PKCS#8 PEM (`BEGIN PRIVATE KEY`, what `openssl req -nodes` writes); `cert`: the
    /// PEM certificate the registry trusts.
    pub fn load(key: &Path, cert: &Path) -> Result<Signer, JwtError> {
        let k = pem(&read(key)?, "PRIVATE KEY")
            .ok_or_else(|| JwtError::NoPem(key.display().to_string(), "PRIVATE KEY"))?;
        let c = pem(&read(cert)?, "CERTIFICATE")
            .ok_or_else(|| JwtError::NoPem(cert.display().to_string(), "CERTIFICATE"))?;
        let key_pair = RsaKeyPair::from_pkcs8(&k)
            .map_err(|e| JwtError::Key(key.display().to_string(), e.to_string()))?;
        Ok(Signer {
            key: key_pair,
            x5c: base64::engine::general_purpose::STANDARD.encode(c),
            rng: SystemRandom::new(),
        })
    }

    /// `header.claims.signature`, each base64url.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, JwtError> {
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, input.as_bytes(), &mut sig)
            .map_err(|_| JwtError::Sign)?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    #[cfg(test)]
    fn public_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_rs256_with_the_certificate_in_x5c() {
        let t = tempfile::tempdir().unwrap();
        let (key, cert) = (t.path().join("k.pem"), t.path().join("c.pem"));
        let st = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=t", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        let s = Signer::load(&key, &cert).unwrap();
        let jwt = s.sign(&serde_json::json!({"iss": "x"})).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |p: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap()
        };
        let header: serde_json::Value = serde_json::from_slice(&dec(parts[0])).unwrap();
        assert_eq!(header["alg"], "RS256");
        let der = pem(&std::fs::read_to_string(&cert).unwrap(), "CERTIFICATE").unwrap();
        assert_eq!(
            header["x5c"][0],
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        let pk = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            s.public_der(),
        );
        let input = format!("{}.{}", parts[0], parts[1]);
        pk.verify(input.as_bytes(), &dec(parts[2])).unwrap();
        let mut bad = dec(parts[2]);
        bad[0] ^= 1;
        assert!(pk.verify(input.as_bytes(), &bad).is_err());
        assert!(matches!(
            Signer::load(&cert, &cert),
            Err(JwtError::NoPem(_, "PRIVATE KEY"))
        ));
    }
}
