//! Namespaces (created and joined by path), pivot_root, masked/read-only paths, capabilities,
//! users and user namespaces.

use berth_tests::runtime::{ok, stderr, stdout, Sandbox};
use serde_json::json;

fn ns_id(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap().to_string_lossy().into_owned()
}

const ALL_NS: [&str; 6] = ["pid", "net", "ipc", "uts", "mnt", "cgroup"];

fn print_ns_script() -> String {
    ALL_NS.iter().map(|n| format!("echo {n}=$(readlink /proc/self/ns/{n}); ")).collect()
}

fn parse_kv(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn created_namespaces_differ_from_the_callers() {
    let sb = Sandbox::new();
    let script = print_ns_script();
    let b = sb.bundle("ns", &["sh", "-c", &script], |s| {
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    });
    let out = ok(&sb.berth(&["run", "-b", b.to_str().unwrap(), "ns"]));
    let inside = parse_kv(&out);
    for ns in ALL_NS {
        assert_ne!(inside[ns], ns_id("self", ns), "{ns} namespace must be new");
    }
}

#[test]
fn namespaces_joined_by_path_equal_the_targets() {
    let sb = Sandbox::new();
    // The target: a container with its own net, uts and ipc namespaces.
    let tb = sb.bundle("target", &["sleep", "60"], |s| s["hostname"] = "target-host".into());
    ok(&sb.berth(&["run", "-d", "-b", tb.to_str().unwrap(), "target"]));
    let tpid = sb.state("target").unwrap()["pid"].to_string();
    let script = print_ns_script() + "hostname";
    let b = sb.bundle("joiner", &["sh", "-c", &script], |s| {
        s["hostname"] = serde_json::Value::Null;
        s["linux"]["namespaces"] = json!([
            {"type": "pid"},
            {"type": "mount"},
            {"type": "network", "path": format!("/proc/{tpid}/ns/net")},
            {"type": "uts", "path": format!("/proc/{tpid}/ns/uts")},
            {"type": "ipc", "path": format!("/proc/{tpid}/ns/ipc")},
        ]);
    });
    let out = ok(&sb.berth(&["run", "-b", b.to_str().unwrap(), "joiner"]));
    let inside = parse_kv(&out);
    for ns in ["net", "uts", "ipc"] {
        assert_eq!(inside[ns], ns_id(&tpid, ns), "{ns} joined by path");
        assert_ne!(inside[ns], ns_id("self", ns));
    }
    assert_ne!(inside["pid"], ns_id(&tpid, "pid"));
    assert!(out.ends_with("target-host\n"), "{out}");
    ok(&sb.berth(&["delete", "--force", "target"]));
}

#[test]
fn pivot_root_hides_host_paths_and_masks_paths() {
    let sb = Sandbox::new();
    let marker = sb.path().join("host-marker");
    std::fs::write(&marker, "secret").unwrap();
    let script = format!(
        "test -e {m} && echo marker-visible; test -e /work && echo work-visible; \
         echo timer_list=$(cat /proc/timer_list | wc -c); echo acpi=$(ls /proc/acpi | wc -l); \
         touch /proc/sys/kernel/x 2>/dev/null || echo procsys-ro; \
         touch /newfile 2>/dev/null || echo root-ro; \
         awk '$5 == \"/\"' /proc/self/mountinfo | wc -l",
        m = marker.display()
    );
    let b = sb.bundle("pv", &["sh", "-c", &script], |_| {});
    let out = ok(&sb.berth(&["run", "-b", b.to_str().unwrap(), "pv"]));
    assert!(!out.contains("marker-visible"), "{out}");
    assert!(!out.contains("work-visible"), "{out}");
    // Masked: a file shows /dev/null, a directory an empty read-only tmpfs.
    assert!(std::fs::metadata("/proc/timer_list").is_ok(), "host has /proc/timer_list");
    assert!(out.contains("timer_list=0\n"), "{out}");
    assert!(out.contains("acpi=0\n"), "{out}");
    assert!(out.contains("procsys-ro\n"), "{out}");
    assert!(out.contains("root-ro\n"), "{out}");
    // The old root is detached: exactly one mount at /.
    assert!(out.ends_with("\n1\n"), "{out}");
    assert!(sb.leftover_mounts().is_empty());
}

#[test]
fn capabilities_and_user_as_specified() {
    let sb = Sandbox::new();
    let b = sb.bundle("caps", &["sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; id; ulimit -n; echo home=$HOME; pwd; cat /proc/self/oom_score_adj"], |s| {
        let caps = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]);
        s["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps
        });
        s["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]});
        s["process"]["cwd"] = "/tmp".into();
        s["process"]["oomScoreAdj"] = 250.into();
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    });
    let out = ok(&sb.berth(&["run", "-b", b.to_str().unwrap(), "caps"]));
    // CAP_CHOWN=0, CAP_KILL=5, CAP_NET_RAW=13 → 0x2021, in every set (ambient keeps a non-root
    // process's capabilities across execve).
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(out.contains(&format!("{set}:\t0000000000002021\n")), "{set}: {out}");
    }
    assert!(out.contains("NoNewPrivs:\t1\n"), "{out}");
    assert!(out.contains("uid=1000 gid=1000 groups=10(wheel),20(dialout)") || out.contains("uid=1000 gid=1000 groups=10,20"), "{out}");
    assert!(out.contains("\n256\n"), "{out}");
    assert!(out.contains("home=/\n"), "{out}");
    assert!(out.contains("/tmp\n250\n"), "{out}");
}

#[test]
fn user_namespace_with_mappings() {
    let sb = Sandbox::new();
    let b = sb.bundle("userns", &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user; stat -c '%t:%T %U' /dev/null"], |s| {
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let out = sb.berth(&["run", "-b", b.to_str().unwrap(), "userns"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}{}", text, stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["0", "100000", "65536"]);
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["0", "100000", "65536"]);
    assert_eq!(lines[2], "0");
    assert_ne!(lines[3], ns_id("self", "user"));
    // No mknod in a user namespace: /dev/null is the host's node bind-mounted (owned by the
    // unmapped host root, hence nobody).
    assert_eq!(lines[4], "1:3 nobody");
}
