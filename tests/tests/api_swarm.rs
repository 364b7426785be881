//! Swarm endpoints on a daemon with no swarm: 503 and moby's texts (not `404 page not found`),
//! through the raw API, the docker CLI and docker-py.

use berth_tests::engine::{have_docker, Engine};
use berth_tests::raw_api::{docker_py, have_docker_py, request};

const NOT_A_MANAGER: &str =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";
const NO_SWARM_MODE: &str = "berthd does not support swarm mode: this node cannot create or join a swarm";

#[test]
fn swarm_routes_answer_503_through_the_api() {
    let e = Engine::start();
    let cases: &[(&str, &str, &str)] = &[
        ("GET", "/swarm", NOT_A_MANAGER),
        ("POST", "/swarm/leave?force=1", NOT_IN_A_SWARM),
        ("POST", "/swarm/init", NO_SWARM_MODE),
        ("POST", "/swarm/join", NO_SWARM_MODE),
        ("POST", "/swarm/update?version=1", NOT_A_MANAGER),
        ("GET", "/swarm/unlockkey", NOT_A_MANAGER),
        ("POST", "/swarm/unlock", NOT_A_MANAGER),
        ("GET", "/nodes", NOT_A_MANAGER),
        ("GET", "/nodes/abc", NOT_A_MANAGER),
        ("DELETE", "/nodes/abc?force=1", NOT_A_MANAGER),
        ("POST", "/nodes/abc/update?version=3", NOT_A_MANAGER),
        ("GET", "/services?filters=%7B%7D", NOT_A_MANAGER),
        ("POST", "/services/create", NOT_A_MANAGER),
        ("GET", "/services/web", NOT_A_MANAGER),
        ("POST", "/services/web/update?version=2", NOT_A_MANAGER),
        ("DELETE", "/services/web", NOT_A_MANAGER),
        ("GET", "/services/web/logs?stdout=1", NOT_A_MANAGER),
        ("GET", "/tasks", NOT_A_MANAGER),
        ("GET", "/tasks/t1", NOT_A_MANAGER),
        ("GET", "/tasks/t1/logs?stdout=1", NOT_A_MANAGER),
        ("GET", "/secrets", NOT_A_MANAGER),
        ("POST", "/secrets/create", NOT_A_MANAGER),
        ("GET", "/secrets/s1", NOT_A_MANAGER),
        ("POST", "/secrets/s1/update?version=1", NOT_A_MANAGER),
        ("DELETE", "/secrets/s1", NOT_A_MANAGER),
        ("GET", "/configs", NOT_A_MANAGER),
        ("POST", "/configs/create", NOT_A_MANAGER),
        ("GET", "/configs/c1", NOT_A_MANAGER),
        ("POST", "/configs/c1/update?version=1", NOT_A_MANAGER),
        ("DELETE", "/configs/c1", NOT_A_MANAGER),
    ];
    for (method, path, msg) in cases {
        for prefix in ["", "/v1.41", "/v1.24"] {
            let body = (*method == "POST").then_some("{}");
            let r = request(&e.sock, method, &format!("{prefix}{path}"), body);
            assert_eq!((r.status, r.message().as_str()), (503, *msg), "{method} {prefix}{path}: {r:?}");
            assert_eq!(r.header("Content-Type").as_deref(), Some("application/json"), "{r:?}");
            assert_eq!(r.header("Api-Version").as_deref(), Some("1.41"), "{r:?}");
        }
    }
    // Not swarm routes: still 404.
    for (method, path) in
        [("GET", "/swarm/leave"), ("POST", "/tasks/create"), ("DELETE", "/tasks/t1"), ("GET", "/nodes/a/b/c"), ("GET", "/swarmy")]
    {
        let r = request(&e.sock, method, &format!("/v1.41{path}"), None);
        assert_eq!((r.status, r.message().as_str()), (404, "page not found"), "{method} {path}: {r:?}");
    }
    // `docker info`'s swarm section: inactive.
    let info = request(&e.sock, "GET", "/v1.41/info", None).json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive", "{info}");
}

#[test]
fn swarm_commands_through_the_docker_cli() {
    if !have_docker("swarm commands through the docker CLI") {
        return;
    }
    let e = Engine::start();
    let daemon = |m: &str| format!("Error response from daemon: {m}\n");
    for (args, stderr) in [
        (&["swarm", "leave"][..], daemon(NOT_IN_A_SWARM)),
        (&["swarm", "leave", "--force"], daemon(NOT_IN_A_SWARM)),
        (&["swarm", "init"], daemon(NO_SWARM_MODE)),
        (&["swarm", "join", "--token", "SWMTKN-1-x", "127.0.0.1:2377"], daemon(NO_SWARM_MODE)),
        (&["swarm", "update", "--autolock"], daemon(NOT_A_MANAGER)),
        (&["swarm", "unlock-key"], format!("could not fetch unlock key: {}", daemon(NOT_A_MANAGER))),
        (&["node", "ls"], daemon(NOT_A_MANAGER)),
        (&["service", "ls"], daemon(NOT_A_MANAGER)),
        (&["service", "create", "--name", "web", "busybox"], daemon(NOT_A_MANAGER)),
        (&["service", "rm", "web"], daemon(NOT_A_MANAGER)),
        (&["secret", "ls"], daemon(NOT_A_MANAGER)),
        (&["config", "ls"], daemon(NOT_A_MANAGER)),
        (&["stack", "ls"], daemon(NOT_A_MANAGER)),
    ] {
        let r = e.docker(args);
        assert_eq!((r.code, r.stderr.as_str()), (1, stderr.as_str()), "docker {args:?}: {r:?}");
    }
    let r = e.docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "inactive\n"), "{r:?}");
}

const PY: &str = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
for what, f in [("inspect", lambda: c.api.inspect_swarm()), ("nodes", lambda: c.nodes.list()),
                ("services", lambda: c.services.list()), ("secrets", lambda: c.secrets.list()),
                ("configs", lambda: c.configs.list()), ("leave", lambda: c.swarm.leave()),
                ("init", lambda: c.swarm.init())]:
    try:
        f()
        print(what, "no error")
    except docker.errors.APIError as e:
        print(what, e.status_code, e.explanation)
print("leave-force", c.swarm.leave(force=True))
"#;

#[test]
fn swarm_calls_through_docker_py() {
    if !have_docker_py("swarm calls through docker-py") {
        return;
    }
    let e = Engine::start();
    let (ok, out, err) = docker_py(&e.host(), PY);
    assert!(ok, "{out}\n{err}\n--- berthd:\n{}", e.daemon_log());
    assert_eq!(
        out,
        format!(
            "inspect 503 {NOT_A_MANAGER}\nnodes 503 {NOT_A_MANAGER}\nservices 503 {NOT_A_MANAGER}\nsecrets 503 {NOT_A_MANAGER}\n\
             configs 503 {NOT_A_MANAGER}\nleave 503 {NOT_IN_A_SWARM}\ninit 503 {NO_SWARM_MODE}\nleave-force True\n"
        )
    );
}
