//! berthd against a real registry (Debian `docker-registry`, run inside the sandbox's network
//! namespace): push, rmi, pull back (same image ID, RepoDigests, `Already exists`), search,
//! and skopeo reading what berth pushed.

mod engine_registry_support;

use berth_tests::engine::Engine;
use engine_registry_support::SandboxRegistry;

fn image_id(e: &Engine, name: &str) -> String {
    e.ok(&["inspect", "--format", "{{.Id}}", name]).trim().to_string()
}

fn assert_no_scratch(e: &Engine) {
    let left: Vec<_> = std::fs::read_dir(e.data_root().join("tmp")).unwrap().map(|x| x.unwrap().path()).collect();
    assert!(left.is_empty(), "scratch files left in <data-root>/tmp: {left:?}");
}

#[test]
fn push_rmi_pull_round_trip_and_skopeo() {
    let e = Engine::start();
    let reg = SandboxRegistry::start(&e, "127.0.0.1:5000", &[]);
    e.import_busybox();
    let id = image_id(&e, "busybox");
    e.ok(&["tag", "busybox", "127.0.0.1:5000/demo/bb:v1"]);
    e.ok(&["tag", "busybox", "127.0.0.1:5000/demo/other:1"]);

    let out = e.ok(&["push", "127.0.0.1:5000/demo/bb:v1"]);
    assert!(out.starts_with("The push refers to repository [127.0.0.1:5000/demo/bb]\n"), "{out}");
    assert!(out.contains(": Pushed\n"), "{out}");
    let digest_line = out.lines().find(|l| l.starts_with("v1: digest: sha256:")).unwrap_or_else(|| panic!("no digest line: {out}\n{}", reg.log()));
    let digest = digest_line.split_whitespace().nth(2).unwrap().to_string();
    assert!(digest_line.contains(" size: "), "{digest_line}");
    // Pushing again: every layer is already there.
    let again = e.ok(&["push", "127.0.0.1:5000/demo/bb:v1"]);
    assert!(again.contains(": Layer already exists\n"), "{again}");
    assert!(again.contains(&format!("v1: digest: {digest} ")), "same manifest digest on re-push: {again}");
    // Push records the RepoDigest.
    let rd = e.ok(&["inspect", "--format", "{{json .RepoDigests}}", "busybox"]);
    assert!(rd.contains(&format!("127.0.0.1:5000/demo/bb@{digest}")), "{rd}");
    e.ok(&["push", "127.0.0.1:5000/demo/other:1"]);

    // skopeo (a second client) reads what berth pushed, blobs included.
    let oci = tempfile::tempdir().unwrap();
    let sk = e
        .netns_command("skopeo")
        .args(["copy", "--src-tls-verify=false", "docker://127.0.0.1:5000/demo/bb:v1"])
        .arg(format!("oci:{}:bb", oci.path().display()))
        .output()
        .expect("skopeo");
    assert!(sk.status.success(), "skopeo copy failed: {}", String::from_utf8_lossy(&sk.stderr));
    let sk = e.netns_command("skopeo").args(["inspect", "--tls-verify=false", "docker://127.0.0.1:5000/demo/bb:v1"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&sk.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&sk.stderr)));
    assert_eq!(v["Digest"], digest.as_str());

    // rmi everything, pull back: same image ID, RepoDigests set.
    e.ok(&["rmi", "busybox", "127.0.0.1:5000/demo/bb:v1", "127.0.0.1:5000/demo/other:1"]);
    assert_eq!(e.ok(&["images", "-q"]), "");
    let out = e.ok(&["pull", "127.0.0.1:5000/demo/bb:v1"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "v1: Pulling from demo/bb", "{out}");
    assert!(lines[1].ends_with(": Pulling fs layer"), "{out}");
    assert!(out.contains(": Download complete\n") && out.contains(": Pull complete\n"), "{out}");
    assert!(!out.contains("Downloading"), "byte progress is not shown without a terminal: {out}");
    assert_eq!(lines[lines.len() - 3], format!("Digest: {digest}"));
    assert_eq!(lines[lines.len() - 2], "Status: Downloaded newer image for 127.0.0.1:5000/demo/bb:v1");
    assert_eq!(lines[lines.len() - 1], "127.0.0.1:5000/demo/bb:v1");
    assert_eq!(image_id(&e, "127.0.0.1:5000/demo/bb:v1"), id, "same image ID after push, rmi, pull");
    let rd = e.ok(&["inspect", "--format", "{{json .RepoDigests}}", "127.0.0.1:5000/demo/bb:v1"]);
    assert_eq!(rd.trim(), format!("[\"127.0.0.1:5000/demo/bb@{digest}\"]"));
    let dist = e.data_root().join("image/overlay2/distribution");
    assert!(dist.join("diffid-by-digest/sha256").read_dir().unwrap().count() >= 1);
    assert!(dist.join("v2metadata-by-diffid/sha256").read_dir().unwrap().count() >= 1);
    assert_no_scratch(&e);

    // Again: up to date. Another repository with the same layer: Already exists.
    let out = e.ok(&["pull", "127.0.0.1:5000/demo/bb:v1"]);
    assert!(out.contains("Status: Image is up to date for 127.0.0.1:5000/demo/bb:v1\n"), "{out}");
    let out = e.ok(&["pull", "127.0.0.1:5000/demo/other:1"]);
    assert!(out.contains(": Already exists\n") && !out.contains("Pull complete"), "{out}");
    // By digest.
    e.ok(&["rmi", "127.0.0.1:5000/demo/other:1"]);
    let by_digest = format!("127.0.0.1:5000/demo/bb@{digest}");
    let out = e.ok(&["pull", &by_digest]);
    assert!(out.contains(&format!("{digest}: Pulling from demo/bb")), "{out}");
    assert!(out.ends_with(&format!("127.0.0.1:5000/demo/bb@{digest}\n")), "{out}");

    // search = catalog + filter.
    let out = e.ok(&["search", "127.0.0.1:5000/oth"]);
    assert_eq!(out.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(), ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]);
    assert!(out.contains("127.0.0.1:5000/demo/other"), "{out}");
    assert!(!out.contains("demo/bb"), "{out}");

    // Errors before the stream starts: Docker's texts, exit 1.
    let r = e.berth(&["pull", "127.0.0.1:5000/demo/nope:v1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.trim(), "Error response from daemon: manifest for 127.0.0.1:5000/demo/nope:v1 not found: manifest unknown: manifest unknown");
    let r = e.berth(&["push", "127.0.0.1:5000/demo/missing:v1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.trim(), "Error response from daemon: An image does not exist locally with the tag: 127.0.0.1:5000/demo/missing");
    drop(reg);
}

#[test]
fn offline_hub_pull_fails_fast() {
    let e = Engine::start();
    let t = std::time::Instant::now();
    let r = e.berth(&["pull", "nosuchimage"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stdout, "Using default tag: latest\n");
    assert!(r.stderr.starts_with("Error response from daemon: "), "{r:?}");
    assert!(r.stderr.contains("registry-1.docker.io"), "{r:?}");
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "took {:?}", t.elapsed());
    assert_no_scratch(&e);
}
