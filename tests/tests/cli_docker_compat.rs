//! The same sequence through the real docker CLI 28.2.2 pointed at berthd (`DOCKER_HOST`).

use berth_tests::engine::{busybox_tar, have_docker, Engine};

#[test]
fn docker_cli_against_berthd() {
    if !have_docker("this test") {
        return;
    }
    let e = Engine::start();
    let r = e.docker(&["version"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("API version:       1.41 (downgraded from 1.50)"), "{}", r.stdout);
    let tar = busybox_tar();
    let r = e.docker(&["import", tar.to_str().unwrap(), "busybox"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("sha256:"), "{r:?}");

    let r = e.docker(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}\n{}", e.daemon_log());
    let r = e.docker(&["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (3, "out\n", "err\n"));
    let r = e.docker_stdin(&["run", "-i", "--rm", "busybox", "cat"], Some(b"via docker\n"));
    assert_eq!((r.code, r.stdout.as_str()), (0, "via docker\n"), "{r:?}");

    let r = e.docker(&["run", "-d", "--name", "web1", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    e.eventually(10, "logs", || e.docker(&["logs", "web1"]).stdout.lines().count() >= 2);
    let r = e.docker(&["ps", "-a"]);
    assert!(r.stdout.starts_with("CONTAINER ID   IMAGE     COMMAND                  CREATED"), "{}", r.stdout);
    assert!(r.stdout.contains(&id[..12]) && r.stdout.contains("web1"), "{}", r.stdout);

    let r = e.docker(&["exec", "web1", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "in-exec\n"), "{r:?}");
    let r = e.docker(&["exec", "web1", "nosuch"]);
    assert_ne!(r.code, 0);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("executable file not found"), "{r:?}");

    let r = e.docker(&["inspect", "-f", "{{.State.Running}}", "web1"]);
    assert_eq!(r.stdout, "true\n");
    let r = e.docker(&["inspect", "nosuch"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (1, "[]\n", "Error: No such object: nosuch\n"));

    let r = e.docker(&["run", "-d", "--name", "late", "busybox", "sh", "-c", "sleep 1; echo late; exit 4"]);
    assert_eq!(r.code, 0);
    let r = e.docker(&["attach", "late"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "late\n"), "{r:?}");
    let r = e.docker(&["start", "-a", "late"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "late\n"), "{r:?}");
    assert_eq!(e.docker(&["rm", "late"]).code, 0);

    let r = e.docker(&["run", "busybox", "nosuchcmd"]);
    assert_eq!(r.code, 127, "{r:?}");

    let r = e.docker(&["exec", "web1", "sh", "-c", "echo saved > /f"]);
    assert_eq!(r.code, 0);
    let r = e.docker(&["commit", "web1", "busybox:c1"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["run", "--rm", "busybox:c1", "cat", "/f"]);
    assert_eq!(r.stdout, "saved\n", "{r:?}");
    let r = e.docker(&["images"]);
    assert!(r.stdout.contains("busybox      c1"), "{}", r.stdout);

    let r = e.docker(&["rm", "web1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("Error response from daemon: You cannot remove a running container"), "{r:?}");
    let r = e.docker(&["stop", "-t", "1", "web1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "web1\n"));
    let r = e.docker(&["stop", "web1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "web1\n"), "304 → name printed, exit 0");

    // save → rmi → load round trip
    let archive = e.dir.path().join("c1.tar");
    let r = e.docker(&["save", "-o", archive.to_str().unwrap(), "busybox:c1"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["rm", "-f", "web1"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["rmi", "busybox:c1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Untagged: busybox:c1\n"), "{}", r.stdout);
    let r = e.docker(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "Loaded image: busybox:c1\n"), "{r:?}");
    // Only the container whose command was not found is left, in Created (as Docker leaves it).
    let r = e.docker(&["ps", "-a", "--format", "{{.Status}} {{.Command}}"]);
    assert_eq!(r.stdout, "Created \"nosuchcmd\"\n", "{r:?}");
}
