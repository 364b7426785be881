//! `exec` in a running container: same namespaces and cgroup as its init, identity from the
//! process JSON (the shim's `exec --process F --detach --pid-file P`) or from flags, exit codes.

use berth_tests::runtime::{ok, stderr, stdout, Sandbox};
use serde_json::json;

fn ns(pid: &str, n: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap().to_string_lossy().into_owned()
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    let sb = Sandbox::new();
    let b = sb.bundle("ex", &["sleep", "60"], |s| s["hostname"] = "exbox".into());
    ok(&sb.berth(&["run", "-d", "-b", b.to_str().unwrap(), "ex"]));
    let init = sb.state("ex").unwrap()["pid"].to_string();
    let out = sb.berth(&["exec", "ex", "sh", "-c", "hostname; for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done; ps -o pid,comm | grep -c sleep; cat /proc/self/cgroup | grep memory; exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "exbox");
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt"].iter().enumerate() {
        assert_eq!(lines[1 + i], ns(&init, n), "{n}");
    }
    // It sees the init (PID namespace) and sits in the container's memory cgroup.
    assert_eq!(lines[6], "1");
    let host_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let init_mem = host_cg.lines().find(|l| l.contains(":memory:")).unwrap().to_string();
    assert!(init_mem.ends_with(&format!("{}/ex", sb.cgroup_parent)), "{init_mem}");
    assert!(lines[7].contains(":memory:"), "{text}");
    ok(&sb.berth(&["delete", "--force", "ex"]));
}

#[test]
fn exec_with_process_json_detached_like_the_shim() {
    let sb = Sandbox::new();
    // A writable root, so the exec'd process can leave its report in the rootfs.
    let b = sb.bundle("shim", &["sleep", "60"], |s| s["root"]["readonly"] = false.into());
    ok(&sb.berth(&["run", "-d", "-b", b.to_str().unwrap(), "shim"]));
    let marker = "/tmp/exec-marker";
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
        "args": ["sh", "-c", format!("id > {marker}; grep CapEff /proc/self/status >> {marker}; pwd >> {marker}; echo $FOO >> {marker}")],
        "env": ["PATH=/bin:/usr/bin", "FOO=from-json"],
        "cwd": "/etc",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
    });
    let pfile = sb.path().join("process.json");
    std::fs::write(&pfile, process.to_string()).unwrap();
    let pidfile = sb.path().join("exec.pid");
    ok(&sb.berth(&["exec", "--process", pfile.to_str().unwrap(), "--detach", "--pid-file", pidfile.to_str().unwrap(), "shim"]));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(pid > 0);
    // Wait for the exec'd process to finish writing, then read the file through the rootfs.
    let path = b.join("rootfs").join(marker.trim_start_matches('/'));
    let mut text = String::new();
    for _ in 0..300 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 4 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(text.starts_with("uid=1000 gid=1000 groups=10"), "{text}");
    assert!(text.contains("CapEff:\t0000000000000020\n"), "{text}");
    assert!(text.contains("/etc\nfrom-json\n"), "{text}");
    ok(&sb.berth(&["delete", "--force", "shim"]));
}

#[test]
fn exec_errors_are_clear() {
    let sb = Sandbox::new();
    let b = sb.bundle("exe", &["sleep", "60"], |_| {});
    let out = sb.berth(&["exec", "exe", "true"]);
    assert_eq!(stderr(&out), "berth runtime: container exe does not exist\n");
    ok(&sb.berth(&["run", "-d", "-b", b.to_str().unwrap(), "exe"]));
    let out = sb.berth(&["exec", "exe", "no-such-command"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "berth runtime: exec: \"no-such-command\": executable file not found in $PATH\n");
    ok(&sb.berth(&["kill", "exe", "KILL"]));
    sb.wait_status("exe", "stopped").unwrap();
    let out = sb.berth(&["exec", "exe", "true"]);
    assert_eq!(stderr(&out), "berth runtime: cannot exec in a stopped container\n");
    ok(&sb.berth(&["delete", "exe"]));
}

#[test]
fn exec_with_a_terminal() {
    let sb = Sandbox::new();
    let b = sb.bundle("ext", &["sleep", "60"], |_| {});
    ok(&sb.berth(&["run", "-d", "-b", b.to_str().unwrap(), "ext"]));
    // Foreground `exec -t` without a console socket: exec proxies the pty itself.
    let out = sb.berth(&["exec", "-t", "ext", "sh", "-c", "tty; test -t 0 && echo tty-stdin"]);
    let text = stdout(&out).replace('\r', "");
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.starts_with("/dev/pts/") && text.ends_with("\ntty-stdin\n"), "{text}");
    // Detached with a console socket, as the shim does for `docker exec -t`.
    let sock = sb.path().join("c.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let accept = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        berth_runtime::process::console::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&conn)).unwrap()
    });
    ok(&sb.berth(&["exec", "-t", "-d", "--console-socket", sock.to_str().unwrap(), "ext", "sh", "-c", "echo via-socket"]));
    let master = accept.join().unwrap();
    let mut master = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(master) };
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("via-socket") {
        match std::io::Read::read(&mut master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(String::from_utf8_lossy(&got).contains("via-socket"));
    ok(&sb.berth(&["delete", "--force", "ext"]));
}
