//! `docker login` (`POST /auth`): check credentials against the registry's `/v2/` (and its
//! token server). Nothing is stored by the daemon; the CLI keeps credentials.

use berth_registry::{AuthConfig, LoginOutcome};

use super::{registry_client, DistributionError};
use crate::daemon::config::DaemonConfig;

/// `serveraddress` as the CLI sends it (`https://index.docker.io/v1/`, `http://reg:5000`,
/// `reg:5000/`) → the registry host (`docker.io`, `reg:5000`).
pub fn registry_host(server: &str) -> String {
    let s = server.trim();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

pub async fn login(cfg: &DaemonConfig, auth: &AuthConfig) -> Result<LoginOutcome, DistributionError> {
    let creds = auth.credentials().map_err(|e| DistributionError::Invalid(e.to_string()))?;
    let client = registry_client(cfg)?;
    Ok(client.login(&registry_host(&auth.serveraddress), &creds).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_addresses() {
        use super::registry_host as h;
        assert_eq!(h("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(h(""), "docker.io");
        assert_eq!(h("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(h("reg.lab:5000/"), "reg.lab:5000");
        assert_eq!(h("https://reg.lab/v2/"), "reg.lab");
    }
}
