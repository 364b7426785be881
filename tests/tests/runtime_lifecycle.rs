//! `berth runtime` lifecycle on `runc spec` bundles: run, create/start/state/kill/delete, list,
//! exit codes, stdio inheritance, start exactly once.

use berth_tests::runtime::{ok, stderr, stdout, Sandbox};
use std::process::Stdio;

#[test]
fn run_is_pid1_with_spec_hostname_and_exit_code() {
    let sb = Sandbox::new();
    let b = sb.bundle("c1", &["sh", "-c", "echo pid=$$ host=$(hostname); exit 7"], |s| {
        s["hostname"] = "berth-box".into();
    });
    let out = sb.berth(&["run", "--bundle", b.to_str().unwrap(), "c1"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "pid=1 host=berth-box\n");
    // run deletes the container afterwards: no state, no cgroup dirs left.
    assert!(sb.leftover_state().is_empty());
    assert!(!sb.cgroup_dir("memory", "c1").exists());
}

#[test]
fn killed_container_exits_128_plus_signal() {
    let sb = Sandbox::new();
    let b = sb.bundle("k", &["sleep", "60"], |_| {});
    let mut run = sb.berth_cmd(&["run", "-b", b.to_str().unwrap(), "k"]).stdin(Stdio::null()).spawn().unwrap();
    sb.wait_status("k", "running").unwrap();
    ok(&sb.berth(&["kill", "k", "SIGKILL"]));
    assert_eq!(run.wait().unwrap().code(), Some(137));
    assert!(sb.leftover_state().is_empty());
}

#[test]
fn create_start_state_kill_delete() {
    let sb = Sandbox::new();
    let b = sb.bundle("life", &["sleep", "60"], |s| {
        s["annotations"] = serde_json::json!({"org.berth.test": "yes"});
    });
    let pidfile = sb.path().join("pid");
    ok(&sb.berth(&["create", "--bundle", b.to_str().unwrap(), "--pid-file", pidfile.to_str().unwrap(), "life"]));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let st = sb.state("life").unwrap();
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], "life");
    assert_eq!(st["bundle"], b.to_str().unwrap());
    assert_eq!(st["annotations"]["org.berth.test"], "yes");
    assert!(st["ociVersion"].is_string());
    // Created: the process exists but has not exec'd the user program yet.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "berth-init");
    let list = ok(&sb.berth(&["list"]));
    assert!(list.starts_with("ID "), "{list}");
    assert!(list.lines().any(|l| l.starts_with("life ") && l.contains("created")), "{list}");
    assert_eq!(ok(&sb.berth(&["list", "-q"])), "life\n");

    ok(&sb.berth(&["start", "life"]));
    sb.wait_status("life", "running").unwrap();
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim() == "sleep" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim(), "sleep");
    // start runs the process exactly once.
    let again = sb.berth(&["start", "life"]);
    assert!(!again.status.success());
    assert_eq!(stderr(&again), "berth runtime: cannot start an already running container\n");
    let del = sb.berth(&["delete", "life"]);
    assert_eq!(stderr(&del), "berth runtime: cannot delete container life that is not stopped: running\n");

    ok(&sb.berth(&["kill", "life", "KILL"]));
    sb.wait_status("life", "stopped").unwrap();
    assert_eq!(sb.state("life").unwrap()["pid"], 0);
    let k = sb.berth(&["kill", "life", "9"]);
    assert_eq!(stderr(&k), "berth runtime: container not running\n");
    ok(&sb.berth(&["delete", "life"]));
    assert!(sb.leftover_state().is_empty());
    assert!(!sb.cgroup_dir("memory", "life").exists());
    assert!(!sb.cgroup_dir("pids", "life").exists());
    let gone = sb.berth(&["state", "life"]);
    assert_eq!(stderr(&gone), "berth runtime: container life does not exist\n");
}

#[test]
fn force_delete_of_running_and_created_containers() {
    let sb = Sandbox::new();
    let b = sb.bundle("f1", &["sleep", "60"], |_| {});
    ok(&sb.berth(&["run", "-d", "-b", b.to_str().unwrap(), "f1"]));
    assert_eq!(sb.state("f1").unwrap()["status"], "running");
    ok(&sb.berth(&["delete", "--force", "f1"]));
    let b2 = sb.bundle("f2", &["sleep", "60"], |_| {});
    ok(&sb.berth(&["create", "-b", b2.to_str().unwrap(), "f2"]));
    // Deleting a created (never started) container is allowed, as with runc.
    ok(&sb.berth(&["delete", "f2"]));
    assert!(sb.leftover_state().is_empty());
    assert!(!sb.cgroup_dir("memory", "f1").exists());
    assert!(!sb.cgroup_dir("memory", "f2").exists());
}

#[test]
fn container_inherits_callers_stdio() {
    let sb = Sandbox::new();
    let b = sb.bundle("io", &["sh", "-c", "read line; echo got:$line; echo err >&2"], |_| {});
    let mut child = sb
        .berth_cmd(&["run", "-b", b.to_str().unwrap(), "io"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "got:hello\n");
    assert_eq!(stderr(&out), "err\n");
}

#[test]
fn global_runc_flags_are_accepted() {
    let sb = Sandbox::new();
    let b = sb.bundle("g", &["true"], |_| {});
    let log = sb.path().join("log.json");
    let out = sb.berth(&["--log", log.to_str().unwrap(), "--log-format", "json", "run", "-b", b.to_str().unwrap(), "g"]);
    ok(&out);
    let bad = sb.berth(&["--systemd-cgroup", "list"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--systemd-cgroup"), "{}", stderr(&bad));
    // Errors go to the --log file as runc's JSON lines.
    let _ = sb.berth(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "nope"]);
    let text = std::fs::read_to_string(&log).unwrap();
    let entry: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(entry["level"], "error");
    assert_eq!(entry["msg"], "container nope does not exist");
}
