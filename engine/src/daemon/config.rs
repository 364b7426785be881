//! berthd configuration: dockerd's flags plus `daemon.json`, with dockerd's error texts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";
pub const DEFAULT_HOST: &str = "unix:///run/berth.sock";

/// Keys `daemon.json` may contain (a subset of dockerd's, the ones berth implements).
const KNOWN_KEYS: &[&str] = &[
    "hosts",
    "registry-mirrors",
    "insecure-registries",
    "bip",
    "mtu",
    "storage-driver",
    "default-runtime",
    "live-restore",
    "log-level",
    "data-root",
    "exec-root",
    "pidfile",
    "cgroup-parent",
    "init",
    "init-path",
    "firewall-backend",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unable to configure the berth daemon with file {file}: {reason}")]
    File { file: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Values from the command line; `None` = not given (so the file may set it).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub hosts: Vec<String>,
    pub config_file: Option<PathBuf>,
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub storage_driver: Option<String>,
    pub default_runtime: Option<String>,
    pub log_level: Option<String>,
    pub cgroup_parent: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    hosts: Option<Vec<String>>,
    registry_mirrors: Option<Vec<String>>,
    insecure_registries: Option<Vec<String>>,
    bip: Option<String>,
    mtu: Option<u32>,
    storage_driver: Option<String>,
    default_runtime: Option<String>,
    live_restore: Option<bool>,
    log_level: Option<String>,
    data_root: Option<PathBuf>,
    exec_root: Option<PathBuf>,
    pidfile: Option<PathBuf>,
    cgroup_parent: Option<String>,
    init: Option<bool>,
    init_path: Option<PathBuf>,
    firewall_backend: Option<String>,
}

/// The effective daemon configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DaemonConfig {
    pub hosts: Vec<String>,
    pub config_file: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub pidfile: PathBuf,
    pub registry_mirrors: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub bip: Option<String>,
    pub mtu: u32,
    pub storage_driver: String,
    pub default_runtime: String,
    pub live_restore: bool,
    pub log_level: String,
    /// Parent of every container's cgroup (dockerd's `--cgroup-parent`), e.g. `/berth`.
    pub cgroup_parent: String,
    /// `init`: run every container with `--init` unless it says otherwise.
    pub init: bool,
    /// `init-path`: the init binary (default: `docker-init` in PATH, else tini-static).
    pub init_path: Option<PathBuf>,
    /// `firewall-backend` (Docker 28's key): `nftables` or `iptables`; None = nft when installed.
    pub firewall_backend: Option<String>,
}

impl DaemonConfig {
    /// Merge flags with the config file. A missing file is fine only when it is the default path.
    pub fn load(flags: &Flags) -> Result<Self, ConfigError> {
        let explicit = flags.config_file.is_some();
        let config_file = flags.config_file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        let file = match std::fs::read_to_string(&config_file) {
            Ok(text) => parse_file(&config_file, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => FileConfig::default(),
            Err(e) => {
                return Err(ConfigError::File { file: config_file.display().to_string(), reason: e.to_string() })
            }
        };
        check_conflicts(&config_file, flags, &file)?;
        let hosts = if !flags.hosts.is_empty() {
            flags.hosts.clone()
        } else {
            file.hosts.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| vec![DEFAULT_HOST.to_string()])
        };
        for h in &hosts {
            parse_host(h)?;
        }
        let exec_root = flags.exec_root.clone().or(file.exec_root).unwrap_or_else(|| DEFAULT_EXEC_ROOT.into());
        let default_runtime = flags.default_runtime.clone().or(file.default_runtime).unwrap_or_else(|| "runc".into());
        if default_runtime != "runc" && default_runtime != "berth" {
            return Err(ConfigError::Invalid(format!(
                "default-runtime: unknown runtime \"{default_runtime}\" (supported: runc, berth)"
            )));
        }
        if let Some(b) = file.firewall_backend.as_deref() {
            if berth_net::firewall::Backend::parse(b).is_none() {
                return Err(ConfigError::Invalid(format!("invalid firewall-backend \"{b}\": must be \"iptables\" or \"nftables\"")));
            }
        }
        let log_level = flags.log_level.clone().or(file.log_level).unwrap_or_else(|| "info".into());
        if !["debug", "info", "warn", "error", "fatal"].contains(&log_level.as_str()) {
            return Err(ConfigError::Invalid(format!("log-level: unable to parse logging level: {log_level}")));
        }
        Ok(DaemonConfig {
            hosts,
            config_file,
            data_root: flags.data_root.clone().or(file.data_root).unwrap_or_else(|| DEFAULT_DATA_ROOT.into()),
            pidfile: flags.pidfile.clone().or(file.pidfile).unwrap_or_else(|| exec_root.join("berthd.pid")),
            exec_root,
            registry_mirrors: file.registry_mirrors.unwrap_or_default(),
            insecure_registries: file.insecure_registries.unwrap_or_default(),
            bip: file.bip,
            mtu: file.mtu.unwrap_or(1500),
            storage_driver: flags.storage_driver.clone().or(file.storage_driver).unwrap_or_default(),
            default_runtime,
            live_restore: file.live_restore.unwrap_or(false),
            log_level,
            cgroup_parent: flags.cgroup_parent.clone().or(file.cgroup_parent).unwrap_or_else(|| "/berth".into()),
            init: file.init.unwrap_or(false),
            init_path: file.init_path,
            firewall_backend: file.firewall_backend,
        })
    }
}

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let err = |reason: String| ConfigError::File { file: path.display().to_string(), reason };
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| err(format!("{} (line {}, column {})", json_reason(&e), e.line(), e.column())))?;
    let obj = value.as_object().ok_or_else(|| err("the configuration must be a JSON object".into()))?;
    let unknown: Vec<String> = obj
        .keys()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .map(|k| match position_of_key(text, k) {
            Some((l, c)) => format!("{k} (line {l}, column {c})"),
            None => k.clone(),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(err(format!(
            "the following directives don't match any configuration option: {}",
            unknown.join(", ")
        )));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        err(format!("invalid value for \"{key}\": {} (line {}, column {})", json_reason(&inner), inner.line(), inner.column()))
    })
}

/// serde_json's message without its own " at line N column M" suffix.
fn json_reason(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn position_of_key(text: &str, key: &str) -> Option<(usize, usize)> {
    let needle = format!("\"{key}\"");
    let off = text.find(&needle)?;
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let col = off - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    Some((line, col))
}

fn check_conflicts(path: &Path, flags: &Flags, file: &FileConfig) -> Result<(), ConfigError> {
    let mut conflicts = Vec::new();
    if !flags.hosts.is_empty() {
        if let Some(h) = &file.hosts {
            conflicts.push(format!("hosts: (from flag: [{}], from file: [{}])", flags.hosts.join(" "), h.join(" ")));
        }
    }
    let mut pair = |name: &str, flag: Option<String>, f: Option<String>| {
        if let (Some(a), Some(b)) = (flag, f) {
            conflicts.push(format!("{name}: (from flag: {a}, from file: {b})"));
        }
    };
    let p = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    pair("data-root", p(&flags.data_root), p(&file.data_root));
    pair("exec-root", p(&flags.exec_root), p(&file.exec_root));
    pair("pidfile", p(&flags.pidfile), p(&file.pidfile));
    pair("storage-driver", flags.storage_driver.clone(), file.storage_driver.clone());
    pair("default-runtime", flags.default_runtime.clone(), file.default_runtime.clone());
    pair("log-level", flags.log_level.clone(), file.log_level.clone());
    pair("cgroup-parent", flags.cgroup_parent.clone(), file.cgroup_parent.clone());
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(ConfigError::File {
        file: path.display().to_string(),
        reason: format!(
            "the following directives are specified both as a flag and in the configuration file: {}",
            conflicts.join(", ")
        ),
    })
}

/// A listen address from `-H` / `hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Unix(PathBuf),
    Tcp(String),
}

pub fn parse_host(h: &str) -> Result<ListenAddr, ConfigError> {
    if let Some(p) = h.strip_prefix("unix://") {
        let p = if p.is_empty() { "/run/berth.sock" } else { p };
        return Ok(ListenAddr::Unix(p.into()));
    }
    if let Some(a) = h.strip_prefix("tcp://") {
        let a = a.trim_end_matches('/');
        let a = if a.starts_with(':') { format!("0.0.0.0{a}") } else { a.to_string() };
        let a = if a.contains(':') { a } else { format!("{a}:2375") };
        return Ok(ListenAddr::Tcp(a));
    }
    if h.starts_with('/') {
        return Ok(ListenAddr::Unix(h.into()));
    }
    Err(ConfigError::Invalid(format!("invalid bind address format: {h}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(text: &str, flags: Flags) -> Result<DaemonConfig, ConfigError> {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("daemon.json");
        std::fs::write(&f, text).unwrap();
        DaemonConfig::load(&Flags { config_file: Some(f), ..flags })
    }

    #[test]
    fn course_keys_parse() {
        let c = load_with(
            r#"{"hosts":["unix:///tmp/x.sock","tcp://0.0.0.0:2375"],"registry-mirrors":["http://10.1.1.1:5000"],
                "insecure-registries":["10.1.1.1:5000"],"bip":"172.18.0.1/16","mtu":1450,"live-restore":true}"#,
            Flags::default(),
        )
        .unwrap();
        assert_eq!(c.hosts.len(), 2);
        assert_eq!(c.mtu, 1450);
        assert_eq!(c.bip.as_deref(), Some("172.18.0.1/16"));
        assert_eq!(c.default_runtime, "runc");
        assert_eq!(parse_host(&c.hosts[1]).unwrap(), ListenAddr::Tcp("0.0.0.0:2375".into()));
    }

    #[test]
    fn unknown_key_names_file_key_and_position() {
        let e = load_with("{\n  \"mtu\": 1400,\n  \"bogus\": 1\n}", Flags::default()).unwrap_err().to_string();
        assert!(e.contains("daemon.json"), "{e}");
        assert!(e.contains("don't match any configuration option: bogus (line 3, column 3)"), "{e}");
    }

    #[test]
    fn malformed_json_reports_position() {
        let e = load_with("{\"mtu\": 1400,,}", Flags::default()).unwrap_err().to_string();
        assert!(e.starts_with("unable to configure the berth daemon with file"), "{e}");
        assert!(e.contains("line 1, column 14"), "{e}");
    }

    #[test]
    fn wrong_type_names_key() {
        let e = load_with(r#"{"mtu":"big"}"#, Flags::default()).unwrap_err().to_string();
        assert!(e.contains("\"mtu\""), "{e}");
    }

    #[test]
    fn flag_and_file_conflict_like_dockerd() {
        let e = load_with(r#"{"hosts":["tcp://0.0.0.0:2375"]}"#, Flags { hosts: vec!["unix:///x.sock".into()], ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(e.contains("specified both as a flag and in the configuration file: hosts: (from flag: [unix:///x.sock], from file: [tcp://0.0.0.0:2375])"), "{e}");
    }

    #[test]
    fn explicit_missing_file_is_an_error_default_is_not() {
        let e = DaemonConfig::load(&Flags { config_file: Some("/nonexistent/x.json".into()), ..Default::default() });
        assert!(e.is_err());
    }
}
