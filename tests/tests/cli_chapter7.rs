//! The course's chapter 7 command sequence through `berth`, against a sandboxed berthd.

use berth_tests::engine::Engine;

#[test]
fn chapter7_sequence_through_berth() {
    let e = Engine::start();
    e.import_busybox();
    let images = e.ok(&["images"]);
    assert!(images.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"), "{images}");
    assert!(images.contains("busybox      latest"), "{images}");

    // hello-world style run, output through the attach hijack, exit code through wait
    assert_eq!(e.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    let r = e.berth(&["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (3, "out\n", "err\n"));
    assert_eq!(e.ok(&["ps", "-aq"]), "", "--rm containers are gone");

    // stdin through a non-tty attach, closed on EOF (StdinOnce)
    let r = e.berth_stdin(&["run", "-i", "--rm", "busybox", "cat"], Some(b"piped\n"));
    assert_eq!((r.code, r.stdout.as_str()), (0, "piped\n"), "{r:?}");

    // -d loop + logs
    let id = e.ok(&["run", "-d", "--name", "web", "busybox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]);
    assert_eq!(id.trim().len(), 64);
    e.eventually(10, "three ticks", || e.ok(&["logs", "web"]).lines().count() >= 3);
    let logs = e.ok(&["logs", "web"]);
    assert!(logs.starts_with("tick 0\ntick 1\n"), "{logs}");
    let tail = e.ok(&["logs", "--tail", "1", "-t", "web"]);
    assert_eq!(tail.lines().count(), 1);
    assert!(tail.contains("Z tick "), "timestamped: {tail}");
    let ps = e.ok(&["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE     COMMAND                  CREATED"), "{ps}");
    assert!(ps.contains("\"sh -c 'i=0; while t…\"") && ps.contains("Up ") && ps.trim_end().ends_with("web"), "{ps}");

    // name conflict, verbatim
    let r = e.berth(&["run", "-d", "--name", "web", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains(&format!("Conflict. The container name \"/web\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", id.trim())), "{r:?}");

    // stop (SIGTERM ignored by sh as PID 1 → SIGKILL after -t) / start
    assert_eq!(e.ok(&["stop", "-t", "1", "web"]), "web\n");
    assert!(e.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert_eq!(e.ok(&["stop", "web"]), "web\n", "304 is not an error");
    assert_eq!(e.ok(&["start", "web"]), "web\n");
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.Status}} {{.Name}} {{.RestartCount}}", "web"]), "running /web 0\n");

    // inspect JSON shape
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "web"])).unwrap();
    assert_eq!(v[0]["Id"], id.trim());
    assert_eq!(v[0]["Config"]["Image"], "busybox");
    assert_eq!(v[0]["Path"], "sh");
    assert!(v[0]["Image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v[0]["HostConfig"]["LogConfig"]["Type"], "json-file");
    let r = e.berth(&["inspect", "nosuch"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (1, "[]\n", "Error: No such object: nosuch\n"));

    // exec: output, exit code, env
    assert_eq!(e.ok(&["exec", "-e", "FOO=bar", "web", "sh", "-c", "echo $FOO; hostname"]), format!("bar\n{}\n", &id[..12]));
    assert_eq!(e.berth(&["exec", "web", "sh", "-c", "exit 5"]).code, 5);

    // commit, then run the new image
    e.ok(&["exec", "web", "sh", "-c", "echo committed > /data.txt"]);
    let img = e.ok(&["commit", "web", "busybox:ch7"]);
    assert!(img.starts_with("sha256:"), "{img}");
    assert_eq!(e.ok(&["run", "--rm", "busybox:ch7", "cat", "/data.txt"]), "committed\n");
    let hist = e.ok(&["history", "busybox:ch7"]);
    assert!(hist.starts_with("IMAGE          CREATED") && hist.lines().count() == 3, "{hist}");

    // diff and export of the running container
    assert!(e.ok(&["diff", "web"]).lines().any(|l| l == "A /data.txt"));
    let tar = e.dir.path().join("web.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "web"]);
    let list = std::process::Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.lines().any(|l| l.trim_start_matches("./") == "data.txt") && list.contains("bin/busybox"), "{list}");

    // rm of a running container: 409 text
    let r = e.berth(&["rm", "web"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, format!("Error response from daemon: You cannot remove a running container {}. Stop the container before attempting removal or force remove\n", id.trim()));

    // command not found: exit 127, container left in Created
    let r = e.berth(&["run", "--name", "nf", "busybox", "nosuchcmd"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("executable file not found in $PATH"), "{r:?}");

    // stop $(ps -aq) / rm $(ps -aq)
    e.ok(&["run", "-d", "busybox", "sleep", "1000"]);
    let all: Vec<String> = e.ok(&["ps", "-aq"]).lines().map(String::from).collect();
    assert_eq!(all.len(), 3);
    let mut args = vec!["stop", "-t", "1"];
    args.extend(all.iter().map(String::as_str));
    e.ok(&args);
    let mut args = vec!["rm"];
    args.extend(all.iter().map(String::as_str));
    e.ok(&args);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.berth(&["logs", "web"]).stderr, "Error response from daemon: No such container: web\n");
}
