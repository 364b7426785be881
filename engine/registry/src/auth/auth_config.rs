//! Docker's `AuthConfig`: the `X-Registry-Auth` header (base64url JSON), the `POST /auth` body,
//! and the shape of a `config.json` `auths` entry. Turned into [`Credentials`] for the client.

use super::Credentials;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// base64("user:pass"), as stored in config.json.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthConfigError {
    #[error("invalid X-Registry-Auth header: {0}")]
    Header(String),
    #[error("invalid auth field: {0}")]
    Auth(String),
}

impl AuthConfig {
    /// Decodes `X-Registry-Auth` (base64url with or without padding; standard base64 is
    /// accepted too, older clients sent it). An empty header means anonymous.
    pub fn from_x_registry_auth(header: &str) -> Result<AuthConfig, AuthConfigError> {
        let h = header.trim();
        if h.is_empty() {
            return Ok(AuthConfig::default());
        }
        let unpadded = h.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(unpadded)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(unpadded))
            .map_err(|e| AuthConfigError::Header(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| AuthConfigError::Header(e.to_string()))
    }

    /// The header value for this config (what the CLI sends).
    pub fn to_x_registry_auth(&self) -> String {
        base64::engine::general_purpose::URL_SAFE
            .encode(serde_json::to_vec(self).expect("serialises"))
    }

    /// Which credentials to use: a registry token, an identity (refresh) token, an explicit
    /// username/password, the `auth` pair, or nothing.
    pub fn credentials(&self) -> Result<Credentials, AuthConfigError> {
        if !self.registrytoken.is_empty() {
            return Ok(Credentials::RegistryToken(self.registrytoken.clone()));
        }
        let (mut user, mut pass) = (self.username.clone(), self.password.clone());
        if user.is_empty() && !self.auth.is_empty() {
            let dec = base64::engine::general_purpose::STANDARD
                .decode(self.auth.trim())
                .map_err(|e| AuthConfigError::Auth(e.to_string()))?;
            let dec = String::from_utf8(dec).map_err(|e| AuthConfigError::Auth(e.to_string()))?;
            let (u, p) = dec
                .split_once(':')
                .ok_or_else(|| AuthConfigError::Auth("expected base64(user:password)".into()))?;
            user = u.to_string();
            pass = p.to_string();
        }
        if !self.identitytoken.is_empty() {
            return Ok(Credentials::IdentityToken {
                username: user,
                token: self.identitytoken.clone(),
            });
        }
        if user.is_empty() {
            return Ok(Credentials::Anonymous);
        }
        Ok(Credentials::Basic {
            username: user,
            password: pass,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_headers() {
        assert_eq!(
            AuthConfig::from_x_registry_auth("e30=")
                .unwrap()
                .credentials()
                .unwrap(),
            Credentials::Anonymous
        );
        // docker-internals §5.6, verbatim
        let h = "eyJ1c2VybmFtZSI6InN0dWRlbnQiLCJwYXNzd29yZCI6InB3Iiwic2VydmVyYWRkcmVzcyI6IjEyNy4wLjAuMTo1MDU1In0=";
        let a = AuthConfig::from_x_registry_auth(h).unwrap();
        assert_eq!(a.serveraddress, "127.0.0.1:5055");
        assert_eq!(
            a.credentials().unwrap(),
            Credentials::basic("student", "pw")
        );
        assert_eq!(
            AuthConfig::from_x_registry_auth(&a.to_x_registry_auth()).unwrap(),
            a
        );
        assert!(AuthConfig::from_x_registry_auth("!!!").is_err());
    }

    #[test]
    fn config_json_entries() {
        let a: AuthConfig = serde_json::from_str(r#"{"auth":"YWxpY2U6czNjcmV0"}"#).unwrap();
        assert_eq!(
            a.credentials().unwrap(),
            Credentials::basic("alice", "s3cret")
        );
        let a: AuthConfig =
            serde_json::from_str(r#"{"auth":"YWxpY2U6","identitytoken":"rt-for-alice"}"#).unwrap();
        assert_eq!(
            a.credentials().unwrap(),
            Credentials::IdentityToken {
                username: "alice".into(),
                token: "rt-for-alice".into()
            }
        );
        let a: AuthConfig = serde_json::from_str(r#"{"registrytoken":"t"}"#).unwrap();
        assert_eq!(
            a.credentials().unwrap(),
            Credentials::RegistryToken("t".into())
        );
    }
}
