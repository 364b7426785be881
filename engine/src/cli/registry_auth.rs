//! Credentials in `~/.berth/config.json`, in Docker's format (`{"auths":{"<server>":{"auth":
//! base64("user:pass")}}}`), like `~/.docker/config.json` without a credential helper.
//! `$BERTH_CONFIG` names the directory (as `$DOCKER_CONFIG`); other keys are kept as they are;
//! the file is written to a temp file with mode 0600 and renamed into place.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use base64::Engine as _;
use berth_registry::AuthConfig;
use serde_json::{json, Map, Value};

/// Docker Hub's key in `auths` (the CLI's `IndexServer`).
pub const HUB_KEY: &str = "https://index.docker.io/v1/";

pub fn config_dir() -> PathBuf {
    match std::env::var_os("BERTH_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".berth"),
    }
}

pub fn config_file() -> PathBuf {
    config_dir().join("config.json")
}

/// The `auths` key for a registry host or server address (`docker.io` → Hub's key;
/// `http://reg:5000/` → `reg:5000`).
pub fn server_key(server: &str) -> String {
    let host = crate::daemon::distribution::login::registry_host(server);
    if host == "docker.io" {
        HUB_KEY.into()
    } else {
        host
    }
}

fn load() -> Result<Map<String, Value>, String> {
    let path = config_file();
    match std::fs::read(&path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(b) => match serde_json::from_slice::<Value>(&b) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(format!("{}: not a JSON object", path.display())),
            Err(e) => Err(format!("loading config file: {}: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(format!("loading config file: {}: {e}", path.display())),
    }
}

fn save(cfg: &Map<String, Value>) -> Result<(), String> {
    let dir = config_dir();
    let path = config_file();
    let fail = |e: std::io::Error| format!("saving credentials to {}: {e}", path.display());
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(cfg).expect("json"))?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// Stores `user:password` for `key`.
pub fn store(key: &str, username: &str, password: &str) -> Result<(), String> {
    let mut cfg = load()?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let auths = cfg.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    auths[key] = json!({ "auth": auth });
    save(&cfg)
}

/// Removes every entry among `keys`; false when none was there.
pub fn remove(keys: &[String]) -> Result<bool, String> {
    let mut cfg = load()?;
    let Some(auths) = cfg.get_mut("auths").and_then(Value::as_object_mut) else { return Ok(false) };
    let mut found = false;
    for k in keys {
        found |= auths.remove(k).is_some();
    }
    if found {
        save(&cfg)?;
    }
    Ok(found)
}

/// The stored credentials for a registry host (`docker.io`, `reg:5000`), tried under the keys
/// Docker's CLI uses (plain host, with scheme, Hub's URL).
pub fn lookup(registry: &str) -> Option<AuthConfig> {
    let cfg = load().ok()?;
    let auths = cfg.get("auths")?.as_object()?;
    let key = server_key(registry);
    let candidates = [key.clone(), format!("https://{key}"), format!("http://{key}")];
    let entry = candidates.iter().find_map(|k| auths.get(k))?;
    let mut a: AuthConfig = serde_json::from_value(entry.clone()).ok()?;
    a.serveraddress = key;
    Some(a)
}

/// `X-Registry-Auth` for a registry: its stored credentials, or `{}` (anonymous).
pub fn header_for(registry: &str) -> String {
    let mut a = lookup(registry).unwrap_or_default();
    if let Ok(berth_registry::Credentials::Basic { username, password }) = a.credentials() {
        a.username = username;
        a.password = password;
        a.auth.clear();
    }
    a.to_x_registry_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(server_key("docker.io"), HUB_KEY);
        assert_eq!(server_key(HUB_KEY), HUB_KEY);
        assert_eq!(server_key("http://127.0.0.1:5000/"), "127.0.0.1:5000");
    }
}
