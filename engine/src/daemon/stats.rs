//! Container resource usage for `GET /containers/{id}/stats`: cgroup v1 counters (memory,
//! cpuacct, cpu, pids, blkio) and the container's network devices, in the shape of moby's
//! `types.StatsJSON` (API 1.41).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::state::Daemon;
use crate::container::record::Container;

/// Where counters come from: a seam so the parsing is tested without cgroups.
pub trait Counters {
    /// A file of controller `ctrl` in the container's cgroup (`memory`, `memory.stat`).
    fn cgroup(&self, ctrl: &str, file: &str) -> Option<String>;
    /// `/proc/<pid>/net/dev` of the container's init.
    fn net_dev(&self) -> Option<String>;
    /// `/proc/stat`.
    fn proc_stat(&self) -> Option<String>;
    fn online_cpus(&self) -> u64;
    /// Host memory (caps an unlimited memory.limit_in_bytes, as moby does).
    fn machine_memory(&self) -> u64;
}

/// Counters of a live container on the host.
pub struct HostCounters {
    pub cgroup_path: String,
    pub pid: i64,
}

impl Counters for HostCounters {
    fn cgroup(&self, ctrl: &str, file: &str) -> Option<String> {
        let p = PathBuf::from("/sys/fs/cgroup").join(ctrl).join(self.cgroup_path.trim_start_matches('/')).join(file);
        std::fs::read_to_string(p).ok()
    }
    fn net_dev(&self) -> Option<String> {
        (self.pid > 0).then(|| std::fs::read_to_string(format!("/proc/{}/net/dev", self.pid)).ok()).flatten()
    }
    fn proc_stat(&self) -> Option<String> {
        std::fs::read_to_string("/proc/stat").ok()
    }
    fn online_cpus(&self) -> u64 {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        n.max(1) as u64
    }
    fn machine_memory(&self) -> u64 {
        let mi = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        mi.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    }
}

fn num(s: Option<String>) -> u64 {
    s.and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
fn kv(s: &str) -> BTreeMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// USER_HZ: cpuacct.stat and /proc/stat count in clock ticks.
const CLOCK_TICKS: u64 = 100;

/// Host CPU time in nanoseconds: the sum of the `cpu` line of /proc/stat (moby's
/// `getSystemCPUUsage`).
fn system_cpu_usage(stat: &str) -> u64 {
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return 0 };
    let ticks: u64 = line.split_whitespace().skip(1).take(7).filter_map(|f| f.parse::<u64>().ok()).sum();
    ticks * (1_000_000_000 / CLOCK_TICKS)
}

/// `8:0 Read 4096` lines; the per-file `Total` line is skipped as containerd does.
fn blkio_entries(s: Option<String>) -> Vec<Value> {
    s.unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            Some(json!({"major": maj.parse::<u64>().ok()?, "minor": min.parse::<u64>().ok()?, "op": f[1], "value": f[2].parse::<u64>().ok()?}))
        })
        .collect()
}

/// `/proc/net/dev` without `lo` (Docker reports the container's endpoints only).
fn networks(s: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for l in s.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else { continue };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let v: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if v.len() < 12 {
            continue;
        }
        m.insert(
            name.into(),
            json!({"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                   "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}),
        );
    }
    m
}

/// One sample: every StatsJSON field except `name`, `id` and the `pre*` pair.
pub fn sample(c: &dyn Counters, read: &str) -> Value {
    let mem_stat = kv(&c.cgroup("memory", "memory.stat").unwrap_or_default());
    let mut limit = num(c.cgroup("memory", "memory.limit_in_bytes"));
    let machine = c.machine_memory();
    if machine > 0 && limit > machine {
        limit = machine;
    }
    let cpuacct = kv(&c.cgroup("cpuacct", "cpuacct.stat").unwrap_or_default());
    let percpu: Vec<u64> = c.cgroup("cpuacct", "cpuacct.usage_percpu").unwrap_or_default().split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let throttle = kv(&c.cgroup("cpu", "cpu.stat").unwrap_or_default());
    let tick_ns = 1_000_000_000 / CLOCK_TICKS;
    let mut pids = json!({"current": num(c.cgroup("pids", "pids.current"))});
    if let Some(max) = c.cgroup("pids", "pids.max").and_then(|m| m.trim().parse::<u64>().ok()) {
        pids["limit"] = json!(max);
    }
    let mut v = json!({
        "read": read,
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": blkio_entries(c.cgroup("blkio", "blkio.throttle.io_service_bytes_recursive")),
            "io_serviced_recursive": blkio_entries(c.cgroup("blkio", "blkio.throttle.io_serviced_recursive")),
            "io_queue_recursive": [], "io_service_time_recursive": [], "io_wait_time_recursive": [],
            "io_merged_recursive": [], "io_time_recursive": [], "sectors_recursive": [],
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": num(c.cgroup("cpuacct", "cpuacct.usage")),
                "percpu_usage": percpu,
                "usage_in_kernelmode": cpuacct.get("system").copied().unwrap_or(0) * tick_ns,
                "usage_in_usermode": cpuacct.get("user").copied().unwrap_or(0) * tick_ns,
            },
            "system_cpu_usage": system_cpu_usage(&c.proc_stat().unwrap_or_default()),
            "online_cpus": c.online_cpus(),
            "throttling_data": {
                "periods": throttle.get("nr_periods").copied().unwrap_or(0),
                "throttled_periods": throttle.get("nr_throttled").copied().unwrap_or(0),
                "throttled_time": throttle.get("throttled_time").copied().unwrap_or(0),
            },
        },
        "memory_stats": {
            "usage": num(c.cgroup("memory", "memory.usage_in_bytes")),
            "max_usage": num(c.cgroup("memory", "memory.max_usage_in_bytes")),
            "stats": mem_stat,
            "failcnt": num(c.cgroup("memory", "memory.failcnt")),
            "limit": limit,
        },
    });
    let nets = networks(&c.net_dev().unwrap_or_default());
    if !nets.is_empty() {
        v["networks"] = Value::Object(nets);
    }
    v
}

/// moby encodes an empty `StatsJSON{Name, ID}` for a container that is not running.
pub fn zero(name: &str, id: &str) -> Value {
    json!({
        "read": crate::util::time::ZERO_TIME, "preread": crate::util::time::ZERO_TIME,
        "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": null, "io_serviced_recursive": null,
            "io_queue_recursive": null, "io_service_time_recursive": null, "io_wait_time_recursive": null,
            "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
        "memory_stats": {}, "name": name, "id": id,
    })
}

/// Fills `name`, `id`, `preread` and `precpu_stats` from the previous sample (as moby's
/// stats loop does), remembering this one for the next call.
#[derive(Default)]
pub struct Series {
    prev: Option<(Value, Value)>,
}

impl Series {
    pub fn next(&mut self, mut s: Value, name: &str, id: &str) -> Value {
        let (preread, precpu) = self.prev.take().unwrap_or_else(|| {
            (json!(crate::util::time::ZERO_TIME), json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}))
        });
        self.prev = Some((s["read"].clone(), s["cpu_stats"].clone()));
        s["preread"] = preread;
        s["precpu_stats"] = precpu;
        s["name"] = json!(name);
        s["id"] = json!(id);
        s
    }
}

impl Daemon {
    /// The cgroup path the spec gave the container (`<cgroup-parent>/<id>`).
    pub fn cgroup_path(&self, c: &Container) -> String {
        let parent = if c.host_config.cgroup_parent.is_empty() { &self.config.cgroup_parent } else { &c.host_config.cgroup_parent };
        format!("{}/{}", crate::container::config::clean_cgroup_parent(parent).trim_end_matches('/'), c.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<&'static str, &'static str>);
    impl Counters for Fake {
        fn cgroup(&self, ctrl: &str, file: &str) -> Option<String> {
            let _ = ctrl;
            self.0.get(file).map(|s| s.to_string())
        }
        fn net_dev(&self) -> Option<String> {
            self.0.get("net/dev").map(|s| s.to_string())
        }
        fn proc_stat(&self) -> Option<String> {
            Some("cpu  100 0 50 1000 10 0 5 0 0 0\ncpu0 1 2 3\n".into())
        }
        fn online_cpus(&self) -> u64 {
            2
        }
        fn machine_memory(&self) -> u64 {
            1 << 30
        }
    }

    #[test]
    fn parses_cgroup_v1() {
        let f = Fake(HashMap::from([
            ("memory.usage_in_bytes", "1048576\n"),
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.stat", "cache 4096\ntotal_inactive_file 8192\n"),
            ("cpuacct.usage", "5000\n"),
            ("cpuacct.usage_percpu", "3000 2000 \n"),
            ("cpuacct.stat", "user 3\nsystem 1\n"),
            ("pids.current", "3\n"),
            ("pids.max", "max\n"),
            ("blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n"),
            ("net/dev", "Inter-|   Receive\n face |bytes\n    lo: 9 9 0 0 0 0 0 0 9 9 0 0 0 0 0 0\n  eth0: 100 2 0 0 0 0 0 0 200 3 0 0 0 0 0 0\n"),
        ]));
        let s = sample(&f, "now");
        assert_eq!(s["memory_stats"]["usage"], 1048576);
        assert_eq!(s["memory_stats"]["limit"], 1u64 << 30, "unlimited is capped at host memory");
        assert_eq!(s["memory_stats"]["stats"]["total_inactive_file"], 8192);
        assert_eq!(s["cpu_stats"]["cpu_usage"]["percpu_usage"], json!([3000, 2000]));
        assert_eq!(s["cpu_stats"]["cpu_usage"]["usage_in_usermode"], 30_000_000);
        assert_eq!(s["cpu_stats"]["system_cpu_usage"], (100u64 + 50 + 1000 + 10 + 5) * 10_000_000);
        assert_eq!(s["pids_stats"], json!({"current": 3}), "no limit field for max");
        assert_eq!(s["blkio_stats"]["io_service_bytes_recursive"].as_array().unwrap().len(), 2);
        assert_eq!(s["networks"]["eth0"]["tx_bytes"], 200);
        assert!(s["networks"].get("lo").is_none());
        let mut series = Series::default();
        let a = series.next(s.clone(), "/x", "id");
        assert_eq!(a["preread"], crate::util::time::ZERO_TIME);
        let b = series.next(sample(&f, "later"), "/x", "id");
        assert_eq!((b["preread"].as_str(), &b["precpu_stats"]), (Some("now"), &s["cpu_stats"]));
    }
}
