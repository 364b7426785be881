//! linux.resources for real on this host's cgroups (v1 here; v2 paths when the host is v2):
//! OOM kill past memory.limit, a fork loop stopped at pids.limit, cpu quota written.

use berth_tests::runtime::{ok, stderr, Sandbox};
use serde_json::json;
use std::path::Path;

fn v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[test]
fn allocating_past_memory_limit_is_oom_killed() {
    let sb = Sandbox::new();
    let limit = 32 << 20;
    let edit = |s: &mut serde_json::Value| {
        s["linux"]["resources"]["memory"] = json!({"limit": limit, "swap": limit});
    };
    // dd's 64 MiB buffer does not fit in 32 MiB: the kernel kills it with SIGKILL.
    let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];
    let b = sb.bundle("oom", &dd, edit);
    let out = sb.berth(&["run", "-b", b.to_str().unwrap(), "oom"]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    // The cgroup's OOM counter says so too (read before delete).
    let b2 = sb.bundle("oom2", &dd, edit);
    ok(&sb.berth(&["run", "-d", "-b", b2.to_str().unwrap(), "oom2"]));
    sb.wait_status("oom2", "stopped").unwrap();
    let dir = sb.cgroup_dir("memory", "oom2");
    let (file, key) = if v2() { ("memory.events", "oom_kill") } else { ("memory.oom_control", "oom_kill") };
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let kills: u64 = text.lines().find_map(|l| l.strip_prefix(key)?.trim().parse().ok()).unwrap();
    assert!(kills >= 1, "{text}");
    let limit_file = if v2() { "memory.max" } else { "memory.limit_in_bytes" };
    assert_eq!(std::fs::read_to_string(dir.join(limit_file)).unwrap().trim(), limit.to_string());
    ok(&sb.berth(&["delete", "oom2"]));
    assert!(!dir.exists());
}

#[test]
fn fork_loop_stops_at_pids_limit() {
    let sb = Sandbox::new();
    // The fork loop runs in a subshell (busybox sh exits when a fork fails); afterwards only
    // shell builtins: at the limit even `cat` could not be forked.
    let script = "p=/sys/fs/cgroup/pids; [ -e /sys/fs/cgroup/cgroup.controllers ] && p=/sys/fs/cgroup; \
                  (i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; \
                  read cur < $p/pids.current; read max < $p/pids.max; \
                  read ev < $p/pids.events; echo current=$cur max=$max events=$ev";
    let b = sb.bundle("pids", &["sh", "-c", script], |s| {
        s["linux"]["resources"]["pids"] = json!({"limit": 10});
    });
    let out = ok(&sb.berth(&["run", "-b", b.to_str().unwrap(), "pids"]));
    // sh + subshell + 8 sleeps hit the limit of 10; the subshell then gave up and exited.
    assert_eq!(out, "current=9 max=10 events=max 1\n");
}

#[test]
fn cpu_settings_written_as_specified() {
    let sb = Sandbox::new();
    let b = sb.bundle("cpu", &["sleep", "60"], |s| {
        s["linux"]["resources"]["cpu"] = json!({"quota": 25000, "period": 50000, "shares": 512, "cpus": "0", "mems": "0"});
    });
    ok(&sb.berth(&["create", "-b", b.to_str().unwrap(), "cpu"]));
    let read = |ctrl: &str, f: &str| std::fs::read_to_string(sb.cgroup_dir(ctrl, "cpu").join(f)).unwrap().trim().to_string();
    if v2() {
        assert_eq!(read("cpu", "cpu.max"), "25000 50000");
        assert_eq!(read("cpu", "cpu.weight"), "20");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    } else {
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "25000");
        assert_eq!(read("cpu", "cpu.cfs_period_us"), "50000");
        assert_eq!(read("cpu", "cpu.shares"), "512");
        assert_eq!(read("cpuset", "cpuset.cpus"), "0");
        assert_eq!(read("cpuset", "cpuset.mems"), "0");
    }
    // The init is in the cgroup before it runs anything.
    let pid = sb.state("cpu").unwrap()["pid"].to_string();
    let procs = read("cpu", "cgroup.procs");
    assert!(procs.lines().any(|l| l == pid), "{procs}");
    ok(&sb.berth(&["delete", "cpu"]));
    assert!(!sb.cgroup_dir("cpu", "cpu").exists());
    assert!(!sb.cgroup_dir("cpuset", "cpu").exists());
}

/// cpu.shares out of the kernel's [2, 262144] is clamped by it (2^62 even wraps in its
/// fixed-point scaling and lands on the minimum): like runc, berth reads the value back and
/// refuses the create instead of running with another weight.
#[test]
fn cpu_shares_the_kernel_would_clamp_are_refused() {
    if v2() {
        eprintln!("skipped: cgroup v2 (shares are converted to a weight, clamped there)");
        return;
    }
    let sb = Sandbox::new();
    for (name, shares, want) in [
        ("sh1", 1u64 << 62, "the maximum allowed cpu-shares is"),
        ("sh2", 300_000, "the maximum allowed cpu-shares is 262144"),
        ("sh3", 1, "the minimum allowed cpu-shares is 2"),
    ] {
        let b = sb.bundle(name, &["true"], |s| s["linux"]["resources"]["cpu"] = json!({"shares": shares}));
        let out = sb.berth(&["create", "-b", b.to_str().unwrap(), name]);
        assert!(!out.status.success(), "{name}: shares {shares} accepted");
        assert!(stderr(&out).contains(want), "{name}: {}", stderr(&out));
        let _ = sb.berth(&["delete", "-f", name]);
        assert!(!sb.cgroup_dir("cpu", name).exists(), "{name}: cgroup left behind");
    }
}

#[test]
fn block_io_weight_where_the_kernel_has_it() {
    let sb = Sandbox::new();
    let b = sb.bundle("blk", &["true"], |s| {
        s["linux"]["resources"]["blockIO"] = json!({"weight": 300});
    });
    let dir = sb.cgroup_dir(if v2() { "io" } else { "blkio" }, "blk");
    let parent = dir.parent().unwrap().parent().unwrap().to_path_buf();
    let files = if v2() { ["io.bfq.weight", "io.weight"] } else { ["blkio.weight", "blkio.bfq.weight"] };
    // The knob exists in every cgroup but the root; probe a sibling we create ourselves.
    let probe = parent.join(format!("{}-probe", sb.cgroup_parent));
    std::fs::create_dir(&probe).unwrap();
    let has = files.iter().any(|f| probe.join(f).exists());
    std::fs::remove_dir(&probe).unwrap();
    let out = sb.berth(&["run", "-b", b.to_str().unwrap(), "blk"]);
    if has {
        ok(&out);
    } else {
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.starts_with("berth runtime: linux.resources.blockIO.weight: this kernel has no"), "{err}");
        assert!(sb.leftover_state().is_empty());
        assert!(!dir.exists());
    }
}

#[test]
fn kill_all_signals_every_process_in_the_cgroup() {
    let sb = Sandbox::new();
    // Without a pid namespace the init's children would survive it: --all reaches them too.
    let b = sb.bundle("all", &["sh", "-c", "sleep 60 & sleep 60 & wait"], |s| {
        let ns: Vec<_> = s["linux"]["namespaces"].as_array().unwrap().iter().filter(|n| n["type"] != "pid").cloned().collect();
        s["linux"]["namespaces"] = ns.into();
    });
    ok(&sb.berth(&["run", "-d", "-b", b.to_str().unwrap(), "all"]));
    let procs = sb.cgroup_dir("pids", "all").join("cgroup.procs");
    let count = || std::fs::read_to_string(&procs).unwrap().lines().count();
    for _ in 0..200 {
        if count() == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(count(), 3);
    ok(&sb.berth(&["kill", "--all", "all", "KILL"]));
    for _ in 0..200 {
        if count() == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(count(), 0);
    ok(&sb.berth(&["delete", "all"]));
}
