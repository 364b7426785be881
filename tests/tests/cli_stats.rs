//! `stats`: cgroup counters as Docker reports them: the memory limit equals `--memory`, PIDS
//! follows the container's processes; the table and the docker CLI agree.

use berth_tests::engine::{Engine, have_docker};

#[test]
fn stats_report_limits_and_processes() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "st", "--memory", "64m", "busybox", "sh", "-c", "sleep 300 & sleep 300 & wait"]);
    let fmt = "{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}";
    let out = e.ok(&["stats", "--no-stream", "--format", fmt, "st"]);
    let f: Vec<&str> = out.trim_end().split('|').collect();
    assert_eq!(f.len(), 4, "{out}");
    assert_eq!(f[0], "st");
    assert!(f[1].ends_with(" / 64MiB") && !f[1].starts_with("0B"), "limit is --memory, usage is not zero: {out}");
    assert_eq!(f[2], "3", "sh and two sleeps: {out}");
    assert!(f[3].ends_with('%'), "{out}");

    // The raw document (one-shot: no priming sample).
    if std::path::Path::new("/usr/bin/curl").exists() {
        let o = std::process::Command::new("/usr/bin/curl")
            .args(["-sf", "--unix-socket", e.sock.to_str().unwrap(), "http://d/v1.41/containers/st/stats?stream=false&one-shot=true"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["memory_stats"]["limit"], 64 << 20, "{v}");
        assert_eq!(v["pids_stats"]["current"], 3, "{v}");
        assert_eq!(v["name"], "/st");
        assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
        assert!(v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap() > 0, "{v}");
        assert!(v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0, "{v}");
        assert!(v["memory_stats"]["stats"]["total_inactive_file"].is_u64(), "{v}");
    }

    // One more process in the container's cgroup shows up.
    e.ok(&["exec", "-d", "st", "sleep", "300"]);
    e.eventually(10, "PIDS 4", || e.ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", "st"]) == "4\n");

    // The default table, with a stopped container (all zeros) listed by -a.
    e.ok(&["create", "--name", "idle", "busybox", "true"]);
    let out = e.ok(&["stats", "--no-stream", "-a"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0].split("   ").map(str::trim).filter(|s| !s.is_empty()).collect();
    assert_eq!(header, ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"], "{out}");
    let idle = lines.iter().find(|l| l.contains(" idle ")).unwrap_or_else(|| panic!("{out}"));
    assert!(idle.contains("0.00%") && idle.contains("0B / 0B") && idle.trim_end().ends_with(" 0"), "{out}");
    let r = e.berth(&["stats", "--no-stream", "nosuch"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error response from daemon: No such container: nosuch\n"), "{r:?}");

    if have_docker("the docker stats checks") {
        let r = e.docker(&["stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}", "st"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.trim_end().ends_with(" / 64MiB 4"), "{r:?}");
    }
    e.ok(&["rm", "-f", "st", "idle"]);
}
