//! Docker API container types (`Config`, `HostConfig`), as the CLI sends them. Unknown fields
//! are ignored (CLI 28 sends post-1.41 fields even at 1.41).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Docker's `strslice.StrSlice`: accepts `"cmd"` or `["a","b"]` or null.
pub fn str_slice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<S>::deserialize(d)? {
        None => None,
        Some(S::One(s)) => Some(vec![s]),
        Some(S::Many(v)) => Some(v),
    })
}

fn null_to_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    #[serde(deserialize_with = "null_to_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(deserialize_with = "null_to_default")]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub hard: i64,
    pub soft: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    pub log_config: LogConfig,
    pub network_mode: String,
    pub port_bindings: Option<serde_json::Value>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    pub console_size: Option<[u32; 2]>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub cgroupns_mode: String,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub ipc_mode: String,
    pub cgroup: String,
    pub links: Option<Vec<String>>,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub shm_size: i64,
    pub runtime: String,
    pub isolation: String,
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cgroup_parent: String,
    pub blkio_weight: u16,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    pub init: Option<bool>,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
}

impl HostConfig {
    /// Defaults the daemon fills in before storing `hostconfig.json` (as 20.10 does).
    pub fn fill_defaults(&mut self, runtime: &str) {
        if self.log_config.kind.is_empty() {
            self.log_config.kind = "json-file".into();
        }
        if self.network_mode.is_empty() {
            self.network_mode = "default".into();
        }
        if self.ipc_mode.is_empty() {
            self.ipc_mode = "private".into();
        }
        if self.cgroupns_mode.is_empty() {
            self.cgroupns_mode = "host".into();
        }
        if self.shm_size == 0 {
            self.shm_size = 64 * 1024 * 1024;
        }
        if self.runtime.is_empty() {
            self.runtime = runtime.into();
        }
        if self.restart_policy.name.is_empty() {
            self.restart_policy.name = "no".into();
        }
        if self.masked_paths.is_none() && !self.privileged {
            self.masked_paths = Some(
                [
                    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                ]
                .map(String::from)
                .to_vec(),
            );
        }
        if self.readonly_paths.is_none() && !self.privileged {
            self.readonly_paths = Some(
                ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"].map(String::from).to_vec(),
            );
        }
    }
}

/// The body of `POST /containers/create`: Config with HostConfig and NetworkingConfig inline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRequest {
    #[serde(flatten)]
    pub config: Config,
    #[serde(deserialize_with = "null_to_default")]
    pub host_config: HostConfig,
    pub networking_config: Option<serde_json::Value>,
}

/// Restart policy as parsed from `--restart` / `RestartPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    UnlessStopped,
    OnFailure(i64),
}

impl Restart {
    pub fn from_policy(p: &RestartPolicy) -> Result<Self, String> {
        match p.name.as_str() {
            "" | "no" => Ok(Restart::No),
            "always" => Ok(Restart::Always),
            "unless-stopped" => Ok(Restart::UnlessStopped),
            "on-failure" => Ok(Restart::OnFailure(p.maximum_retry_count)),
            other => Err(format!("invalid restart policy '{other}'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_create_body_parses_ignoring_unknown_fields() {
        let body = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,
 "OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["true"],"Image":"bb","Volumes":{},"WorkingDir":"",
 "Entrypoint":null,"OnBuild":null,"Labels":{},
 "HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default",
   "PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"",
   "VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],
   "MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"MaskedPaths":null,"ReadonlyPaths":null},
 "NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"GwPriority":0,"DNSNames":null}}}}"#;
        let r: CreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.config.cmd, Some(vec!["true".to_string()]));
        assert_eq!(r.config.image, "bb");
        assert!(r.host_config.auto_remove);
        assert_eq!(r.host_config.memory_swappiness, Some(-1));
    }

    #[test]
    fn str_slice_accepts_a_string() {
        let c: Config = serde_json::from_str(r#"{"Cmd":"echo hi","Entrypoint":null}"#).unwrap();
        assert_eq!(c.cmd, Some(vec!["echo hi".to_string()]));
        assert_eq!(c.entrypoint, None);
    }
}
