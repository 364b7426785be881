//! `POST /containers/{id}/update` (`docker update`, docker-py `update_container`), as moby
//! 20.10's `ContainerUpdate` (daemon/update.go, container/container_unix.go):
//!
//! 1. the request's values are checked as `verifyPlatformContainerResources(…, update=true)`
//!    and `verifyContainerSettings` check them (400, Docker's texts); a Block I/O weight the
//!    kernel can't apply is discarded with Docker's warning, a swap limit likewise;
//! 2. they are merged into the stored HostConfig as `UpdateContainer` does (a zero value or an
//!    empty string leaves the old one; NanoCPUs vs CpuPeriod/CpuQuota and the memory-swap rule
//!    conflict with what is set: 409 `Cannot update container <id>: …`; a restart policy on an
//!    `--rm` container likewise) and `hostconfig.json` is written;
//! 3. a running (or paused) container gets the request's resources in its cgroups at once
//!    (`toContainerdResources`; berth writes them through berth-runtime's cgroup managers, for
//!    either runtime); a failure restores the old HostConfig (500 `Cannot update container …`).
//!    A stopped container gets them at its next start, from the HostConfig;
//! 4. an `update` event is logged.
//!
//! One berth detail: berth keeps `MemorySwap` 0 when only `--memory` was given (dockerd stores
//! twice the memory there at create); an update that touches memory first writes that default
//! down, so the swap rule and the next start see what dockerd's would.

use std::path::Path;

use berth_runtime::cgroups::{AnyManager, CgroupManager};
use berth_runtime::spec::{BlockIo, Cpu, Memory, Pids, Resources};
use serde::{Deserialize, Deserializer};

use super::error::DaemonError;
use super::state::Daemon;
use crate::container::config::{num_cpus, HostConfig, RestartPolicy, MIN_MEMORY};

fn null_to_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// moby's `container.UpdateConfig`: `Resources` inline, plus `RestartPolicy`. Fields berth
/// has no use for (devices, ulimits, kernel memory, realtime…) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateConfig {
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub blkio_weight: u16,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    #[serde(deserialize_with = "null_to_default")]
    pub cpuset_cpus: String,
    #[serde(deserialize_with = "null_to_default")]
    pub cpuset_mems: String,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub pids_limit: Option<i64>,
    #[serde(deserialize_with = "null_to_default")]
    pub restart_policy: RestartPolicy,
}

/// The cgroup root's `cpuset.cpus` / `cpuset.mems` (v1 hierarchy or v2 effective), as moby's
/// sysinfo reads them.
fn available_cpuset(file: &str) -> Option<String> {
    let v1 = Path::new("/sys/fs/cgroup/cpuset").join(file);
    let v2 = Path::new("/sys/fs/cgroup").join(format!("{file}.effective"));
    std::fs::read_to_string(v1).or_else(|_| std::fs::read_to_string(v2)).ok().map(|s| s.trim().to_string())
}

/// moby's `parsers.ParseUintList`, as ranges (never expanded).
fn parse_uint_list(val: &str) -> Result<Vec<(u64, u64)>, String> {
    let invalid = || format!("invalid format: {val}");
    if val.is_empty() {
        return Ok(vec![]);
    }
    val.split(',')
        .map(|r| match r.split_once('-') {
            None => r.parse::<u64>().map(|v| (v, v)).map_err(|_| invalid()),
            Some((a, b)) => {
                let (a, b) = (a.parse::<u64>().map_err(|_| invalid())?, b.parse::<u64>().map_err(|_| invalid())?);
                if b < a {
                    return Err(invalid());
                }
                Ok((a, b))
            }
        })
        .collect()
}

/// Whether every member of `provided` is in `available` (moby `isCpusetListAvailable`).
/// `Err`: `provided` does not parse.
fn cpuset_available(provided: &str, available: &str) -> Result<bool, String> {
    let want = parse_uint_list(provided)?;
    let have = parse_uint_list(available).unwrap_or_default();
    Ok(want.iter().all(|&(a, b)| have.iter().any(|&(x, y)| x <= a && b <= y)))
}

/// Whether the kernel can weight Block I/O (moby sysinfo `BlkioWeight`).
fn blkio_weight_supported() -> bool {
    let v1 = Path::new("/sys/fs/cgroup/blkio");
    if v1.is_dir() {
        return v1.join("blkio.weight").exists() || v1.join("blkio.bfq.weight").exists();
    }
    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").map(|c| c.split_whitespace().any(|x| x == "io")).unwrap_or(false)
}

/// Whether swap can be limited (moby sysinfo `SwapLimit`).
fn swap_limit_supported() -> bool {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.is_dir() {
        return v1.join("memory.memsw.limit_in_bytes").exists();
    }
    true
}

pub const BLKIO_WEIGHT_DISCARDED: &str = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
pub const SWAP_LIMIT_DISCARDED: &str =
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";

impl UpdateConfig {
    /// Step 1 of the module docs: Docker's checks of the request (400 texts), its warnings.
    pub fn verify(&mut self, ncpu: usize) -> Result<Vec<String>, String> {
        let mut warnings = vec![];
        if self.memory != 0 && self.memory < MIN_MEMORY {
            return Err("Minimum memory limit allowed is 6MB".into());
        }
        if self.memory > 0 && self.memory_swap != -1 && self.memory_swap != 0 && !swap_limit_supported() {
            warnings.push(SWAP_LIMIT_DISCARDED.to_string());
            self.memory_swap = -1;
        }
        if self.memory > 0 && self.memory_swap > 0 && self.memory_swap < self.memory {
            return Err("Minimum memoryswap limit should be larger than memory limit, see usage".into());
        }
        if let Some(s) = self.memory_swappiness {
            if !(0..=100).contains(&s) {
                return Err(format!("Invalid value: {s}, valid memory swappiness range is 0-100"));
            }
        }
        crate::container::config::CpuAndReservation {
            memory: self.memory,
            memory_reservation: self.memory_reservation,
            nano_cpus: self.nano_cpus,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
        }
        .verify(ncpu)?;
        for (what, noun, file, val) in
            [("CPUs", "cpus", "cpuset.cpus", &self.cpuset_cpus), ("memory nodes", "mems", "cpuset.mems", &self.cpuset_mems)]
        {
            let avail = available_cpuset(file).unwrap_or_default();
            match cpuset_available(val, &avail) {
                Err(e) => return Err(format!("Invalid value {val} for cpuset {noun}: {e}")),
                Ok(false) => return Err(format!("Requested {what} are not available - requested {val}, available: {avail}")),
                Ok(true) => {}
            }
        }
        if self.blkio_weight > 0 && !blkio_weight_supported() {
            warnings.push(BLKIO_WEIGHT_DISCARDED.to_string());
            self.blkio_weight = 0;
        }
        if self.blkio_weight > 0 && !(10..=1000).contains(&self.blkio_weight) {
            return Err("Range of blkio weight is from 10 to 1000".into());
        }
        let p = &self.restart_policy;
        match p.name.as_str() {
            "always" | "unless-stopped" | "no" if p.maximum_retry_count != 0 => {
                return Err(format!("maximum retry count cannot be used with restart policy '{}'", p.name));
            }
            "on-failure" if p.maximum_retry_count < 0 => return Err("maximum retry count cannot be negative".into()),
            "always" | "unless-stopped" | "no" | "on-failure" | "" => {}
            other => return Err(format!("invalid restart policy '{other}'")),
        }
        // The API handler's rule: 0 and negative values both mean unlimited.
        if let Some(p) = self.pids_limit.as_mut() {
            if *p <= 0 {
                *p = 0;
            }
        }
        Ok(warnings)
    }

    fn touches_memory(&self) -> bool {
        self.memory != 0 || self.memory_swap != 0
    }

    /// Step 2: moby's `UpdateContainer` on the stored HostConfig; `Err` is a conflict's text.
    pub fn merge_into(&self, hc: &mut HostConfig) -> Result<(), String> {
        if self.nano_cpus > 0 && hc.cpu_period > 0 {
            return Err("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set".into());
        }
        if self.nano_cpus > 0 && hc.cpu_quota > 0 {
            return Err("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set".into());
        }
        if self.cpu_period > 0 && hc.nano_cpus > 0 {
            return Err("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set".into());
        }
        if self.cpu_quota > 0 && hc.nano_cpus > 0 {
            return Err("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set".into());
        }
        if self.touches_memory() && hc.memory > 0 && hc.memory_swap == 0 {
            hc.memory_swap = hc.memory.saturating_mul(2);
        }
        if self.blkio_weight != 0 {
            hc.blkio_weight = self.blkio_weight;
        }
        if self.cpu_shares != 0 {
            hc.cpu_shares = self.cpu_shares;
        }
        if self.nano_cpus != 0 {
            hc.nano_cpus = self.nano_cpus;
        }
        if self.cpu_period != 0 {
            hc.cpu_period = self.cpu_period;
        }
        if self.cpu_quota != 0 {
            hc.cpu_quota = self.cpu_quota;
        }
        if !self.cpuset_cpus.is_empty() {
            hc.cpuset_cpus = self.cpuset_cpus.clone();
        }
        if !self.cpuset_mems.is_empty() {
            hc.cpuset_mems = self.cpuset_mems.clone();
        }
        if self.memory != 0 {
            if hc.memory_swap > 0 && self.memory > hc.memory_swap && self.memory_swap == 0 {
                return Err(
                    "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into()
                );
            }
            hc.memory = self.memory;
        }
        if self.memory_swap != 0 {
            hc.memory_swap = self.memory_swap;
        }
        if self.memory_reservation != 0 {
            hc.memory_reservation = self.memory_reservation;
        }
        if self.pids_limit.is_some() {
            hc.pids_limit = self.pids_limit;
        }
        if !self.restart_policy.name.is_empty() {
            if hc.auto_remove && self.restart_policy.name != "no" {
                return Err("Restart policy cannot be updated because AutoRemove is enabled for the container".into());
            }
            hc.restart_policy = self.restart_policy.clone();
        }
        Ok(())
    }

    /// Step 3: moby's `toContainerdResources` — only what the request sets. `hc` is the merged
    /// HostConfig: a swap limit goes with the memory limit it is relative to.
    pub fn live_resources(&self, hc: &HostConfig) -> Resources {
        let mut r = Resources::default();
        if self.blkio_weight != 0 {
            r.block_io = Some(BlockIo { weight: Some(self.blkio_weight) });
        }
        let (mut period, mut quota) = (0, 0);
        if self.nano_cpus != 0 {
            period = 100_000;
            quota = self.nano_cpus.saturating_mul(period as i64) / 1_000_000_000;
        }
        if quota == 0 && self.cpu_quota != 0 {
            quota = self.cpu_quota;
        }
        if period == 0 && self.cpu_period != 0 {
            period = self.cpu_period as u64;
        }
        let cpu = Cpu {
            shares: (self.cpu_shares != 0).then_some(self.cpu_shares as u64),
            quota: (quota != 0).then_some(quota),
            period: (period != 0).then_some(period),
            cpus: Some(self.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
            mems: Some(self.cpuset_mems.clone()).filter(|s| !s.is_empty()),
        };
        if cpu.shares.is_some() || cpu.quota.is_some() || cpu.period.is_some() || cpu.cpus.is_some() || cpu.mems.is_some() {
            r.cpu = Some(cpu);
        }
        let mut mem = Memory::default();
        if self.memory != 0 {
            mem.limit = Some(self.memory);
        }
        if self.memory_reservation != 0 {
            mem.reservation = Some(self.memory_reservation);
        }
        if self.memory_swap > 0 {
            mem.swap = Some(self.memory_swap);
            if hc.memory > 0 {
                mem.limit = Some(hc.memory);
            }
        }
        if mem.limit.is_some() || mem.reservation.is_some() || mem.swap.is_some() {
            r.memory = Some(mem);
        }
        r.pids = self.pids_limit.map(|p| Pids { limit: if p > 0 { p } else { -1 } });
        r
    }
}

impl Daemon {
    /// See the module docs. Returns the warnings.
    pub fn container_update(&self, r: &str, mut u: UpdateConfig) -> Result<Vec<String>, DaemonError> {
        let id = self.resolve(r)?;
        let warnings = u.verify(num_cpus()).map_err(DaemonError::InvalidParameter)?;
        let cannot = |e: &dyn std::fmt::Display| format!("Cannot update container {id}: {e}");
        let (old, live) = self.update(&id, |c| {
            let s = &c.record.state;
            if s.removal_in_progress || s.dead {
                return Err(DaemonError::System(cannot(&"container is marked for removal and cannot be \"update\"")));
            }
            let mut hc = c.host_config.clone();
            u.merge_into(&mut hc).map_err(|e| DaemonError::Conflict(cannot(&e)))?;
            let old = std::mem::replace(&mut c.host_config, hc);
            Ok((old, s.running && !s.restarting))
        })??;
        if live {
            let c = self.get(&id)?;
            if let Err(e) = self.apply_live(&id, &u.live_resources(&c.host_config)) {
                let _ = self.update(&id, |c| c.host_config = old);
                return Err(DaemonError::System(cannot(&e)));
            }
        }
        self.container_event_ref(&id, "update", &[]);
        Ok(warnings)
    }

    /// Writes `res` into the cgroups of the running container `id` (the `linux.cgroupsPath` of
    /// the bundle it was started from).
    fn apply_live(&self, id: &str, res: &Resources) -> Result<(), String> {
        let path = self.state_dir(id).join("config.json");
        let spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let cgroups_path = spec["linux"]["cgroupsPath"].as_str().ok_or_else(|| format!("{}: no linux.cgroupsPath", path.display()))?;
        let m = AnyManager::for_host(cgroups_path).map_err(|e| e.to_string())?;
        m.apply(res).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: i64 = 1 << 20;

    fn u(v: serde_json::Value) -> UpdateConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parses_the_cli_body() {
        let body = serde_json::json!({"BlkioWeight":0,"BlkioWeightDevice":null,"CpuShares":512,"Memory":268435456,"NanoCpus":1500000000,
            "CgroupParent":"","CpuPeriod":0,"CpuQuota":0,"CpusetCpus":"","CpusetMems":"","Devices":null,"KernelMemory":0,
            "MemoryReservation":0,"MemorySwap":536870912,"MemorySwappiness":null,"OomKillDisable":null,"PidsLimit":null,"Ulimits":null,
            "RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}});
        let c = u(body);
        assert_eq!((c.cpu_shares, c.memory, c.nano_cpus, c.memory_swap, c.pids_limit), (512, 256 * MIB, 1_500_000_000, 512 * MIB, None));
        assert_eq!((c.restart_policy.name.as_str(), c.restart_policy.maximum_retry_count), ("on-failure", 3));
        assert_eq!(u(serde_json::json!({"CpusetCpus": null, "RestartPolicy": null})), UpdateConfig::default());
    }

    #[test]
    fn verifies_with_dockers_texts() {
        let err = |v: serde_json::Value| u(v).verify(2).unwrap_err();
        assert_eq!(err(serde_json::json!({"Memory": 4 * MIB})), "Minimum memory limit allowed is 6MB");
        assert_eq!(err(serde_json::json!({"NanoCpus": 3_000_000_000i64})), crate::container::config::cpus_out_of_range(2));
        assert_eq!(
            err(serde_json::json!({"NanoCpus": 1, "CpuQuota": 5000})),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        assert_eq!(
            err(serde_json::json!({"CpuPeriod": 10})),
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        );
        assert_eq!(err(serde_json::json!({"MemorySwappiness": -1})), "Invalid value: -1, valid memory swappiness range is 0-100");
        assert_eq!(
            err(serde_json::json!({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}})),
            "maximum retry count cannot be used with restart policy 'always'"
        );
        assert_eq!(err(serde_json::json!({"RestartPolicy": {"Name": "sometimes"}})), "invalid restart policy 'sometimes'");
        assert_eq!(err(serde_json::json!({"CpusetCpus": "0-x"})), "Invalid value 0-x for cpuset cpus: invalid format: 0-x");
        let mut c = u(serde_json::json!({"PidsLimit": -5}));
        c.verify(2).unwrap();
        assert_eq!(c.pids_limit, Some(0), "0 and negative both mean unlimited");
    }

    #[test]
    fn cpuset_lists() {
        assert_eq!(cpuset_available("0,1", "0-1"), Ok(true));
        assert_eq!(cpuset_available("1-3", "0-1"), Ok(false));
        assert_eq!(cpuset_available("", "0"), Ok(true));
        assert_eq!(cpuset_available("0-4000000000", "0-3"), Ok(false));
        assert!(cpuset_available("3-1", "0-3").is_err());
    }

    #[test]
    fn merges_as_update_container() {
        let created = HostConfig { memory: 64 * MIB, cpu_shares: 1024, auto_remove: false, ..Default::default() };
        // Raising memory past the (default) swap without raising the swap: Docker's conflict.
        let mut hc = created.clone();
        assert_eq!(
            u(serde_json::json!({"Memory": 256 * MIB})).merge_into(&mut hc).unwrap_err(),
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        );
        let mut hc = created.clone();
        u(serde_json::json!({"Memory": 100 * MIB})).merge_into(&mut hc).unwrap();
        assert_eq!((hc.memory, hc.memory_swap, hc.cpu_shares), (100 * MIB, 128 * MIB, 1024), "swap kept as dockerd stored it");
        let mut hc = created.clone();
        u(serde_json::json!({"Memory": 256 * MIB, "MemorySwap": -1, "NanoCpus": 500_000_000, "PidsLimit": 0})).merge_into(&mut hc).unwrap();
        assert_eq!((hc.memory, hc.memory_swap, hc.nano_cpus, hc.pids_limit), (256 * MIB, -1, 500_000_000, Some(0)));
        assert_eq!(
            u(serde_json::json!({"CpuQuota": 5000})).merge_into(&mut hc).unwrap_err(),
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        );
        let mut rm = HostConfig { auto_remove: true, ..Default::default() };
        assert_eq!(
            u(serde_json::json!({"RestartPolicy": {"Name": "always"}})).merge_into(&mut rm).unwrap_err(),
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        );
        u(serde_json::json!({"RestartPolicy": {"Name": "no"}})).merge_into(&mut rm).unwrap();
    }

    #[test]
    fn live_resources_are_the_requests() {
        let mut hc = HostConfig { memory: 256 * MIB, ..Default::default() };
        let c = u(serde_json::json!({"MemorySwap": 512 * MIB, "NanoCpus": 1_500_000_000i64, "PidsLimit": 0, "CpusetCpus": "0"}));
        c.merge_into(&mut hc).unwrap();
        let r = c.live_resources(&hc);
        let m = r.memory.unwrap();
        assert_eq!((m.limit, m.swap, m.reservation), (Some(256 * MIB), Some(512 * MIB), None));
        let cpu = r.cpu.unwrap();
        assert_eq!((cpu.shares, cpu.quota, cpu.period, cpu.cpus.as_deref()), (None, Some(150_000), Some(100_000), Some("0")));
        assert_eq!(r.pids.unwrap().limit, -1);
        assert!(r.block_io.is_none() && r.devices.is_empty());
        let r = u(serde_json::json!({"RestartPolicy": {"Name": "always"}})).live_resources(&hc);
        assert!(r.memory.is_none() && r.cpu.is_none() && r.pids.is_none());
    }
}
