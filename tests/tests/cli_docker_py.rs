//! Basic calls through docker-py (Debian's python3-docker, run by /usr/bin/python3).

use std::process::Command;

use berth_tests::engine::Engine;

const SCRIPT: &str = r#"
import sys, time, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
print("api", c.version()["ApiVersion"])
print("run", c.containers.run("busybox", ["echo", "py-hi"], remove=True).decode().strip())
ct = c.containers.run("busybox", ["sh", "-c", "echo bg; sleep 100"], detach=True, name="pyc")
ct.reload()
print("status", ct.status)
for _ in range(50):
    if ct.logs():
        break
    time.sleep(0.1)
print("logs", ct.logs().decode().strip())
r = ct.exec_run(["sh", "-c", "echo ex; exit 2"])
print("exec", r.exit_code, r.output.decode().strip())
ct.stop(timeout=1)
ct.reload()
print("stopped", ct.status, ct.attrs["State"]["ExitCode"])
ct.remove()
print("count", len(c.containers.list(all=True)))
print("tags", sorted(t for i in c.images.list() for t in i.tags))
try:
    c.containers.get("nosuch")
except docker.errors.NotFound as e:
    print("notfound", e.explanation)
"#;

#[test]
fn docker_py_basic_calls() {
    let has = Command::new("/usr/bin/python3").args(["-c", "import docker"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !has {
        eprintln!("skipping: /usr/bin/python3 has no docker module (apt-get install python3-docker)");
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    let out = Command::new("/usr/bin/python3").args(["-c", SCRIPT, &e.host()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}\n--- berthd:\n{}", String::from_utf8_lossy(&out.stderr), e.daemon_log());
    assert_eq!(
        stdout,
        "api 1.41\nrun py-hi\nstatus running\nlogs bg\nexec 2 ex\nstopped exited 137\ncount 0\ntags ['busybox:latest']\nnotfound No such container: nosuch\n"
    );
}
