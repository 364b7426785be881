//! `events`: the lifecycle of a container, exec, images and volumes as Docker reports them,
//! replayed with `--since/--until` and streamed live, through berth and the docker CLI.

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use berth_tests::engine::{bins, Engine, have_docker};

fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// `Type Action` of every event line in `--format '{{.Type}} {{.Action}}'` output.
fn actions(out: &str) -> Vec<String> {
    out.lines().map(String::from).collect()
}

#[test]
fn lifecycle_events_replayed_and_streamed() {
    let e = Engine::start();
    e.import_busybox();
    let t0 = now();
    e.ok(&["volume", "create", "ev1"]);
    assert_eq!(e.berth(&["run", "--name", "evc", "-l", "team=a", "busybox", "sh", "-c", "exit 3"]).code, 3);
    e.ok(&["rename", "evc", "evc2"]);
    e.ok(&["run", "-d", "--name", "evd", "busybox", "sleep", "100"]);
    e.ok(&["exec", "evd", "true"]);
    e.ok(&["pause", "evd"]);
    e.ok(&["unpause", "evd"]);
    e.ok(&["stop", "-t", "1", "evd"]);
    e.ok(&["commit", "evd", "evimg:1"]);
    e.ok(&["tag", "busybox", "evtag:1"]);
    e.ok(&["rmi", "evtag:1"]);
    e.ok(&["rm", "evd", "evc2"]);
    e.ok(&["volume", "rm", "ev1"]);
    let t1 = now();

    let fmt = "{{.Type}} {{.Action}}";
    let out = e.ok(&["events", "--since", &t0, "--until", &t1, "--format", fmt]);
    let got = actions(&out);
    let want = [
        "volume create",
        "container create",
        "container attach",
        "container start",
        "container die",
        "container rename",
        "container create",
        "container start",
        "container exec_create: true",
        "container exec_start: true",
        "container exec_die",
        "container pause",
        "container unpause",
        "container kill",
        "container die",
        "container stop",
        "container commit",
        "image tag",
        "image untag",
        "container destroy",
        "container destroy",
        "volume destroy",
    ];
    let mut it = got.iter();
    for w in want {
        assert!(it.any(|g| g == w), "missing {w:?} (in order) in:\n{out}");
    }

    // The JSON shape and attributes of a die event, filtered by container name and event.
    let out = e.ok(&["events", "--since", &t0, "--until", &t1, "--filter", "event=die", "--filter", "container=evc", "--format", "{{json .}}"]);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{out}");
    let ev = &lines[0];
    assert_eq!(ev["status"], "die");
    assert_eq!(ev["Type"], "container");
    assert_eq!(ev["from"], "busybox");
    assert_eq!(ev["id"], ev["Actor"]["ID"]);
    assert_eq!(ev["Actor"]["Attributes"]["exitCode"], "3");
    assert_eq!(ev["Actor"]["Attributes"]["name"], "evc");
    assert_eq!(ev["Actor"]["Attributes"]["team"], "a", "labels are attributes");
    assert_eq!(ev["scope"], "local");
    assert_eq!(ev["time"].as_i64().unwrap(), ev["timeNano"].as_i64().unwrap() / 1_000_000_000);

    // Default output: `<time> container kill <id> (image=busybox, name=evd, signal=15)`.
    // `sleep` as PID 1 ignores SIGTERM: stop escalates to SIGKILL after -t 1.
    let out = e.ok(&["events", "--since", &t0, "--until", &t1, "--filter", "event=kill"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].ends_with("(image=busybox, name=evd, signal=15)") && lines[1].ends_with("signal=9)"), "{out}");
    assert!(lines[0].contains(" container kill "), "{out}");
    let r = e.berth(&["events", "--since", &t1, "--until", &t0]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("cannot be after `until` time"), "{r:?}");

    // Live: a subscriber started before the container sees it, and ends at --until.
    let (berth, _) = bins();
    let until = format!("{}", SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 4);
    let child = Command::new(berth)
        .args(["events", "--until", &until, "--filter", "type=container", "--format", fmt])
        .env("BERTH_HOST", e.host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    std::thread::sleep(std::time::Duration::from_millis(500));
    e.ok(&["run", "--rm", "busybox", "true"]);
    let started = std::time::Instant::now();
    let out = loop {
        if waiter.is_finished() {
            break waiter.join().unwrap().unwrap();
        }
        if started.elapsed().as_secs() > 15 {
            // SAFETY: the events client we spawned, by PID.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("events --until did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let got = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        actions(&got),
        ["container create", "container attach", "container start", "container die", "container destroy"],
        "{got}"
    );
    assert!(!got.contains("volume"), "type filter: {got}");

    if have_docker("the docker events checks") {
        let r = e.docker(&["events", "--since", &t0, "--until", &t1, "--filter", "type=image", "--format", "{{.Action}} {{.Actor.Attributes.name}}"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.starts_with("tag evimg:1\ntag evtag:1\nuntag sha256:"), "{r:?}");
        let r = e.docker(&["events", "--since", &t0, "--until", &t1, "--filter", "container=evd", "--filter", "event=stop"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.lines().count() == 1 && r.stdout.contains(" container stop ") && r.stdout.contains("name=evd"), "{r:?}");
    }
}
