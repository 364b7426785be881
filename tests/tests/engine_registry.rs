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

/// No image, no layerdb entry and no overlay2 layer directory (only `l/`, empty) left.
fn assert_no_partial_layers(e: &Engine) {
    assert_eq!(e.ok(&["images", "-qa"]), "", "no partial image");
    let root = e.data_root();
    let count = |p: std::path::PathBuf| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count(root.join("image/overlay2/imagedb/content/sha256")), 0, "imagedb entry left behind");
    assert_eq!(count(root.join("image/overlay2/layerdb/sha256")), 0, "layerdb entry left behind");
    let dirs: Vec<_> = std::fs::read_dir(root.join("overlay2")).map(|d| d.map(|x| x.unwrap().file_name()).filter(|n| n != "l").collect()).unwrap_or_default();
    assert!(dirs.is_empty(), "overlay2 layer directories left behind: {dirs:?}");
    assert_eq!(count(root.join("overlay2/l")), 0, "overlay2 short links left behind");
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

#[test]
fn htpasswd_login_and_docker_cli() {
    let e = Engine::start();
    let _reg = SandboxRegistry::start(&e, "127.0.0.1:5000", &[("alice", "s3cret")]);
    e.import_busybox();
    let id = image_id(&e, "busybox");
    e.ok(&["tag", "busybox", "127.0.0.1:5000/team/bb:1"]);

    // Anonymous push to an htpasswd registry: refused.
    let r = e.berth(&["push", "127.0.0.1:5000/team/bb:1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("authentication required"), "{r:?}");

    // Wrong password: Docker's 401 text, nothing stored.
    let r = e.berth_stdin(&["login", "-u", "alice", "--password-stdin", "127.0.0.1:5000"], Some(b"wrong\n"));
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.trim(), "Error response from daemon: login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized");
    let cfg = e.dir.path().join("berth-config/config.json");
    assert!(!cfg.exists());
    let r = e.berth(&["login", "127.0.0.1:5000"]);
    assert_eq!((r.code, r.stderr.trim()), (1, "Error: Cannot perform an interactive login from a non TTY device"), "{r:?}");

    // Right password: stored as Docker does, 0600.
    let r = e.berth_stdin(&["login", "-u", "alice", "--password-stdin", "127.0.0.1:5000"], Some(b"s3cret\n"));
    assert_eq!((r.code, r.stdout.as_str()), (0, "Login Succeeded\n"), "{r:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    use base64::Engine as _;
    assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], base64::engine::general_purpose::STANDARD.encode("alice:s3cret"));

    // Push and pull with the stored credentials.
    let out = e.ok(&["push", "127.0.0.1:5000/team/bb:1"]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    e.ok(&["rmi", "127.0.0.1:5000/team/bb:1"]);
    e.ok(&["pull", "127.0.0.1:5000/team/bb:1"]);

    // Logged out: pulls are denied, in Docker's words.
    assert_eq!(e.ok(&["logout", "127.0.0.1:5000"]), "Removing login credentials for 127.0.0.1:5000\n");
    assert_eq!(e.ok(&["logout", "127.0.0.1:5000"]), "Not logged in to 127.0.0.1:5000\n");
    e.ok(&["rmi", "127.0.0.1:5000/team/bb:1"]);
    let r = e.berth(&["pull", "127.0.0.1:5000/team/bb:1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.starts_with("Error response from daemon: pull access denied for 127.0.0.1:5000/team/bb, repository does not exist or may require 'docker login'"),
        "{r:?}"
    );

    // The real docker CLI against berthd: login (wrong, then right), push, rmi, pull.
    let r = e.docker_stdin(&["login", "-u", "alice", "--password-stdin", "127.0.0.1:5000"], Some(b"nope\n"));
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("401 Unauthorized"), "{r:?}");
    let r = e.docker_stdin(&["login", "-u", "alice", "--password-stdin", "127.0.0.1:5000"], Some(b"s3cret\n"));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Login Succeeded"), "{r:?}");
    let r = e.docker(&["tag", "busybox", "127.0.0.1:5000/team/viadocker:2"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["push", "127.0.0.1:5000/team/viadocker:2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("2: digest: sha256:"), "{r:?}");
    assert_eq!(e.docker(&["rmi", "127.0.0.1:5000/team/viadocker:2"]).code, 0);
    let r = e.docker(&["pull", "127.0.0.1:5000/team/viadocker:2"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Status: Downloaded newer image for 127.0.0.1:5000/team/viadocker:2"), "{r:?}");
    assert!(r.stdout.trim_end().ends_with("127.0.0.1:5000/team/viadocker:2"), "{r:?}");
    let r = e.docker(&["image", "inspect", "--format", "{{.Id}} {{json .RepoDigests}}", "127.0.0.1:5000/team/viadocker:2"]);
    assert!(r.stdout.starts_with(&id), "{r:?}");
    assert!(r.stdout.contains("127.0.0.1:5000/team/viadocker@sha256:"), "{r:?}");
    let r = e.docker(&["pull", "127.0.0.1:5000/team/nothere:1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("manifest for 127.0.0.1:5000/team/nothere:1 not found"), "{r:?}");
    assert_no_scratch(&e);
}

#[test]
fn mirror_serves_docker_io_and_insecure_registries() {
    // The hub on 127.0.0.1 (insecure by default, as in Docker) and a registry on a
    // non-loopback address that needs `insecure-registries`.
    let e = Engine::start_configured(r#"{"registry-mirrors": ["http://127.0.0.1:5000"]}"#, &[]);
    engine_registry_support::netns_lo_up(&e, Some("10.77.0.1/32"));
    let _hub = SandboxRegistry::start(&e, "127.0.0.1:5000", &[]);
    let _lan = SandboxRegistry::start(&e, "10.77.0.1:5001", &[]);
    e.import_busybox();
    let id = image_id(&e, "busybox");
    e.ok(&["tag", "busybox", "127.0.0.1:5000/library/busybox:latest"]);
    e.ok(&["push", "127.0.0.1:5000/library/busybox:latest"]);
    e.ok(&["rmi", "busybox", "127.0.0.1:5000/library/busybox:latest"]);

    let out = e.ok(&["pull", "busybox"]);
    assert!(out.starts_with("Using default tag: latest\nlatest: Pulling from library/busybox\n"), "{out}");
    assert!(out.ends_with("Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"), "{out}");
    assert_eq!(image_id(&e, "busybox"), id);
    let rd = e.ok(&["inspect", "--format", "{{json .RepoDigests}}", "busybox"]);
    assert!(rd.starts_with("[\"busybox@sha256:"), "{rd}");
    let out = e.ok(&["search", "busy"]);
    let row: Vec<&str> = out.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(row, ["busybox", "0", "[OK]"], "{out}");
    let r = e.docker(&["search", "busy"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.lines().nth(1).unwrap_or("").starts_with("busybox "), "docker CLI search through berthd: {r:?}");
    let r = e.docker(&["pull", "busybox"]);
    assert!(r.code == 0 && r.stdout.contains("Status: Image is up to date for busybox:latest"), "{r:?}");

    // Plain HTTP to 10.77.0.1 is refused until it is listed in insecure-registries.
    e.ok(&["tag", "busybox", "10.77.0.1:5001/lab/bb:1"]);
    let r = e.berth(&["push", "10.77.0.1:5001/lab/bb:1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("https://10.77.0.1:5001/v2/"), "{r:?}");
    let mut e = e;
    e.kill_daemon();
    std::fs::write(e.dir.path().join("daemon.json"), r#"{"registry-mirrors": ["http://127.0.0.1:5000"], "insecure-registries": ["10.77.0.0/16"]}"#).unwrap();
    e.start_daemon();
    let out = e.ok(&["push", "10.77.0.1:5001/lab/bb:1"]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

#[test]
fn faulty_registry_leaves_no_partial_image() {
    use engine_registry_support::{Answer, FaultyRegistry};
    let e = Engine::start();
    let layer = std::fs::read(berth_tests::engine::busybox_tar()).unwrap();
    let (layer_digest, diff_id) = (sha256(&layer), sha256(&layer));
    let config_for = |diff: &str| {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [diff]},
        }))
        .unwrap()
    };
    let good_config = config_for(&diff_id);
    let bad_config = config_for(&sha256(b"something else"));
    let manifest_for = |config: &[u8]| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": sha256(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": layer_digest}],
        }))
        .unwrap()
    };
    const MT: &str = "application/vnd.docker.distribution.manifest.v2+json";
    let mut routes = vec![("/v2/".to_string(), Answer::ok("application/json", b"{}".to_vec()))];
    let mut corrupt = layer.clone();
    corrupt[600] ^= 0xff;
    let cut = Answer { cut_after: Some(layer.len() / 2), ..Answer::ok("application/octet-stream", layer.clone()) };
    let html = Answer { status: 502, ..Answer::ok("text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec()) };
    for (repo, config, blob) in [
        ("corrupt", &good_config, Answer::ok("application/octet-stream", corrupt)),
        ("html", &good_config, html),
        ("cut", &good_config, cut),
        ("diffid", &bad_config, Answer::ok("application/octet-stream", layer.clone())),
    ] {
        routes.push((format!("/v2/bad/{repo}/manifests/latest"), Answer::ok(MT, manifest_for(config))));
        routes.push((format!("/v2/bad/{repo}/blobs/{}", sha256(config)), Answer::ok("application/octet-stream", config.clone())));
        routes.push((format!("/v2/bad/{repo}/blobs/{layer_digest}"), blob));
    }
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": MT, "size": 10, "digest": sha256(b"x"), "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}],
    }))
    .unwrap();
    routes.push(("/v2/bad/platform/manifests/latest".into(), Answer::ok("application/vnd.docker.distribution.manifest.list.v2+json", list)));
    let _reg = FaultyRegistry::start(&e, "127.0.0.1:5000", routes);

    for (repo, want) in [
        ("corrupt", format!("filesystem layer verification failed for digest {layer_digest}")),
        ("html", "502 Bad Gateway".to_string()),
        ("cut", "connection".to_string()),
        ("diffid", "invalid diffID for layer 0".to_string()),
        ("platform", "no matching manifest for linux/amd64 in the manifest list entries".to_string()),
    ] {
        let r = e.berth(&["pull", &format!("127.0.0.1:5000/bad/{repo}")]);
        assert_eq!(r.code, 1, "{repo}: {r:?}");
        assert!(r.stderr.contains(&want), "{repo}: want {want:?} in {r:?}");
        assert!(!r.stdout.contains("Status:"), "{repo}: {r:?}");
    }
    assert_eq!(e.ok(&["images", "-qa"]), "", "no partial image");
    let layers = e.data_root().join("image/overlay2/layerdb/sha256");
    assert_eq!(std::fs::read_dir(&layers).map(|d| d.count()).unwrap_or(0), 0, "no layer left behind");
    assert_no_partial_layers(&e);
    assert_no_scratch(&e);
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl").current_dir(dir).args(args).output().expect("running openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn tls_registry_trusted_through_certs_d() {
    // A registry with a certificate for 10.77.0.1 signed by a test CA: refused until the CA is
    // in <config dir>/certs.d/10.77.0.1:5002/ca.crt (read per operation, no restart).
    let e = Engine::start();
    engine_registry_support::netns_lo_up(&e, Some("10.77.0.1/32"));
    let certs = tempfile::tempdir().unwrap();
    let d = certs.path();
    openssl(d, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=berth-test-ca"]);
    openssl(d, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=10.77.0.1"]);
    std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:10.77.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(d, &["x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf"]);
    let _reg = SandboxRegistry::start_with(&e, "10.77.0.1:5002", &[], Some((d.join("srv.crt"), d.join("srv.key"))));
    e.import_busybox();
    e.ok(&["tag", "busybox", "10.77.0.1:5002/secure/bb:1"]);
    let r = e.berth(&["push", "10.77.0.1:5002/secure/bb:1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("https://10.77.0.1:5002/v2/") && r.stderr.to_lowercase().contains("certificate"), "{r:?}");
    let ca_dir = e.dir.path().join("certs.d/10.77.0.1:5002");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(d.join("ca.crt"), ca_dir.join("ca.crt")).unwrap();
    let out = e.ok(&["push", "10.77.0.1:5002/secure/bb:1"]);
    assert!(out.contains("1: digest: sha256:"), "{out}");
    e.ok(&["rmi", "10.77.0.1:5002/secure/bb:1"]);
    let out = e.ok(&["pull", "10.77.0.1:5002/secure/bb:1"]);
    assert!(out.contains("Status: Downloaded newer image for 10.77.0.1:5002/secure/bb:1"), "{out}");
}

#[test]
fn skopeo_interop_with_auth_and_implicit_run_pull() {
    let e = Engine::start();
    let reg = SandboxRegistry::start(&e, "127.0.0.1:5000", &[("alice", "s3cret")]);
    e.import_busybox();
    let id = image_id(&e, "busybox");
    e.ok(&["tag", "busybox", "127.0.0.1:5000/team/bb:1"]);
    let r = e.berth_stdin(&["login", "-u", "alice", "--password-stdin", "127.0.0.1:5000"], Some(b"s3cret\n"));
    assert_eq!(r.code, 0, "{r:?}");
    let out = e.ok(&["push", "127.0.0.1:5000/team/bb:1"]);
    assert!(out.contains("1: digest: sha256:"), "{out}\n{}", reg.log());

    // berth → skopeo: refused without credentials, copied with them.
    let oci = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:bb", oci.path().display());
    let sk = e.netns_command("skopeo").args(["copy", "--src-tls-verify=false", "docker://127.0.0.1:5000/team/bb:1", &layout]).output().unwrap();
    assert!(!sk.status.success(), "anonymous skopeo pull of a private repository succeeded");
    let sk = e
        .netns_command("skopeo")
        .args(["copy", "--src-tls-verify=false", "--src-creds", "alice:s3cret", "docker://127.0.0.1:5000/team/bb:1", &layout])
        .output()
        .unwrap();
    assert!(sk.status.success(), "skopeo pull with --src-creds: {}", String::from_utf8_lossy(&sk.stderr));

    // skopeo → berth: pushed with --dest-creds, pulled by berth with the stored login: same
    // config, same image ID.
    let sk = e
        .netns_command("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", &layout, "docker://127.0.0.1:5000/team/fromskopeo:2"])
        .output()
        .unwrap();
    assert!(sk.status.success(), "skopeo push with --dest-creds: {}", String::from_utf8_lossy(&sk.stderr));
    let layers_fmt = ["inspect", "--format", "{{json .RootFS.Layers}} {{json .Config.Cmd}}"];
    let rootfs = e.ok(&[&layers_fmt[..], &["busybox"]].concat());
    e.ok(&["rmi", "busybox", "127.0.0.1:5000/team/bb:1"]);
    let out = e.ok(&["pull", "127.0.0.1:5000/team/fromskopeo:2"]);
    assert!(out.contains("Status: Downloaded newer image for 127.0.0.1:5000/team/fromskopeo:2"), "{out}");
    // skopeo rewrote the config as OCI's (docker-only fields dropped): the image ID is the
    // digest of the config skopeo pushed, the layers and command are the same.
    let sk = e
        .netns_command("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds", "alice:s3cret", "--config", "--raw", "docker://127.0.0.1:5000/team/fromskopeo:2"])
        .output()
        .unwrap();
    assert!(sk.status.success(), "{}", String::from_utf8_lossy(&sk.stderr));
    assert_eq!(image_id(&e, "127.0.0.1:5000/team/fromskopeo:2"), sha256(&sk.stdout));
    assert_eq!(e.ok(&[&layers_fmt[..], &["127.0.0.1:5000/team/fromskopeo:2"]].concat()), rootfs);
    e.ok(&["rmi", "127.0.0.1:5000/team/fromskopeo:2"]);

    // `run` of an absent private image: docker's "Unable to find image", the pull's progress
    // on stderr with the stored credentials, then the container's output alone on stdout.
    let r = e.berth(&["run", "--rm", "127.0.0.1:5000/team/bb:1", "echo", "hi"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");
    assert!(r.stderr.starts_with("Unable to find image '127.0.0.1:5000/team/bb:1' locally\n1: Pulling from team/bb\n"), "{r:?}");
    assert!(r.stderr.contains(": Pull complete\n") && r.stderr.contains("Status: Downloaded newer image for 127.0.0.1:5000/team/bb:1\n"), "{r:?}");
    assert_eq!(image_id(&e, "127.0.0.1:5000/team/bb:1"), id);
    // Present now: no pull.
    let r = e.berth(&["run", "--rm", "127.0.0.1:5000/team/bb:1", "true"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    e.ok(&["rmi", "127.0.0.1:5000/team/bb:1"]);

    // Logged out: the implicit pull is denied in Docker's words and nothing is left.
    e.ok(&["logout", "127.0.0.1:5000"]);
    let r = e.berth(&["run", "--rm", "127.0.0.1:5000/team/bb:1", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.starts_with("Unable to find image '127.0.0.1:5000/team/bb:1' locally\n"), "{r:?}");
    assert!(r.stderr.contains("Error response from daemon: pull access denied for 127.0.0.1:5000/team/bb"), "{r:?}");
    assert_no_partial_layers(&e);

    // The real docker CLI: `docker run` after `docker login` pulls with its own credentials.
    let r = e.docker_stdin(&["login", "-u", "alice", "--password-stdin", "127.0.0.1:5000"], Some(b"s3cret\n"));
    assert_eq!(r.code, 0, "{r:?}");
    let r = e.docker(&["run", "--rm", "127.0.0.1:5000/team/bb:1", "echo", "hi"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");
    assert!(r.stderr.starts_with("Unable to find image '127.0.0.1:5000/team/bb:1' locally\n"), "{r:?}");
    assert_no_scratch(&e);
}
