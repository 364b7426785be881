//! The Docker 20.10 oracle (`berth_tests::docker_oracle`): it runs containers, and dropping it
//! leaves nothing behind; then a first comparison with berthd.

use berth_tests::docker_oracle::{cgroup_dirs, mounts_under, start_time, DockerOracle};
use berth_tests::engine::{fixtures_dir, Engine};
use berth_tests::raw_api;
use std::path::Path;

/// `(pid, start time)` of a live process: the pair tells a process from a later one that
/// reuses its PID.
fn identity(pid: i32) -> Option<(i32, String)> {
    Some((pid, start_time(pid)?))
}

/// PIDs of processes whose command line mentions `dir`.
fn processes_mentioning(dir: &Path) -> Vec<(i32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&needle) {
            out.push((pid, cmdline));
        }
    }
    out
}

#[test]
fn oracle_runs_busybox_and_leaves_nothing_behind() {
    let Some(docker) = DockerOracle::start().expect("starting the Docker oracle") else { return };
    let loaded = docker.load_fixture("busybox").unwrap();
    assert!(loaded.contains("busybox:latest"), "{loaded}");
    docker.ok(&["run", "--rm", "busybox", "true"]);
    assert_eq!(docker.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    let inspect: serde_json::Value = serde_json::from_str(&docker.ok(&["image", "inspect", "busybox"])).expect("image inspect is JSON");
    assert_eq!(inspect[0]["RepoTags"][0], "busybox:latest", "{inspect:#}");
    let info = docker.ok(&["version", "--format", "{{.Server.Version}}"]);
    assert!(info.starts_with("20.10."), "the oracle is Docker 20.10: {info}");

    // A container left running, with its cgroups and overlay mount: dropping must end it too.
    docker.ok(&["run", "-d", "--name", "left-running", "busybox", "sleep", "1000"]);
    let dir = docker.dir().to_path_buf();
    let cgroup_parent = docker.cgroup_parent().to_string();
    let pids: Vec<_> = docker.pids().into_iter().filter_map(identity).collect();
    assert!(pids.len() >= 5, "init, dockerd, containerd, a shim and sleep at least: {pids:?}");
    assert!(!processes_mentioning(&dir).is_empty(), "dockerd's command line names its dir");
    assert!(!cgroup_dirs(&cgroup_parent).is_empty(), "the running container has cgroups under {cgroup_parent}");
    eprintln!("oracle: {} processes, storage driver {}, started in {:.2?}", pids.len(), docker.storage_driver(), docker.started_in());
    drop(docker);

    let alive: Vec<_> = pids.iter().filter(|(pid, start)| identity(*pid).as_ref().map(|(_, s)| s) == Some(start)).collect();
    assert!(alive.is_empty(), "processes of the oracle still alive: {alive:?}");
    assert_eq!(processes_mentioning(&dir), vec![], "processes naming the oracle's dir");
    assert!(!dir.exists(), "{} was not removed", dir.display());
    assert_eq!(mounts_under(&dir), Vec::<String>::new(), "mounts under the oracle's dir");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let naming: Vec<_> = mountinfo.lines().filter(|l| l.contains(&*dir.to_string_lossy())).collect();
    assert!(naming.is_empty(), "mounts naming the oracle's dir (as source or root too): {naming:?}");
    assert_eq!(cgroup_dirs(&cgroup_parent), Vec::<std::path::PathBuf>::new(), "cgroups left");
}

/// The keys of the first JSON object in `text` (for `docker image inspect`, the image inside
/// the array), in the order they are written.
fn top_level_keys(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut i = text.find('{').unwrap_or_else(|| panic!("no JSON object in {text}"));
    let (mut depth, mut key_next, mut keys) = (0usize, false, vec![]);
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && key_next {
                    keys.push(serde_json::from_str(&text[start..=i]).unwrap());
                    key_next = false;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                key_next = depth == 1;
            }
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return keys;
                }
            }
            b',' if depth == 1 => key_next = true,
            _ => {}
        }
        i += 1;
    }
    panic!("unterminated JSON object: {text}")
}

/// Where two key lists differ: keys only one has, then both orders side by side (`*` where
/// they differ).
fn diff(want: &[String], got: &[String]) -> String {
    let only = |a: &[String], b: &[String]| a.iter().filter(|k| !b.contains(k)).cloned().collect::<Vec<_>>();
    let mut out = format!("only Docker: {:?}, only berthd: {:?}\n", only(want, got), only(got, want));
    out.push_str(&format!("      {:<18}{}\n", "Docker 20.10", "berthd"));
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i).map_or("", |s| s), got.get(i).map_or("", |s| s));
        out.push_str(&format!("  {} {i:>2} {w:<18}{g}\n", if w == g { ' ' } else { '*' }));
    }
    out
}

#[test]
fn key_helpers() {
    let keys = top_level_keys(r#"[{"Id":"x","A":{"B":[1,{"C":2}]},"S":"a,\"b\":c","RepoTags":["t"]}]"#);
    assert_eq!(keys, ["Id", "A", "S", "RepoTags"]);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let d = diff(&s(&["a", "b", "c"]), &s(&["a", "c"]));
    assert!(d.starts_with("only Docker: [\"b\"], only berthd: []\n"), "{d}");
    assert!(d.contains("    0 a                 a\n  *  1 b                 c\n  *  2 c                 \n"), "{d}");
}

/// Top-level key order of `docker image inspect busybox` (through the CLI and the raw
/// `GET /images/busybox/json`), Docker 20.10 against berthd, the same archive loaded into both.
#[test]
fn image_inspect_top_level_key_order_matches_docker() {
    let Some(docker) = DockerOracle::start().expect("starting the Docker oracle") else { return };
    let engine = Engine::start();
    docker.load_fixture("busybox").unwrap();
    let tar = fixtures_dir().join("images/busybox.tar");
    let r = engine.docker(&["load", "-i", &tar.to_string_lossy()]);
    assert_eq!(r.code, 0, "docker load into berthd: {r:?}");

    let mut report = vec![];
    let berthd_cli = engine.docker(&["image", "inspect", "busybox"]);
    assert_eq!(berthd_cli.code, 0, "{berthd_cli:?}");
    let pairs = [
        ("docker image inspect busybox", docker.ok(&["image", "inspect", "busybox"]), berthd_cli.stdout),
        (
            "GET /v1.41/images/busybox/json",
            raw_api::request(docker.socket(), "GET", "/v1.41/images/busybox/json", None).body,
            raw_api::request(&engine.sock, "GET", "/v1.41/images/busybox/json", None).body,
        ),
    ];
    for (what, want, got) in &pairs {
        let (want, got) = (top_level_keys(want), top_level_keys(got));
        if want != got {
            report.push(format!("{what}: top-level keys differ; {}", diff(&want, &got)));
        }
    }
    assert!(report.is_empty(), "berthd's image inspect differs from Docker 20.10's:\n{}", report.join("\n"));
}
