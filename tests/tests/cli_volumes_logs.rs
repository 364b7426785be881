//! `volume` commands (berth and docker CLI), `logs -f` following until the container exits.

use berth_tests::engine::{Engine, have_docker};

#[test]
fn volumes_and_follow() {
    let e = Engine::start();
    e.import_busybox();
    assert_eq!(e.ok(&["volume", "create", "vol1"]), "vol1\n");
    assert_eq!(e.ok(&["volume", "ls"]), "DRIVER    VOLUME NAME\nlocal     vol1\n");
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", "vol1"])).unwrap();
    assert_eq!(v[0]["Mountpoint"], e.data_root().join("volumes/vol1/_data").display().to_string());
    e.ok(&["run", "--name", "user", "-v", "vol1:/v", "busybox", "sh", "-c", "echo persisted > /v/f"]);
    assert_eq!(e.ok(&["run", "--rm", "-v", "vol1:/v", "busybox", "cat", "/v/f"]), "persisted\n");
    let r = e.berth(&["volume", "rm", "vol1"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("Error response from daemon: remove vol1: volume is in use - ["), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "vol1"])).unwrap();
    assert_eq!(v[0]["Driver"], "local", "inspect falls through to volumes");
    e.ok(&["rm", "user"]);
    assert_eq!(e.ok(&["volume", "rm", "vol1"]), "vol1\n");
    let r = e.berth(&["volume", "inspect", "vol1"]);
    assert_eq!(r.stderr, "Error response from daemon: get vol1: no such volume\n");

    // anonymous volumes: image VOLUME and `-v /path`; `rm -v` removes them
    let tar = berth_tests::engine::busybox_tar();
    e.ok(&["import", "-c", "VOLUME [\"/data\"]", tar.to_str().unwrap(), "bbvol"]);
    e.ok(&["run", "-d", "--name", "av", "-v", "/scratch", "bbvol", "sh", "-c", "echo a > /data/a; echo s > /scratch/s; sleep 100"]);
    let mounts: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .Mounts}}", "av"])).unwrap();
    let mounts = mounts.as_array().unwrap();
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    let names: Vec<String> = mounts.iter().map(|m| m["Name"].as_str().unwrap().to_string()).collect();
    assert!(names.iter().all(|n| n.len() == 64) && mounts.iter().all(|m| m["Type"] == "volume"), "{mounts:?}");
    let ls = e.ok(&["volume", "ls", "-q"]);
    assert!(names.iter().all(|n| ls.contains(n.as_str())), "{ls}");
    e.ok(&["rm", "-f", "-v", "av"]);
    let ls = e.ok(&["volume", "ls", "-q"]);
    assert!(names.iter().all(|n| !ls.contains(n.as_str())), "rm -v removed them: {ls}");

    // logs -f streams while the container runs and ends when it exits
    e.ok(&["run", "-d", "--name", "counter", "busybox", "sh", "-c", "for i in 1 2 3 4; do echo $i; sleep 0.3; done; echo done >&2"]);
    let r = e.berth(&["logs", "-f", "counter"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "1\n2\n3\n4\n", "done\n"));

    if have_docker("the docker volume checks") {
        let r = e.docker(&["volume", "create", "dv"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "dv\n"), "{r:?}");
        let r = e.docker(&["volume", "ls"]);
        assert!(r.stdout.contains("local     dv"), "{r:?}");
        // --tail counts entries of both streams: the last two are "4" (stdout) and "done" (stderr).
        let r = e.docker(&["logs", "-f", "--tail", "2", "counter"]);
        assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("4\n", "done\n"));
        let r = e.docker(&["volume", "rm", "dv"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "dv\n"), "{r:?}");
    }
}

#[test]
fn prune_commands() {
    let e = Engine::start();
    e.import_busybox();
    e.ok(&["run", "--name", "stopped1", "busybox", "true"]);
    e.ok(&["run", "-d", "--name", "running1", "busybox", "sleep", "100"]);
    let out = e.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:\n") && out.lines().count() == 4, "{out}");
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "running1\n");
    e.ok(&["tag", "busybox", "extra:1"]);
    e.ok(&["rmi", "extra:1"]);
    let r = e.berth(&["rmi", "busybox"]);
    assert_eq!(r.code, 1, "image used by running1: {r:?}");
    assert!(r.stderr.contains("conflict: unable to remove repository reference \"busybox\" (must force) - container"), "{r:?}");
    let out = e.ok(&["image", "prune", "-f", "-a"]);
    assert!(out.ends_with("Total reclaimed space: 0B\n"), "in-use image is kept: {out}");
    assert!(e.ok(&["images", "-q"]).lines().count() == 1);
    let info = e.ok(&["info"]);
    assert!(info.contains(" Images: 1\n") && info.contains("  Running: 1\n"), "{info}");
}

/// Copy-up: a new (empty) volume takes the image's content at its mount path on first mount;
/// an edited volume is not re-copied; bind mounts and `:nocopy` volumes stay as they are.
#[test]
fn volume_copy_up() {
    let e = Engine::start();
    e.import_busybox();
    let image_group = e.ok(&["run", "--rm", "busybox", "cat", "/etc/group"]);
    assert!(image_group.starts_with("root:x:0:"), "{image_group}");
    assert_eq!(e.ok(&["run", "--rm", "-v", "data:/etc", "busybox", "cat", "/etc/group"]), image_group);
    // ownership and modes come along (busybox's /etc/passwd is root-owned 0644)
    assert_eq!(e.ok(&["run", "--rm", "-v", "data:/etc", "busybox", "stat", "-c", "%u:%g %a", "/etc/passwd", "/etc"]), "0:0 644\n0:0 755\n");
    e.ok(&["run", "--rm", "-v", "data:/etc", "busybox", "sh", "-c", "echo edited:x:99: >> /etc/group; rm /etc/passwd"]);
    let after = e.ok(&["run", "--rm", "-v", "data:/etc", "busybox", "sh", "-c", "cat /etc/group; ls /etc/passwd 2>&1; true"]);
    assert_eq!(after, format!("{image_group}edited:x:99:\nls: /etc/passwd: No such file or directory\n"), "no re-copy over existing content");
    let data = e.data_root().join("volumes/data/_data");
    assert_eq!(std::fs::read_to_string(data.join("group")).unwrap(), format!("{image_group}edited:x:99:\n"));

    // an anonymous volume (`-v /etc`) is populated too
    e.ok(&["run", "--name", "anon", "-v", "/etc", "busybox", "cat", "/etc/group"]);
    assert_eq!(e.ok(&["logs", "anon"]), image_group);
    let mounts: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .Mounts}}", "anon"])).unwrap();
    let src = mounts[0]["Source"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(std::path::Path::new(src).join("group")).unwrap(), image_group);
    e.ok(&["rm", "-v", "anon"]);

    // a bind mount of an empty host dir is not populated
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/etc", host.path().display());
    assert_eq!(e.ok(&["run", "--rm", "-v", &bind, "busybox", "ls", "-A", "/etc"]), "");
    assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);

    // `nocopy` leaves a new volume empty
    assert_eq!(e.ok(&["run", "--rm", "-v", "bare:/etc:nocopy", "busybox", "ls", "-A", "/etc"]), "");
    assert_eq!(std::fs::read_dir(e.data_root().join("volumes/bare/_data")).unwrap().count(), 0);
}
