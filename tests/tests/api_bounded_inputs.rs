//! Bounded inputs and no panics from requests (the security issue), through the raw API and
//! the CLI, each a regression test for a finding:
//! - volume names: Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+` for local volumes at create (API,
//!   `berth volume create`, `-v name:/path`), and a percent-decoded `..%2F..` or `%2Fetc` in
//!   `GET`/`DELETE /volumes/{name}` never reaches a path outside the volumes dir;
//! - resource values (Memory, MemorySwap, NanoCpus, CpuShares, PidsLimit, …) get Docker's 400
//!   texts at create, never a panic at start or a wrapped value in the cgroup files;
//! - JSON bodies are capped (a body over the cap, declared or streamed chunked, gets 413
//!   without being buffered: berthd's peak RSS stays put); streaming endpoints are not;
//! - no panic from a request (`GET /events?since=` overflow, start racing a removal).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_tests::engine::Engine;
use berth_tests::raw_api::{self, parse, Answer};
use serde_json::{json, Value};

/// One request on its own connection; `path` is sent as is (already percent-encoded).
fn request(e: &Engine, method: &str, path: &str, body: Option<&Value>) -> Answer {
    raw_api::request(&e.sock, method, &format!("/v1.41{path}"), body.map(Value::to_string).as_deref())
}

fn invalid_volume_name(name: &str) -> String {
    format!(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )
}

/// `dir/_data/keep`: what a `volumes/<name>` lookup escaping the volumes dir would find.
fn victim(dir: &Path) {
    std::fs::create_dir_all(dir.join("_data")).unwrap();
    std::fs::write(dir.join("_data/keep"), "x").unwrap();
}

#[test]
fn volume_names_never_reach_outside_the_volumes_dir() {
    let e = Engine::start();
    // The volumes dir exists (a path through it resolves).
    let ok = request(&e, "POST", "/volumes/create", Some(&json!({"Name": "ok.vol_1-x"})));
    assert_eq!(ok.status, 201, "{ok:?}");
    let outside = e.dir.path().join("victim");
    victim(&outside);
    // volumes_root = <dir>/data/volumes: `../../victim` is <dir>/victim.
    for (path, name) in [
        ("..%2F..%2Fvictim".to_string(), "../../victim".to_string()),
        (outside.display().to_string().replace('/', "%2F"), outside.display().to_string()),
        ("%2Fetc".to_string(), "/etc".to_string()),
        ("..".to_string(), "..".to_string()),
    ] {
        let r = request(&e, "GET", &format!("/volumes/{path}"), None);
        assert_eq!((r.status, r.message()), (404, format!("get {name}: no such volume")), "GET {path}: {r:?}");
        let r = request(&e, "DELETE", &format!("/volumes/{path}"), None);
        assert_eq!((r.status, r.message()), (404, format!("get {name}: no such volume")), "DELETE {path}: {r:?}");
        // As dockerd: force on a volume that does not exist is not an error.
        let r = request(&e, "DELETE", &format!("/volumes/{path}?force=1"), None);
        assert_eq!(r.status, 204, "DELETE {path}?force=1: {r:?}");
        assert!(outside.join("_data/keep").exists(), "DELETE /volumes/{path} removed {}", outside.display());
    }
    assert!(Path::new("/etc/passwd").exists());
    let list = request(&e, "GET", "/volumes", None);
    let v: Value = serde_json::from_str(&list.body).unwrap();
    assert_eq!(v["Volumes"].as_array().unwrap().len(), 1, "{v}");

    for name in ["%2Fetc", "../../victim", "..", "-x", "_x", "a/b", "/etc", "x y", "x:y"] {
        let r = request(&e, "POST", "/volumes/create", Some(&json!({ "Name": name })));
        assert_eq!((r.status, r.message()), (400, invalid_volume_name(name)), "create {name:?}");
    }
    // moby's local driver: a one-character name is too short.
    let r = request(&e, "POST", "/volumes/create", Some(&json!({"Name": "a"})));
    assert_eq!(
        (r.status, r.message()),
        (400, "create a: volume name is too short, names should be at least two alphanumeric characters".into())
    );
    let r = request(&e, "POST", "/volumes/create", Some(&json!({"Name": "."})));
    assert_eq!(
        (r.status, r.message()),
        (400, "create .: volume name is too short, names should be at least two alphanumeric characters".into())
    );
    assert!(!e.data_root().join("_data").exists() && !e.data_root().join("volumes/_data").exists());
    assert!(!e.dir.path().join("victim/_data/_data").exists());

    // `-v name:/path` on container create: the same rule, the same text (no prefix), before
    // the image is looked up (there is none here).
    for name in ["..", ".", "-x", "a"] {
        let r =
            request(&e, "POST", "/containers/create", Some(&json!({"Image": "busybox", "HostConfig": {"Binds": [format!("{name}:/x")]}})));
        let want = if name.len() == 1 {
            format!("create {name}: volume name is too short, names should be at least two alphanumeric characters")
        } else {
            invalid_volume_name(name)
        };
        assert_eq!((r.status, r.message()), (400, want), "-v {name}:/x");
    }
    let r = request(&e, "POST", "/containers/create", Some(&json!({"Image": "busybox", "HostConfig": {"Binds": ["ok.vol_1-x:/x"]}})));
    assert_eq!((r.status, r.message()), (404, "No such image: busybox:latest".into()), "a valid name passes");
}

#[test]
fn volume_names_through_the_cli() {
    let e = Engine::start();
    e.ok(&["volume", "create", "keep1"]);
    let outside = e.dir.path().join("victim");
    victim(&outside);
    let r = e.berth(&["volume", "create", "../../victim"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.trim(), format!("Error response from daemon: {}", invalid_volume_name("../../victim")), "{r:?}");
    let r = e.berth(&["volume", "create", "%2Fetc"]);
    assert_eq!(r.stderr.trim(), format!("Error response from daemon: {}", invalid_volume_name("%2Fetc")), "{r:?}");
    let r = e.berth(&["volume", "rm", "../../victim"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("get ../../victim: no such volume"), "{r:?}");
    let r = e.berth(&["volume", "inspect", "../../victim"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(outside.join("_data/keep").exists(), "berth volume rm ../../victim removed {}", outside.display());
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "keep1\n");
    e.import_busybox();
    let r = e.berth(&["create", "-v", "..:/x", "busybox", "true"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains(&invalid_volume_name("..")), "{r:?}");
}

/// `(HostConfig, status, message)`: the first failing check of Docker 20.10's
/// `verifyPlatformContainerResources`/`verifyPlatformContainerSettings` (and runc's
/// cpu-shares bounds, which dockerd only reports at start), at create, before the image lookup.
fn resource_cases(ncpu: usize) -> Vec<(Value, u16, String)> {
    let mib = 1i64 << 20;
    let cpus = format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available");
    let no_image = "No such image: busybox:latest".to_string();
    vec![
        (json!({"Memory": 4 * mib}), 400, "Minimum memory limit allowed is 6MB".into()),
        (json!({"Memory": -1}), 400, "Minimum memory limit allowed is 6MB".into()),
        (json!({"Memory": i64::MIN}), 400, "Minimum memory limit allowed is 6MB".into()),
        (json!({"Memory": i64::MAX}), 400, format!("Memory limit {} is too large: the default memory+swap limit (twice the memory limit) would overflow; set MemorySwap (--memory-swap)", i64::MAX)),
        (json!({"Memory": i64::MAX, "MemorySwap": -1}), 404, no_image.clone()),
        (json!({"Memory": i64::MAX, "MemorySwap": i64::MAX}), 404, no_image.clone()),
        (json!({"Memory": 64 * mib, "MemorySwap": 32 * mib}), 400, "Minimum memoryswap limit should be larger than memory limit, see usage".into()),
        (json!({"MemorySwap": 64 * mib}), 400, "You should always set the Memory limit when using Memoryswap limit, see usage".into()),
        (json!({"MemoryReservation": mib}), 400, "Minimum memory reservation allowed is 6MB".into()),
        (json!({"Memory": 64 * mib, "MemoryReservation": 128 * mib}), 400, "Minimum memory limit can not be less than memory reservation limit, see usage".into()),
        (json!({"MemorySwappiness": 101}), 400, "Invalid value: 101, valid memory swappiness range is 0-100".into()),
        (json!({"MemorySwappiness": -1}), 404, no_image.clone()),
        (json!({"NanoCpus": -1}), 400, cpus.clone()),
        (json!({"NanoCpus": i64::MAX}), 400, cpus.clone()),
        (json!({"NanoCpus": 1_000_000_000_000_000i64}), 400, cpus.clone()),
        (json!({"NanoCpus": ncpu as i64 * 1_000_000_000}), 404, no_image.clone()),
        (json!({"NanoCpus": 1_000_000_000, "CpuPeriod": 100_000}), 400, "Conflicting options: Nano CPUs and CPU Period cannot both be set".into()),
        (json!({"NanoCpus": 1_000_000_000, "CpuQuota": 50_000}), 400, "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into()),
        (json!({"CpuPeriod": 999}), 400, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into()),
        (json!({"CpuPeriod": i64::MAX}), 400, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)".into()),
        (json!({"CpuQuota": 999}), 400, "CPU cfs quota can not be less than 1ms (i.e. 1000)".into()),
        (json!({"CpuShares": -1}), 400, "shares: invalid argument".into()),
        (json!({"CpuShares": 1}), 400, "the minimum allowed cpu-shares is 2".into()),
        (json!({"CpuShares": 262_145}), 400, "the maximum allowed cpu-shares is 262144".into()),
        (json!({"CpuShares": i64::MAX}), 400, "the maximum allowed cpu-shares is 262144".into()),
        (json!({"CpuShares": 262_144}), 404, no_image.clone()),
        (json!({"PidsLimit": i64::MIN}), 404, no_image.clone()),
        (json!({"BlkioWeight": 5}), 400, "Range of blkio weight is from 10 to 1000".into()),
        (json!({"ShmSize": -1}), 400, "SHM size can not be less than 0".into()),
        (json!({"OomScoreAdj": 5000}), 400, "Invalid value 5000, range for oom score adj is [-1000, 1000]".into()),
    ]
}

#[test]
fn resource_values_get_dockers_errors_at_create() {
    let e = Engine::start();
    let ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    for (hc, status, msg) in resource_cases(ncpu) {
        let r = request(&e, "POST", "/containers/create", Some(&json!({"Image": "busybox", "Cmd": ["true"], "HostConfig": hc})));
        assert_eq!((r.status, r.message()), (status, msg), "HostConfig {hc}: {r:?}");
    }
    // Out of i64's range: a JSON error, not a wrapped value.
    let raw = r#"{"Image":"busybox","HostConfig":{"Memory":9223372036854775808}}"#;
    let mut s = UnixStream::connect(&e.sock).unwrap();
    write!(s, "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{raw}", raw.len()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert_eq!(parse(&out).status, 400, "{}", String::from_utf8_lossy(&out));
    assert!(!e.daemon_log().contains("panicked"), "{}", e.daemon_log());
}

fn cgroup_file(e: &Engine, ctrl: &str, id: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup/{ctrl}/{}/{id}/{file}", e.cgroup_parent.trim_start_matches('/'));
    std::fs::read_to_string(&p).unwrap_or_else(|err| panic!("{p}: {err}")).trim().to_string()
}

#[test]
fn resource_values_through_the_cli_and_in_the_cgroup() {
    let e = Engine::start();
    e.import_busybox();
    let ncpu = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    for (args, msg) in [
        (vec!["--memory", "4m"], "Minimum memory limit allowed is 6MB".to_string()),
        (vec!["--memory", "64m", "--memory-swap", "32m"], "Minimum memoryswap limit should be larger than memory limit, see usage".into()),
        (vec!["--memory-swap", "64m"], "You should always set the Memory limit when using Memoryswap limit, see usage".into()),
        // 2^63 bytes: more than an i64 (the CLI sends the largest one).
        (vec!["--memory", "9223372036854775808"], format!("Memory limit {} is too large", i64::MAX)),
        (vec!["--memory", "8388608t"], format!("Memory limit {} is too large", i64::MAX)),
        (vec!["--cpus", "-1"], format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")),
        (vec!["--cpus", "1e300"], format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")),
        (vec!["--cpu-shares", "9223372036854775807"], "the maximum allowed cpu-shares is 262144".into()),
    ] {
        let mut a = vec!["create"];
        a.extend(&args);
        a.extend(["busybox", "true"]);
        let r = e.berth(&a);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains(&format!("Error response from daemon: {msg}")), "{args:?}: {r:?}");
    }
    // Not a number: refused by the CLI (it was sent as 0, no limit at all).
    for v in ["NaN", "inf", "-inf", "x"] {
        let r = e.berth(&["create", "--cpus", v, "busybox", "true"]);
        assert_ne!(r.code, 0, "--cpus {v}: {r:?}");
        assert!(r.stderr.contains(&format!("failed to parse {v} as a rational number")), "--cpus {v}: {r:?}");
    }
    // The largest values that are accepted reach the cgroup as the kernel's ceiling, unwrapped.
    let id = e.ok(&[
        "run",
        "-d",
        "--memory",
        "9223372036854775807",
        "--memory-swap",
        "-1",
        "--cpu-shares",
        "262144",
        "--pids-limit",
        "-5",
        "--cpus",
        &ncpu.to_string(),
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = id.trim();
    let page_counter_max = (i64::MAX as u64 / 4096 * 4096).to_string();
    assert_eq!(cgroup_file(&e, "memory", id, "memory.limit_in_bytes"), page_counter_max);
    assert_eq!(cgroup_file(&e, "cpu", id, "cpu.shares"), "262144");
    assert_eq!(cgroup_file(&e, "cpu", id, "cpu.cfs_quota_us"), (ncpu * 100_000).to_string());
    assert_eq!(cgroup_file(&e, "pids", id, "pids.max"), "max");
    assert!(!e.daemon_log().contains("panicked"), "{}", e.daemon_log());
}

fn berthd_pid(e: &Engine) -> u32 {
    std::fs::read_to_string(e.dir.path().join("berthd.pid")).unwrap().trim().parse().unwrap()
}

/// `(VmRSS, VmHWM)` of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field =
        |k: &str| st.lines().find_map(|l| l.strip_prefix(k)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap();
    (field("VmRSS:"), field("VmHWM:"))
}

const CAP: u64 = 16 << 20;

#[test]
fn json_bodies_are_capped_without_being_buffered() {
    let e = Engine::start();
    let pid = berthd_pid(&e);
    let (rss0, hwm0) = rss_kib(pid);

    // Declared too large (10 GB): answered at once, without reading what follows.
    let mut s = UnixStream::connect(&e.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{{\"Image\":").unwrap();
    let mut out = Vec::new();
    let t = Instant::now();
    let _ = s.read_to_end(&mut out);
    let r = parse(&out);
    assert_eq!(r.status, 413, "declared 10 GB: {r:?} after {:?}", t.elapsed());
    assert_eq!(r.message(), "request body too large: JSON request bodies are limited to 16 MiB");

    // Streamed (chunked, no length): 256 MiB generated on the fly; the daemon answers once it
    // has read past the cap and stops reading.
    let total: u64 = 256 << 20;
    let mut s = UnixStream::connect(&e.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || -> u64 {
        let mut sent = 0u64;
        let head =
            "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if w.write_all(head.as_bytes()).is_err() {
            return 0;
        }
        let first = b"{\"Image\":\"busybox\",\"Env\":[\"A=";
        let _ =
            w.write_all(format!("{:x}\r\n", first.len()).as_bytes()).and_then(|_| w.write_all(first)).and_then(|_| w.write_all(b"\r\n"));
        let chunk = vec![b'a'; 1 << 20];
        while sent < total {
            let frame = format!("{:x}\r\n", chunk.len());
            if w.write_all(frame.as_bytes()).and_then(|_| w.write_all(&chunk)).and_then(|_| w.write_all(b"\r\n")).is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        let _ = w.write_all(b"\"]}\r\n0\r\n\r\n");
        sent
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let sent = writer.join().unwrap();
    let r = parse(&out);
    assert_eq!(r.status, 413, "streamed: {r:?}");
    assert_eq!(r.message(), "request body too large: JSON request bodies are limited to 16 MiB");
    assert!(sent < total, "the daemon read all {sent} bytes");
    let (rss1, hwm1) = rss_kib(pid);
    eprintln!("berthd VmRSS {rss0} -> {rss1} KiB, VmHWM {hwm0} -> {hwm1} KiB, {sent} bytes sent");
    assert!(hwm1 < hwm0 + 4 * CAP / 1024, "berthd's peak RSS grew from {hwm0} to {hwm1} KiB");
    assert!(rss1 < rss0 + 4 * CAP / 1024, "berthd's RSS grew from {rss0} to {rss1} KiB");

    // Under the cap: parsed as before (a 1 MiB Env reaches the image lookup).
    let big = "a".repeat(1 << 20);
    let r = request(&e, "POST", "/containers/create", Some(&json!({"Image": "busybox", "Env": [format!("A={big}")]})));
    assert_eq!((r.status, r.message()), (404, "No such image: busybox:latest".into()));
    // Other JSON endpoints share the cap.
    let mut s = UnixStream::connect(&e.sock).unwrap();
    write!(s, "POST /v1.41/volumes/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", CAP + 1)
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert_eq!(parse(&out).status, 413, "{}", String::from_utf8_lossy(&out));

    // Streaming endpoints are not capped this way: a 20 MiB (invalid) archive to
    // `POST /images/load` is read as an archive, not refused for its size.
    let body = vec![0u8; 20 << 20];
    let mut s = UnixStream::connect(&e.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(s, "POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
    s.write_all(&body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let r = parse(&out);
    assert_ne!(r.status, 413, "{r:?}");
    assert!(!r.body.contains("too large"), "{r:?}");
}

#[test]
fn no_panic_from_requests() {
    let mut e = Engine::start();
    // `since`/`until` past i64 nanoseconds: saturated, not overflowed (a panic dropped the
    // connection without an answer).
    let r = request(&e, "GET", "/events?since=99999999999&until=-99999999999", None);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.message(), "`since` time (99999999999) cannot be after `until` time (-99999999999)");
    let r = request(&e, "GET", "/events?since=-9223372036854775808&until=1", None);
    assert_eq!(r.status, 200, "{r:?}");
    let r = request(&e, "GET", "/events?since=1.-5&until=2", None);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(!e.daemon_log().contains("panicked"), "{}", e.daemon_log());

    // Start racing a forced removal: the start looks the container up again after resolving
    // it and must answer 404, not panic under the state lock (which poisoned it for every
    // later request); the removal must not remove files under a start in progress.
    e.import_busybox();
    for i in 0..30 {
        let id = e.ok(&["create", "busybox", "true"]).trim().to_string();
        let sock = e.sock.clone();
        let id2 = id.clone();
        let rm = std::thread::spawn(move || {
            let mut s = UnixStream::connect(&sock).unwrap();
            write!(s, "DELETE /v1.41/containers/{id2}?force=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            parse(&out)
        });
        let st = request(&e, "POST", &format!("/containers/{id}/start"), None);
        let rm = rm.join().unwrap();
        // Whichever comes first wins: a removal marks the container (the start is refused,
        // 409, or finds it gone, 404); a start runs to its end and the forced removal then
        // kills and removes it (never "Directory not empty" from removing under a start).
        assert!(matches!(st.status, 204 | 404 | 409), "round {i}: start {st:?}");
        assert!(matches!(rm.status, 204 | 404), "round {i}: rm {rm:?}");
        let gone = request(&e, "GET", &format!("/containers/{id}/json"), None);
        assert_eq!(gone.status, 404, "round {i}: the forced removal left {gone:?}");
        let ping = request(&e, "GET", "/containers/json?all=1", None);
        assert_eq!(ping.status, 200, "round {i}: the daemon still answers: {ping:?}");
    }
    assert!(!e.daemon_log().contains("panicked"), "{}", e.daemon_log());

    // Values that got into a record before the checks (hostconfig.json edited while berthd
    // is down): the start answers an error, twice (a panic also left it marked as starting).
    for (i, (k, v)) in [("Memory", json!(i64::MAX)), ("NanoCpus", json!(1_000_000_000_000_000i64))].into_iter().enumerate() {
        let r = request(&e, "POST", &format!("/containers/create?name=old{i}"), Some(&json!({"Image": "busybox", "Cmd": ["true"]})));
        assert_eq!(r.status, 201, "{r:?}");
        let id = serde_json::from_str::<Value>(&r.body).unwrap()["Id"].as_str().unwrap().to_string();
        e.stop_daemon();
        let f = e.data_root().join(format!("containers/{id}/hostconfig.json"));
        let mut hc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        hc[k] = v;
        std::fs::write(&f, serde_json::to_vec(&hc).unwrap()).unwrap();
        e.start_daemon();
        for _ in 0..2 {
            let r = request(&e, "POST", &format!("/containers/old{i}/start"), None);
            assert_eq!(r.status, 400, "{k}: {r:?}");
            assert!(!r.message().is_empty(), "{k}: {r:?}");
        }
    }
    assert!(!e.daemon_log().contains("panicked"), "{}", e.daemon_log());
}

/// A `CgroupParent` climbing with `..` lands below the hierarchy's root, cleaned as runc's
/// CleanPath cleans it (`../../x` is `/x`); inspect shows it as given, as Docker does.
#[test]
fn cgroup_parent_cannot_climb_above_the_root() {
    let e = Engine::start();
    e.import_busybox();
    let leaf = format!("berth-test-climb-{}", std::process::id());
    let given = format!("../../{leaf}");
    let r = request(&e, "POST", "/containers/create?name=climb", Some(&json!({"Image": "busybox", "Cmd": ["sleep", "30"], "HostConfig": {"CgroupParent": given}})));
    assert_eq!(r.status, 201, "{r:?}");
    e.ok(&["start", "climb"]);
    let pid = e.ok(&["inspect", "-f", "{{.State.Pid}}", "climb"]).trim().to_string();
    let id = e.ok(&["inspect", "-f", "{{.Id}}", "climb"]).trim().to_string();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/{leaf}/{id}");
    let line = cg.lines().find(|l| l.contains(":memory:") || l.starts_with("0::")).unwrap_or_default().to_string();
    assert!(line.ends_with(&want), "the container's cgroup is {line:?}, want …{want}: {cg}");
    assert_eq!(e.ok(&["inspect", "-f", "{{.HostConfig.CgroupParent}}", "climb"]).trim(), given);
    // stats read the same cleaned path.
    let s = e.ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", "climb"]);
    assert_eq!(s.trim(), "1", "{s}");
    e.ok(&["rm", "-f", "climb"]);
    for h in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = std::fs::remove_dir(h.path().join(&leaf));
    }
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(&leaf));
}
