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
    pub console_size: Option<[u32; 2]>,
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
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    // Last and left out when unset, as moby's `Init *bool json:",omitempty"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
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

/// Docker's lowest memory limit and reservation (`linuxMinMemory`, 6 MiB).
pub const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// cgroup v1 `cpu.shares` bounds (the kernel's MIN_SHARES/MAX_SHARES; v2 weights map from them).
pub const CPU_SHARES: std::ops::RangeInclusive<i64> = 2..=262_144;

/// CPUs the daemon can use (`NCPU` of `GET /info`; Go's `runtime.NumCPU` for dockerd).
pub fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

pub fn cpus_out_of_range(ncpu: usize) -> String {
    format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
}

/// No Docker text: dockerd computes the default memory+swap limit (twice the memory limit) in
/// int64 and lets it wrap.
pub fn memory_too_large(memory: i64) -> String {
    format!(
        "Memory limit {memory} is too large: the default memory+swap limit (twice the memory limit) would overflow; set MemorySwap (--memory-swap)"
    )
}

impl HostConfig {
    /// moby 20.10's `verifyPlatformContainerResources` and `verifyPlatformContainerSettings`
    /// checks of the values berth applies, in their order and with their texts (all 400),
    /// plus the bounds runc reports at start for cpu-shares, and the overflow of the default
    /// swap limit. Every value reaching `spec::resources` is in range afterwards.
    pub fn verify_resources(&self, ncpu: usize) -> Result<(), String> {
        if self.memory != 0 && self.memory < MIN_MEMORY {
            return Err("Minimum memory limit allowed is 6MB".into());
        }
        if self.memory > 0 && self.memory_swap == 0 && self.memory.checked_mul(2).is_none() {
            return Err(memory_too_large(self.memory));
        }
        if self.memory > 0 && self.memory_swap > 0 && self.memory_swap < self.memory {
            return Err("Minimum memoryswap limit should be larger than memory limit, see usage".into());
        }
        if self.memory == 0 && self.memory_swap > 0 {
            return Err("You should always set the Memory limit when using Memoryswap limit, see usage".into());
        }
        // -1 is the API's "unset" (moby's fixMemorySwappiness).
        if let Some(s) = self.memory_swappiness.filter(|s| *s != -1) {
            if !(0..=100).contains(&s) {
                return Err(format!("Invalid value: {s}, valid memory swappiness range is 0-100"));
            }
        }
        CpuAndReservation {
            memory: self.memory,
            memory_reservation: self.memory_reservation,
            nano_cpus: self.nano_cpus,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
        }
        .verify(ncpu)?;
        if self.blkio_weight > 0 && !(10..=1000).contains(&self.blkio_weight) {
            return Err("Range of blkio weight is from 10 to 1000".into());
        }
        if self.shm_size < 0 {
            return Err("SHM size can not be less than 0".into());
        }
        if !(-1000..=1000).contains(&self.oom_score_adj) {
            return Err(format!("Invalid value {}, range for oom score adj is [-1000, 1000]", self.oom_score_adj));
        }
        Ok(())
    }
}

/// The values create (`HostConfig::verify_resources`) and update (`UpdateConfig::verify`) check
/// alike: moby's `verifyPlatformContainerResources` from the memory reservation through the cpu
/// shares, in its order and with its texts (all 400), plus the cpu-shares bounds runc reports.
pub struct CpuAndReservation {
    pub memory: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_shares: i64,
}

impl CpuAndReservation {
    pub fn verify(&self, ncpu: usize) -> Result<(), String> {
        if self.memory_reservation > 0 && self.memory_reservation < MIN_MEMORY {
            return Err("Minimum memory reservation allowed is 6MB".into());
        }
        if self.memory > 0 && self.memory_reservation > 0 && self.memory < self.memory_reservation {
            return Err("Minimum memory limit can not be less than memory reservation limit, see usage".into());
        }
        if self.nano_cpus > 0 && self.cpu_period > 0 {
            return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
        }
        if self.nano_cpus > 0 && self.cpu_quota > 0 {
            return Err("Conflicting options: Nano CPUs and CPU Quota cannot both be set".into());
        }
        let max_nano = i64::try_from(ncpu).unwrap_or(i64::MAX).saturating_mul(1_000_000_000);
        if self.nano_cpus < 0 || self.nano_cpus > max_nano {
            return Err(cpus_out_of_range(ncpu));
        }
        if self.cpu_period != 0 && !(1000..=1_000_000).contains(&self.cpu_period) {
            return Err("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into());
        }
        if self.cpu_quota > 0 && self.cpu_quota < 1000 {
            return Err("CPU cfs quota can not be less than 1ms (i.e. 1000)".into());
        }
        // dockerd refuses a negative value when it builds the spec; runc refuses values the
        // kernel would clamp (it reads cpu.shares back). Both at start there, at create or update here.
        if self.cpu_shares < 0 {
            return Err("shares: invalid argument".into());
        }
        if self.cpu_shares > 0 && self.cpu_shares < *CPU_SHARES.start() {
            return Err(format!("the minimum allowed cpu-shares is {}", CPU_SHARES.start()));
        }
        if self.cpu_shares > *CPU_SHARES.end() {
            return Err(format!("the maximum allowed cpu-shares is {}", CPU_SHARES.end()));
        }
        Ok(())
    }
}

/// `CgroupParent` as runc's `utils.CleanPath` leaves it: lexically cleaned as if rooted at `/`,
/// so `../../x` is `/x` and no parent can name a cgroup above the hierarchy's root. Applied where
/// the parent is used (the spec's cgroupsPath, stats and top read below
/// `/sys/fs/cgroup/<controller>`); inspect shows it as given, as Docker does. Empty stays empty
/// (the daemon's default applies).
pub fn clean_cgroup_parent(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    let mut parts: Vec<&str> = vec![];
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
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
    fn resources_are_verified_with_dockers_texts() {
        let mib = 1i64 << 20;
        let err = |hc: HostConfig| hc.verify_resources(2).unwrap_err();
        assert_eq!(err(HostConfig { memory: 4 * mib, ..Default::default() }), "Minimum memory limit allowed is 6MB");
        assert_eq!(err(HostConfig { memory: i64::MIN, ..Default::default() }), "Minimum memory limit allowed is 6MB");
        assert_eq!(err(HostConfig { memory: i64::MAX, ..Default::default() }), memory_too_large(i64::MAX));
        assert!(HostConfig { memory: i64::MAX, memory_swap: -1, ..Default::default() }.verify_resources(2).is_ok());
        assert!(HostConfig { memory: i64::MAX / 2, ..Default::default() }.verify_resources(2).is_ok());
        assert_eq!(
            err(HostConfig { memory: 64 * mib, memory_swap: 32 * mib, ..Default::default() }),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        assert_eq!(err(HostConfig { nano_cpus: -1, ..Default::default() }), cpus_out_of_range(2));
        assert_eq!(err(HostConfig { nano_cpus: 2_000_000_001, ..Default::default() }), cpus_out_of_range(2));
        assert!(HostConfig { nano_cpus: 2_000_000_000, ..Default::default() }.verify_resources(2).is_ok());
        assert!(HostConfig { nano_cpus: i64::MAX, ..Default::default() }.verify_resources(usize::MAX).is_ok(), "no overflow in the bound");
        assert_eq!(err(HostConfig { cpu_shares: -5, ..Default::default() }), "shares: invalid argument");
        assert_eq!(err(HostConfig { cpu_shares: i64::MAX, ..Default::default() }), "the maximum allowed cpu-shares is 262144");
        assert!(HostConfig { pids_limit: Some(i64::MIN), memory_swappiness: Some(-1), ..Default::default() }.verify_resources(2).is_ok());
        assert_eq!(
            err(HostConfig { memory_swappiness: Some(-2), ..Default::default() }),
            "Invalid value: -2, valid memory swappiness range is 0-100"
        );
        assert!(HostConfig::default().verify_resources(1).is_ok());
        for (given, cleaned) in [("", ""), ("../../x", "/x"), ("/a/../../b/./c/", "/b/c"), ("a", "/a"), ("/..", "/"), ("/berth", "/berth")] {
            assert_eq!(clean_cgroup_parent(given), cleaned, "{given:?}");
        }
    }

    #[test]
    fn str_slice_accepts_a_string() {
        let c: Config = serde_json::from_str(r#"{"Cmd":"echo hi","Entrypoint":null}"#).unwrap();
        assert_eq!(c.cmd, Some(vec!["echo hi".to_string()]));
        assert_eq!(c.entrypoint, None);
    }
}
