//! `GET /distribution/{name}/json` against a real registry (Debian `docker-registry` with
//! htpasswd auth, inside the sandbox): descriptor and platforms of an image manifest and of a
//! manifest list, by tag and by digest, credentials from `X-Registry-Auth`, Docker's errors;
//! through the raw API and docker-py's `inspect_distribution` / `get_registry_data`.
//! (No docker CLI command calls this endpoint outside swarm mode: `docker manifest inspect`
//! talks to the registry itself.)

mod engine_registry_support;

use std::io::{Read, Write};

use base64::Engine as _;
use berth_tests::engine::Engine;
use berth_tests::raw_api::{have_docker_py, request_with, Answer};
use engine_registry_support::SandboxRegistry;
use serde_json::json;

const REG: &str = "127.0.0.1:5000";
const SCHEMA2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

fn auth_header() -> String {
    let a = json!({"username": "alice", "password": "s3cret", "serveraddress": REG}).to_string();
    format!("X-Registry-Auth: {}", base64::engine::general_purpose::URL_SAFE.encode(a))
}

fn get(e: &Engine, name: &str, auth: bool) -> Answer {
    let h = auth_header();
    let headers: Vec<&str> = if auth { vec![h.as_str()] } else { vec![] };
    request_with(&e.sock, "GET", &format!("/v1.41/distribution/{name}/json"), &headers, None)
}

/// PUT a manifest straight to the registry (inside the sandbox), as alice.
fn put_manifest(e: &Engine, repo_ref: &str, media_type: &str, body: &str) -> String {
    let (path, body, mt) = (format!("/v2/{repo_ref}"), body.to_string(), media_type.to_string());
    e.in_netns(move || {
        let mut s = std::net::TcpStream::connect(REG).unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        write!(
            s,
            "PUT {path} HTTP/1.1\r\nHost: {REG}\r\nAuthorization: Basic {basic}\r\nContent-Type: {mt}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
}

/// A registry with `demo/bb:v1` (busybox, pushed by berth) and `demo/bb:multi` (a manifest list
/// naming that manifest for linux/amd64 and linux/arm64/v8). Returns (v1 digest, v1 size).
fn setup(e: &Engine) -> (SandboxRegistry, String, u64) {
    let reg = SandboxRegistry::start(e, REG, &[("alice", "s3cret")]);
    e.import_busybox();
    let r = e.berth_stdin(&["login", "-u", "alice", "--password-stdin", REG], Some(b"s3cret\n"));
    assert_eq!(r.code, 0, "{r:?}");
    e.ok(&["tag", "busybox", &format!("{REG}/demo/bb:v1")]);
    let out = e.ok(&["push", &format!("{REG}/demo/bb:v1")]);
    let line = out.lines().find(|l| l.starts_with("v1: digest: ")).unwrap_or_else(|| panic!("{out}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    let (digest, size) = (w[2].to_string(), w[4].parse::<u64>().unwrap());
    let list = json!({"schemaVersion": 2, "mediaType": LIST, "manifests": [
        {"mediaType": SCHEMA2, "digest": digest, "size": size, "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": SCHEMA2, "digest": digest, "size": size, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    ]})
    .to_string();
    let put = put_manifest(e, "demo/bb/manifests/multi", LIST, &list);
    assert!(put.starts_with("HTTP/1.1 201"), "{put}\n{}", reg.log());
    (reg, digest, size)
}

#[test]
fn distribution_inspect_through_the_api() {
    let e = Engine::start();
    let (reg, digest, size) = setup(&e);
    let arch = e.ok(&["inspect", "--format", "{{.Architecture}}", "busybox"]).trim().to_string();
    let os = e.ok(&["inspect", "--format", "{{.Os}}", "busybox"]).trim().to_string();
    let image = json!({
        "Descriptor": {"mediaType": SCHEMA2, "digest": digest, "size": size},
        "Platforms": [{"architecture": arch, "os": os}],
    });

    // By tag, plain or percent-encoded, versioned or not.
    let r = get(&e, &format!("{REG}/demo/bb:v1"), true);
    assert_eq!(r.status, 200, "{r:?}\n{}", reg.log());
    assert_eq!(r.header("Content-Type").as_deref(), Some("application/json"));
    assert_eq!(r.json(), image);
    assert!(r.body.starts_with(r#"{"Descriptor":{"mediaType":"#), "Docker's key order: {}", r.body);
    let r = get(&e, "127.0.0.1%3A5000%2Fdemo%2Fbb%3Av1", true);
    assert_eq!((r.status, r.json()), (200, image.clone()), "{r:?}");
    let r = request_with(&e.sock, "GET", &format!("/distribution/{REG}/demo/bb:v1/json"), &[&auth_header()], None);
    assert_eq!((r.status, r.json()), (200, image.clone()), "{r:?}");
    // By digest (with or without a tag beside it).
    let r = get(&e, &format!("{REG}/demo/bb@{digest}"), true);
    assert_eq!((r.status, r.json()), (200, image.clone()), "{r:?}");
    let r = get(&e, &format!("{REG}/demo/bb:ignored@{digest}"), true);
    assert_eq!((r.status, r.json()), (200, image.clone()), "{r:?}");

    // A manifest list: its own descriptor, one platform per entry.
    let r = get(&e, &format!("{REG}/demo/bb:multi"), true);
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["Descriptor"]["mediaType"], LIST);
    assert_ne!(v["Descriptor"]["digest"], digest.as_str());
    assert_eq!(
        v["Platforms"],
        json!([{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64", "os": "linux", "variant": "v8"}])
    );

    // Errors: the registry's words, with the status of its error code.
    let r = get(&e, &format!("{REG}/demo/bb"), true);
    assert_eq!((r.status, r.message().as_str()), (404, "manifest unknown: manifest unknown"), "no :latest: {r:?}");
    let r = get(&e, &format!("{REG}/demo/nope:v1"), true);
    assert_eq!(
        (r.status, r.message().as_str()),
        (404, "manifest unknown: manifest unknown"),
        "docker-registry 2.8: MANIFEST_UNKNOWN for an unknown repository too: {r:?}"
    );
    let r = get(&e, &format!("{REG}/demo/bb:v1"), false);
    assert_eq!((r.status, r.message().as_str()), (401, "unauthorized: authentication required"), "{r:?}");
    let r = get(&e, &"a".repeat(64), true);
    assert_eq!((r.status, r.message().as_str()), (500, "no manifest found for full image ID"), "{r:?}");
    let r = get(&e, "Upper/x", true);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.message().starts_with("invalid reference format"), "{r:?}");
    let r = get(&e, "127.0.0.1:5999/x:1", true);
    assert_eq!(r.status, 500, "{r:?}");
    assert!(r.message().contains("127.0.0.1:5999/v2/") && r.message().contains("onnection refused"), "{r:?}");
    // Not a route: no name.
    let r = request_with(&e.sock, "GET", "/v1.41/distribution/json", &[], None);
    assert_eq!((r.status, r.message().as_str()), (404, "page not found"));
    drop(reg);
}

const PY: &str = r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
auth = {"username": "alice", "password": "s3cret"}
d = c.api.inspect_distribution("127.0.0.1:5000/demo/bb:v1", auth_config=auth)
print(d["Descriptor"]["mediaType"], d["Descriptor"]["digest"], d["Descriptor"]["size"], d["Platforms"])
rd = c.images.get_registry_data("127.0.0.1:5000/demo/bb:multi", auth_config=auth)
print(rd.id == rd.attrs["Descriptor"]["digest"], rd.has_platform("linux/arm64/v8"), rd.has_platform("linux/s390x"))
try:
    c.api.inspect_distribution("127.0.0.1:5000/demo/nope:v1", auth_config=auth)
except docker.errors.NotFound as e:
    print("notfound", e.explanation)
"#;

#[test]
fn distribution_inspect_through_docker_py() {
    if !have_docker_py("docker-py inspect_distribution") {
        return;
    }
    let e = Engine::start();
    let (reg, digest, size) = setup(&e);
    let cfg = e.dir.path().join("py-docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    let o = std::process::Command::new("/usr/bin/python3").args(["-c", PY, &e.host()]).env("DOCKER_CONFIG", &cfg).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}\n--- berthd:\n{}\n--- registry:\n{}", e.daemon_log(), reg.log());
    let arch = e.ok(&["inspect", "--format", "{{.Architecture}}", "busybox"]).trim().to_string();
    assert_eq!(
        out,
        format!(
            "{SCHEMA2} {digest} {size} [{{'architecture': '{arch}', 'os': 'linux'}}]\nTrue True False\n\
             notfound manifest unknown: manifest unknown\n"
        )
    );
}
