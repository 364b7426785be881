//! `--init`: tini as /sbin/docker-init is PID 1, the command its child, orphans reaped;
//! daemon.json `init` makes it the default and `init-path` chooses the binary.

use berth_tests::engine::{Engine, have_docker};

/// Prints PID 1's command line and the shell's parent PID.
const PROBE: &str = "tr '\\0' ' ' < /proc/1/cmdline; echo; echo ppid=$PPID";

/// The states of the container's processes once an orphan (`sleep 0.1` whose parent shell
/// exited) has died; the command then `exec`s a `sleep` that never reaps anything.
fn states_after_orphan(e: &Engine, name: &str, init: bool) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    if init {
        args.push("--init");
    }
    args.extend(["busybox", "sh", "-c", "(sleep 0.1 &); exec sleep 100"]);
    e.ok(&args);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let out = e.ok(&["exec", name, "sh", "-c", "cat /proc/[0-9]*/stat | awk '{print $2 $3}' | sort | tr '\\n' ' '"]);
    e.ok(&["rm", "-f", name]);
    out
}

#[test]
fn init_is_pid1_and_reaps() {
    let mut e = Engine::start();
    e.import_busybox();
    let out = e.ok(&["run", "--rm", "--init", "busybox", "sh", "-c", PROBE]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("/sbin/docker-init -- sh -c "), "PID 1 is docker-init: {out}");
    assert_eq!(lines[1], "ppid=1", "the command is init's child: {out}");
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", PROBE]);
    assert!(out.starts_with("sh -c "), "{out}");
    let with = states_after_orphan(&e, "z1", true);
    assert!(!with.contains(")Z"), "the orphan was reaped by docker-init: {with}");
    // Without an init `sleep` is PID 1 and the orphan stays a zombie: the check above can fail.
    let without = states_after_orphan(&e, "z2", false);
    assert!(without.contains("(sleep)Z"), "no init, a zombie: {without}");

    e.ok(&["run", "-d", "--name", "i1", "--init", "busybox", "sleep", "100"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.HostConfig.Init}}", "i1"]), "true\n");
    // tini forwards SIGTERM to `sleep` (which, as PID 1, would ignore it): stop is quick.
    let t = std::time::Instant::now();
    e.ok(&["stop", "i1"]);
    assert!(t.elapsed().as_secs() < 5, "stop took {:?}", t.elapsed());
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "i1"]), "143\n");

    if have_docker("the docker run --init checks") {
        let r = e.docker(&["run", "--rm", "--init", "busybox", "cat", "/proc/1/cmdline"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "/sbin/docker-init\0--\0cat\0/proc/1/cmdline\0"), "{r:?}");
    }

    // daemon.json: `init` by default, `init-path` names the binary.
    e.kill_daemon();
    std::fs::write(e.dir.path().join("daemon.json"), r#"{"init": true, "init-path": "/usr/bin/tini-static"}"#).unwrap();
    e.start_daemon();
    assert!(e.ok(&["run", "--rm", "busybox", "cat", "/proc/1/cmdline"]).starts_with("/sbin/docker-init\0--\0"));
    e.kill_daemon();
    std::fs::write(e.dir.path().join("daemon.json"), r#"{"init-path": "/nonexistent/tini"}"#).unwrap();
    e.start_daemon();
    let r = e.berth(&["run", "--rm", "--init", "busybox", "true"]);
    // "no such file or directory": the CLI's 127, as for a missing command.
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/tini"), "{r:?}");
    e.ok(&["rm", "-f", "i1"]);
}
