//! Differential test: the same bundle run by `runc run` and by `berth runtime run` must print
//! the same normalised probe output (namespace kinds, mounts, cgroup limits, capabilities,
//! hostname, ids, rlimits, env, devices, masked paths, sysctl).

use berth_tests::runtime::{have_runc, stderr, stdout, Sandbox};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

const PROBE: &str = r#"#!/bin/sh
echo "pid=$$"
echo "hostname=$(hostname)"
echo "id=$(id)"
for ns in pid net ipc uts mnt cgroup user; do
  if [ "$(readlink /proc/self/ns/$ns)" = "$(cat /host-ns/$ns)" ]; then echo "ns.$ns=host"; else echo "ns.$ns=new"; fi
done
grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status
echo "--- mounts (point type options)"
awk '{print $2, $3, $4}' /proc/self/mounts
echo "--- cgroup"
cat /proc/self/cgroup
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  for f in memory.max memory.low memory.swap.max pids.max cpu.max cpu.weight cpuset.cpus; do echo "$f=$(cat /sys/fs/cgroup/$f 2>&1)"; done
else
  for f in memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes \
           pids/pids.max cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus cpuset/cpuset.mems; do
    echo "$f=$(cat /sys/fs/cgroup/$f 2>&1)"
  done
  ls /sys/fs/cgroup
fi
echo "--- process"
echo "nofile=$(ulimit -n) hard=$(ulimit -Hn)"
echo "oom_score_adj=$(cat /proc/self/oom_score_adj)"
echo "umask=$(umask) cwd=$(pwd) tty=$(tty)"
env | sort
echo "--- dev"
for f in /dev/* /dev/pts/*; do stat -c '%n %F %a %u:%g %t:%T' "$f"; done
for l in /dev/fd /dev/stdin /dev/stdout /dev/stderr /dev/ptmx; do echo "$l -> $(readlink $l)"; done
echo "--- masked and sysctl"
echo "timer_list=$(cat /proc/timer_list | wc -c) acpi=$(ls /proc/acpi | wc -l)"
echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
touch /proc/sys/x 2>/dev/null || echo "proc/sys read-only"
touch /x 2>/dev/null || echo "root read-only"
cat /data/hello
touch /data/x 2>/dev/null || echo "data read-only"
"#;

#[test]
fn runc_and_berth_give_the_same_probe_output() {
    assert!(have_runc(), "runc is not installed (cargo xtask ci installs it)");
    let sb = Sandbox::new();
    let data = sb.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("hello"), "hello from the host\n").unwrap();
    let b = sb.bundle("diff", &["/probe.sh"], |s| {
        s["hostname"] = "diffhost".into();
        s["process"]["cwd"] = "/tmp".into();
        s["process"]["env"].as_array_mut().unwrap().push("FOO=bar baz".into());
        s["process"]["user"] = json!({"uid": 0, "gid": 0, "additionalGids": [10, 20]});
        s["process"]["oomScoreAdj"] = 123.into();
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 2048}]);
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
        s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        s["linux"]["resources"]["memory"] = json!({"limit": 67108864, "reservation": 33554432, "swap": 134217728});
        s["linux"]["resources"]["pids"] = json!({"limit": 64});
        s["linux"]["resources"]["cpu"] = json!({"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"});
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": data, "options": ["rbind", "ro", "nosuid", "nodev"]
        }));
    });
    let rootfs = b.join("rootfs");
    std::fs::write(rootfs.join("probe.sh"), PROBE).unwrap();
    std::fs::set_permissions(rootfs.join("probe.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(rootfs.join("host-ns")).unwrap();
    for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"] {
        let id = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        std::fs::write(rootfs.join("host-ns").join(ns), id.to_string_lossy().as_bytes()).unwrap();
    }

    let runc = sb.runc(&["run", "--bundle", b.to_str().unwrap(), "diff-runc"]);
    assert!(runc.status.success(), "runc: {}{}", stdout(&runc), stderr(&runc));
    let berth = sb.berth(&["run", "--bundle", b.to_str().unwrap(), "diff-berth"]);
    assert!(berth.status.success(), "berth: {}{}", stdout(&berth), stderr(&berth));
    let (r, o) = (stdout(&runc), stdout(&berth));
    if r != o {
        let mut report = String::new();
        let (rl, ol): (Vec<&str>, Vec<&str>) = (r.lines().collect(), o.lines().collect());
        for l in &rl {
            if !ol.contains(l) {
                report.push_str(&format!("only runc : {l}\n"));
            }
        }
        for l in &ol {
            if !rl.contains(l) {
                report.push_str(&format!("only berth: {l}\n"));
            }
        }
        panic!("probe outputs differ:\n{report}\n--- full runc output:\n{r}");
    }
    eprintln!("{o}");
    // The probe really saw what it was asked to (so equality is not vacuous).
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let limit = if v2 { "memory.max=67108864\n" } else { "memory/memory.limit_in_bytes=67108864\n" };
    let pids = if v2 { "pids.max=64\n" } else { "pids/pids.max=64\n" };
    assert!(o.contains(limit) && o.contains(pids), "{o}");
    for expect in ["pid=1\n", "hostname=diffhost\n", "ns.net=new\n", "ns.cgroup=new\n", "ns.user=host\n", "FOO=bar baz\n", "ip_forward=1\n", "hello from the host\n", "data read-only\n", "oom_score_adj=123\n", "nofile=2048 hard=4096\n"] {
        assert!(o.contains(expect), "{expect:?} missing from:\n{o}");
    }
    assert!(sb.leftover_state().is_empty());
}
