//! The same shim driving `berth runtime` instead of runc (daemon.json `default-runtime`).

use berth_tests::engine::Engine;

#[test]
fn containers_run_on_the_berth_runtime() {
    let e = Engine::start_with(&["--default-runtime", "berth"]);
    e.import_busybox();
    assert_eq!(e.ok(&["info"]).lines().find(|l| l.contains("Default Runtime")).unwrap().trim(), "Default Runtime: berth");
    assert_eq!(e.ok(&["run", "--rm", "busybox", "echo", "on-berth"]), "on-berth\n");
    let r = e.berth(&["run", "--rm", "busybox", "sh", "-c", "echo e >&2; exit 7"]);
    assert_eq!((r.code, r.stderr.as_str()), (7, "e\n"));
    e.ok(&["run", "-d", "--name", "w1", "busybox", "sh", "-c", "while true; do echo t; sleep 0.2; done"]);
    e.eventually(10, "logs", || e.ok(&["logs", "w1"]).lines().count() >= 2);
    assert_eq!(e.ok(&["exec", "w1", "echo", "exec-ok"]), "exec-ok\n");
    assert_eq!(e.ok(&["inspect", "-f", "{{.HostConfig.Runtime}}", "w1"]), "berth\n");
    e.ok(&["stop", "-t", "1", "w1"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "w1"]), "137\n");
    let r = e.berth(&["run", "busybox", "nosuchcmd"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("executable file not found"), "{r:?}");
}
