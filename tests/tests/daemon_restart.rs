//! berthd killed with SIGKILL while containers run: a new berthd finds them running, logs
//! and stop still work; restart policies.

use berth_tests::engine::Engine;

#[test]
fn sigkilled_daemon_loses_no_container() {
    let mut e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "loop", "busybox", "sh", "-c", "i=0; while true; do echo n $i; i=$((i+1)); sleep 0.2; done"]);
    e.ok(&["run", "--name", "done", "busybox", "echo", "finished"]);
    e.eventually(10, "output", || e.ok(&["logs", "loop"]).lines().count() >= 2);

    e.kill_daemon();
    // While berthd is away the container keeps running and logging through its shim.
    std::thread::sleep(std::time::Duration::from_millis(700));
    e.start_daemon();

    let ps = e.ok(&["ps"]);
    assert!(ps.contains("Up ") && ps.contains("loop"), "{ps}");
    assert!(e.ok(&["ps", "-a"]).contains("Exited (0)"));
    let before = e.ok(&["logs", "loop"]).lines().count();
    e.eventually(10, "logs keep growing", || e.ok(&["logs", "loop"]).lines().count() > before + 2);
    assert_eq!(e.ok(&["logs", "done"]), "finished\n");
    assert_eq!(e.ok(&["exec", "loop", "echo", "still"]), "still\n");
    assert_eq!(e.ok(&["stop", "-t", "1", "loop"]), "loop\n");
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "loop"]), "exited 137\n");
}

#[test]
fn restart_policies() {
    let mut e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "-d", "--name", "fail", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3"]);
    e.eventually(20, "two retries", || {
        e.ok(&["inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "fail"]) == "2 exited\n"
    });
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "fail"]), "3\n");

    e.ok(&["run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 0"]);
    e.eventually(20, "always restarts", || {
        e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]).trim().parse::<i64>().unwrap_or(0) >= 2
    });
    // A daemon restart keeps applying it.
    e.kill_daemon();
    e.start_daemon();
    let n: i64 = e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]).trim().parse().unwrap();
    e.eventually(20, "restarts after daemon restart", || {
        e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]).trim().parse::<i64>().unwrap_or(0) > n
    });
    // An explicit stop ends it.
    e.ok(&["stop", "-t", "1", "always"]);
    let n: i64 = e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]).trim().parse().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(e.ok(&["inspect", "-f", "{{.RestartCount}} {{.State.Running}}", "always"]), format!("{n} false\n"));
}
