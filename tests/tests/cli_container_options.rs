//! Container options and smaller commands: -v binds and named volumes, -e/-w/-u/-h,
//! resource limits in the cgroup, kill/pause/unpause/rename/top/wait/restart.

use berth_tests::engine::Engine;

fn cgroup_file(e: &Engine, ctrl: &str, id: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{ctrl}/{}/{id}/{file}", e.cgroup_parent.trim_start_matches('/'));
    std::fs::read_to_string(&p).unwrap_or_else(|err| panic!("{p}: {err}")).trim().to_string()
}

#[test]
fn options_and_commands() {
    let e = Engine::start();
    e.import_busybox();
    let host_dir = e.dir.path().join("bind/auto-created");
    let bind = format!("{}:/data", host_dir.display());
    let out = e.ok(&[
        "run", "--rm", "-v", &bind, "-v", "named:/vol", "-e", "A=1", "-w", "/tmp", "-h", "myhost",
        "busybox", "sh", "-c", "echo hello > /data/f; echo $A $(pwd) $(hostname) $(cat /etc/hostname); echo v > /vol/x",
    ]);
    assert_eq!(out, "1 /tmp myhost myhost\n");
    assert_eq!(e.ok(&["run", "--rm", "-u", "1000:1000", "busybox", "sh", "-c", "echo $(id -u):$(id -g)"]), "1000:1000\n");
    assert_eq!(std::fs::read_to_string(host_dir.join("f")).unwrap(), "hello\n", "bind source auto-created and written");
    assert_eq!(std::fs::read_to_string(e.data_root().join("volumes/named/_data/x")).unwrap(), "v\n");
    assert_eq!(e.ok(&["run", "--rm", "-v", "named:/vol:ro", "busybox", "cat", "/vol/x"]), "v\n");
    let r = e.berth(&["run", "--rm", "-v", "named:/vol:ro", "busybox", "sh", "-c", "echo no > /vol/x"]);
    assert_ne!(r.code, 0, "read-only volume");

    let id = e.ok(&["run", "-d", "--name", "lim", "-m", "64m", "--cpus", "0.5", "--pids-limit", "30", "busybox", "sleep", "1000"]);
    let id = id.trim();
    assert_eq!(cgroup_file(&e, "memory", id, "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(cgroup_file(&e, "cpu", id, "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup_file(&e, "pids", id, "pids.max"), "30");
    let hosts = e.ok(&["exec", "lim", "cat", "/etc/hosts"]);
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    let links = e.ok(&["exec", "lim", "ip", "-o", "link"]);
    // Default bridge (issue 6): lo plus the veth end eth0, nothing else.
    assert_eq!(links.lines().count(), 2, "lo and eth0 in the container's netns: {links}");
    assert!(links.contains(" eth0@"), "{links}");

    let top = e.ok(&["top", "lim"]);
    assert!(top.lines().next().unwrap().contains("PID") && top.contains("sleep 1000"), "{top}");
    e.ok(&["pause", "lim"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Status}}", "lim"]), "paused\n");
    assert!(e.ok(&["ps"]).contains("(Paused)"));
    assert_eq!(cgroup_file(&e, "freezer", id, "freezer.state"), "FROZEN");
    e.ok(&["unpause", "lim"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Status}}", "lim"]), "running\n");
    e.ok(&["rename", "lim", "lim2"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.Name}}", "lim2"]), "/lim2\n");
    e.ok(&["restart", "-t", "0", "lim2"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Running}}", "lim2"]), "true\n");
    assert_eq!(e.ok(&["kill", "lim2"]), "lim2\n");
    assert_eq!(e.ok(&["wait", "lim2"]), "137\n");
    let r = e.berth(&["kill", "lim2"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not running"), "{r:?}");

    // attach to a running container: output until it exits, then its exit code
    e.ok(&["run", "-d", "--name", "late", "busybox", "sh", "-c", "sleep 1; echo late; exit 4"]);
    let r = e.berth(&["attach", "late"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "late\n"), "{r:?}");
    let r = e.berth(&["attach", "late"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "You cannot attach to a stopped container, start it first\n"));
    // start -a attaches before starting, like docker start -a
    let r = e.berth(&["start", "-a", "late"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "late\n"), "{r:?}");

    let r = e.berth(&["run", "--name", "bad name", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"), "{r:?}");
    let r = e.berth(&["run", "BusyBox"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("invalid reference format: repository name (library/BusyBox) must be lowercase"), "{r:?}");
    let r = e.berth(&["run", "nosuchimage"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.starts_with("Unable to find image 'nosuchimage:latest' locally\n"), "{r:?}");
}

#[test]
fn oom_kill_is_recorded() {
    let e = Engine::start();
    e.import_busybox();
    let r = e.berth(&[
        "run", "--name", "oom", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(r.code, 137, "{r:?}");
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "oom"]), "true 137\n");
}
