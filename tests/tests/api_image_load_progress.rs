//! `POST /images/load` progress as Docker 20.10 streams it: with `quiet=0` a `Loading layer`
//! series per layer (short diffID, bytes of the layer file read from the archive, total = that
//! file's size), then `{"stream":"Loaded image: …\n"}`; with `quiet=1` (or no `quiet`) only the
//! `stream` lines; a failure is an `errorDetail` line in a 200 stream. Then `docker load` and
//! `berth load` against berthd, through a pipe (quiet) and on a pty (bars).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::engine::{bins, docker_cli, fixtures_dir, have_docker, Engine};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn busybox_archive() -> PathBuf {
    let p = fixtures_dir().join("images/busybox.tar");
    assert!(p.exists(), "fixture {} is missing: run cargo xtask fixtures", p.display());
    p
}

/// `(short diffID, size of the layer file)` for each layer of the first image of an archive,
/// bottom first, read from its manifest.json and config.
fn archive_layers(archive: &Path) -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("tar").arg("-xf").arg(archive).arg("-C").arg(dir.path()).status().unwrap();
    assert!(st.success());
    let m: Value = serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let cfg: Value = serde_json::from_slice(&std::fs::read(dir.path().join(m[0]["Config"].as_str().unwrap())).unwrap()).unwrap();
    let diffs = cfg["rootfs"]["diff_ids"].as_array().unwrap();
    m[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(diffs)
        .map(|(l, d)| (d.as_str().unwrap()[7..19].to_string(), std::fs::metadata(dir.path().join(l.as_str().unwrap())).unwrap().len()))
        .collect()
}

/// go-units `HumanSize` (`%.4g` + decimal unit), as jsonmessage prints sizes.
fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let (mut v, mut i) = (n as f64, 0);
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let int_digits = if v < 1.0 { 1 } else { v.log10().floor() as usize + 1 };
    let s = format!("{v:.*}", 4usize.saturating_sub(int_digits));
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{}", units[i])
}

struct Answer {
    status: u16,
    content_type: String,
    /// The body's lines, each of which ended in `\r\n`.
    raw: Vec<String>,
    lines: Vec<Value>,
}

/// `POST /v1.41/images/load{query}` with `body`, read to the end.
fn post_load(e: &Engine, query: &str, body: &[u8]) -> Answer {
    let mut s = UnixStream::connect(&e.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "POST /v1.41/images/load{query} HTTP/1.0\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap_or_else(|err| panic!("load{query}: {err}\n--- berthd:\n{}", e.daemon_log()));
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head: {text:?}"));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default();
    assert!(body.is_empty() || body.ends_with("\r\n"), "lines end in \\r\\n: {body:?}");
    let raw: Vec<String> = body.split_terminator("\r\n").map(String::from).collect();
    let lines = raw.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|err| panic!("{err}: {l:?}"))).collect();
    Answer { status, content_type, raw, lines }
}

/// Checks the `Loading layer` lines against `(short id, file size)` of the layers expected to
/// load, in that order when `ordered`; returns the other lines.
fn check_progress(a: &Answer, expect: &[(String, u64)], ordered: bool) -> Vec<Value> {
    assert_eq!((a.status, a.content_type.as_str()), (200, "application/json"), "{:?}", a.raw);
    let mut seen: Vec<String> = Vec::new();
    let mut last: Option<(String, u64)> = None;
    let mut rest = Vec::new();
    for (raw, m) in a.raw.iter().zip(&a.lines) {
        if m["status"] != "Loading layer" {
            rest.push(m.clone());
            continue;
        }
        assert!(rest.is_empty(), "progress after the end: {:?}", a.raw);
        // Docker's field order: status, progressDetail, progress, id.
        assert!(raw.starts_with("{\"status\":\"Loading layer\",\"progressDetail\":{\"current\":"), "{raw}");
        let id = m["id"].as_str().unwrap().to_string();
        let (cur, total) = (m["progressDetail"]["current"].as_u64().unwrap(), m["progressDetail"]["total"].as_u64().unwrap());
        let size = expect.iter().find(|(i, _)| *i == id).unwrap_or_else(|| panic!("unexpected layer {id}: {:?}", a.raw)).1;
        assert_eq!(total, size, "{raw}");
        assert!(cur > 0 && cur <= total, "{raw}");
        let pct = (cur as f64 / total as f64 * 100.0) as usize / 2;
        let bar = format!("[{}>{}] {:>8}/{}", "=".repeat(pct), " ".repeat(50 - pct), human_size(cur), human_size(total));
        assert_eq!(m["progress"], bar.as_str(), "{raw}");
        match &last {
            Some((l, c)) if *l == id => assert!(cur > *c, "progress goes forward: {:?}", a.raw),
            _ => {
                if let Some((l, c)) = &last {
                    let size = expect.iter().find(|(i, _)| i == l).unwrap().1;
                    assert_eq!(*c, size, "layer {l} ends complete: {:?}", a.raw);
                }
                assert!(!seen.contains(&id), "one series per layer: {:?}", a.raw);
                seen.push(id.clone());
            }
        }
        last = Some((id, cur));
    }
    if let Some((l, c)) = &last {
        assert_eq!(*c, expect.iter().find(|(i, _)| i == l).unwrap().1, "layer {l} ends complete: {:?}", a.raw);
    }
    let mut want: Vec<String> = expect.iter().map(|(i, _)| i.clone()).collect();
    if !ordered {
        want.sort();
        seen.sort();
    }
    assert_eq!(seen, want, "{:?}", a.raw);
    rest
}

/// A tiny deterministic byte generator (layer contents that do not compress away).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// A layer tar holding `files`, made by tar(1).
fn layer_tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(d.path().join(name), data).unwrap();
    }
    let out = Command::new("tar")
        .args(["--format=ustar", "--numeric-owner", "--owner=0", "--group=0", "--mtime=@0", "-C"])
        .arg(d.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut c = Command::new("gzip").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut w = c.stdin.take().unwrap();
    let data = data.to_vec();
    let t = std::thread::spawn(move || w.write_all(&data).unwrap());
    let out = c.wait_with_output().unwrap();
    t.join().unwrap();
    out.stdout
}

struct Built {
    archive: Vec<u8>,
    /// `(short diffID, file size)` bottom first.
    layers: Vec<(String, u64)>,
    image_id: String,
    /// The diffID of the second layer's content (whatever the config says).
    real_diff1: String,
}

/// A 20.10-style archive: `l<i>/layer.tar` (the second gzip'ed), `config.json`, `manifest.json`,
/// entries in the order given by `manifest_first`. `bad_diff` puts a wrong diffID for layer 1 in
/// the config.
fn build_archive(seed: u64, tag: Option<&str>, manifest_first: bool, bad_diff: bool) -> Built {
    let l0 = layer_tar(&[("base.bin", noise(seed, 300_000))]);
    let l1_plain = layer_tar(&[("big.bin", noise(seed + 1, 3_000_000)), ("small.txt", b"hello\n".to_vec())]);
    let l1 = gzip(&l1_plain);
    let mut diffs = vec![sha256(&l0), sha256(&l1_plain)];
    if bad_diff {
        diffs[1] = sha256(b"something else");
    }
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diffs},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "l0"}, {"created": "2024-01-01T00:00:00Z", "created_by": "l1"}],
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!([{
        "Config": "config.json", "RepoTags": tag.map(|t| vec![t]), "Layers": ["l0/layer.tar", "l1/layer.tar"],
    }]))
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("l0")).unwrap();
    std::fs::create_dir(d.path().join("l1")).unwrap();
    std::fs::write(d.path().join("l0/layer.tar"), &l0).unwrap();
    std::fs::write(d.path().join("l1/layer.tar"), &l1).unwrap();
    std::fs::write(d.path().join("config.json"), &config).unwrap();
    std::fs::write(d.path().join("manifest.json"), &manifest).unwrap();
    let order: &[&str] = if manifest_first {
        &["manifest.json", "config.json", "l0/layer.tar", "l1/layer.tar"]
    } else {
        &["l0/layer.tar", "l1/layer.tar", "config.json", "manifest.json"]
    };
    let out = Command::new("tar").args(["--format=ustar", "-C"]).arg(d.path()).args(["-cf", "-"]).args(order).output().unwrap();
    assert!(out.status.success());
    Built {
        archive: out.stdout,
        // Docker names the progress after the config's diffIDs.
        layers: vec![(diffs[0][7..19].to_string(), l0.len() as u64), (diffs[1][7..19].to_string(), l1.len() as u64)],
        image_id: sha256(&config),
        real_diff1: sha256(&l1_plain),
    }
}

fn streams(rest: &[Value]) -> Vec<String> {
    rest.iter().map(|m| m["stream"].as_str().unwrap_or_else(|| panic!("not a stream line: {m}")).to_string()).collect()
}

#[test]
fn load_stream_quiet_and_progress() {
    let e = Engine::start();
    let bb = std::fs::read(busybox_archive()).unwrap();
    let bb_layers = archive_layers(&busybox_archive());

    // quiet=1, and no quiet at all (dockerd's default is quiet): only the stream line.
    let a = post_load(&e, "?quiet=1", &bb);
    assert_eq!(streams(&check_progress(&a, &[], true)), ["Loaded image: busybox:latest\n"]);
    assert_eq!(a.raw, [r#"{"stream":"Loaded image: busybox:latest\n"}"#]);
    e.ok(&["rmi", "busybox"]);
    let a = post_load(&e, "", &bb);
    assert_eq!(streams(&check_progress(&a, &[], true)), ["Loaded image: busybox:latest\n"]);
    e.ok(&["rmi", "busybox"]);

    // quiet=0, OCI layout (blobs/sha256/<diffID>): applied while read.
    let a = post_load(&e, "?quiet=0", &bb);
    assert_eq!(streams(&check_progress(&a, &bb_layers, true)), ["Loaded image: busybox:latest\n"]);

    // quiet=0, the 20.10 layout berthd saves (manifest.json last): the layer is read from the
    // archive, then registered with its progress.
    let saved = e.dir.path().join("bb-saved.tar");
    e.ok(&["save", "-o", saved.to_str().unwrap(), "busybox"]);
    let saved_layers = archive_layers(&saved);
    assert_eq!(saved_layers.iter().map(|l| &l.0).collect::<Vec<_>>(), bb_layers.iter().map(|l| &l.0).collect::<Vec<_>>());
    e.ok(&["rmi", "busybox"]);
    let a = post_load(&e, "?quiet=0", &std::fs::read(&saved).unwrap());
    assert_eq!(streams(&check_progress(&a, &saved_layers, true)), ["Loaded image: busybox:latest\n"]);

    // Two layers (the second gzip'ed: its total is the compressed size), manifest.json last:
    // bottom layer first; loaded again, nothing to register, so no progress (as Docker).
    let b = build_archive(1, Some("mk:last"), false, false);
    let a = post_load(&e, "?quiet=0", &b.archive);
    assert_eq!(streams(&check_progress(&a, &b.layers, true)), ["Loaded image: mk:last\n"]);
    let a = post_load(&e, "?quiet=0", &b.archive);
    assert_eq!(streams(&check_progress(&a, &[], true)), ["Loaded image: mk:last\n"]);
    let inspect: Value = serde_json::from_str(&e.ok(&["inspect", "mk:last"])).unwrap();
    assert_eq!((inspect[0]["Id"].as_str().unwrap(), inspect[0]["RootFS"]["Layers"].as_array().unwrap().len()), (b.image_id.as_str(), 2));

    // manifest.json and config first: each layer applied while it is read. Untagged.
    let b = build_archive(7, None, true, false);
    let a = post_load(&e, "?quiet=0", &b.archive);
    assert_eq!(streams(&check_progress(&a, &b.layers, true)), [format!("Loaded image ID: {}\n", b.image_id)]);

    // A wrong diffID: progress, then Docker's error line, in a 200 stream; nothing is kept.
    let before = e.ok(&["images", "-aq", "--no-trunc"]);
    for manifest_first in [false, true] {
        let b = build_archive(20 + manifest_first as u64, Some("mk:bad"), manifest_first, true);
        let a = post_load(&e, "?quiet=0", &b.archive);
        let rest = check_progress(&a, &b.layers, !manifest_first);
        let want = format!("invalid diffID for layer 1: expected {:?}, got {:?}", sha256(b"something else"), b.real_diff1);
        assert_eq!(rest, [json!({"errorDetail": {"message": want}, "error": want})], "{:?}", a.raw);
        let m = serde_json::to_string(&want).unwrap();
        assert_eq!(a.raw.last().unwrap(), &format!(r#"{{"errorDetail":{{"message":{m}}},"error":{m}}}"#), "Docker's key order");
        let a = post_load(&e, "?quiet=1", &b.archive);
        assert_eq!(check_progress(&a, &[], true), [json!({"errorDetail": {"message": want}, "error": want})]);
    }
    assert_eq!(e.ok(&["images", "-aq", "--no-trunc"]), before);
    let a = post_load(&e, "?quiet=0", b"not an archive at all");
    assert_eq!(a.status, 200);
    assert!(a.lines.len() == 1 && a.lines[0]["errorDetail"]["message"] == a.lines[0]["error"], "{:?}", a.raw);
}

fn openpty() -> (std::fs::File, OwnedFd) {
    berth_tests::pty::openpty(40, 200)
}

/// Runs `cmd` with stdin, stdout and stderr on a pty; returns its exit code and all it wrote.
fn on_pty(mut cmd: Command) -> (i32, String) {
    let (master, slave) = openpty();
    let fd = slave.as_raw_fd();
    cmd.stdin(Stdio::from(slave.try_clone().unwrap())).stdout(Stdio::from(slave.try_clone().unwrap())).stderr(Stdio::from(slave));
    // SAFETY: setsid + controlling tty in the child, async-signal-safe calls only.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::ioctl(fd, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn CLI on a pty");
    drop(cmd);
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (o, mut r) = (out.clone(), master.try_clone().unwrap());
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            o.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("CLI did not exit; pty output: {:?}", String::from_utf8_lossy(&out.lock().unwrap()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // The slave side is closed with the child: the reader sees EIO/EOF.
    drop(master);
    let _ = reader.join();
    let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    (code, text)
}

/// What a terminal shows after `out`: `\r`, `\n`, cursor up/down (`ESC[nA`/`ESC[nB`), line
/// erase (`ESC[2K`); other escape sequences (colours) are dropped. Trailing blanks trimmed.
fn screen(out: &str) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut it = out.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' if it.peek() == Some(&'[') => {
                it.next();
                let mut arg = String::new();
                let mut cmd = ' ';
                for c in it.by_ref() {
                    if c.is_ascii_alphabetic() {
                        cmd = c;
                        break;
                    }
                    arg.push(c);
                }
                let n: usize = arg.parse().unwrap_or(1);
                match cmd {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'K' => lines[row].clear(),
                    _ => {}
                }
            }
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
            }
            c => {
                let l = &mut lines[row];
                while l.len() <= col {
                    l.push(' ');
                }
                l[col] = c;
                col += 1;
            }
        }
        while lines.len() <= row {
            lines.push(Vec::new());
        }
    }
    let mut v: Vec<String> = lines.into_iter().map(|l| l.into_iter().collect::<String>().trim_end().to_string()).collect();
    while v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

/// The final bar of a layer as jsonmessage draws it: `<id>: Loading layer [====…>]  2.13MB/2.13MB`.
fn full_bar(id: &str, size: u64) -> String {
    format!("{id}: Loading layer [{}>] {:>8}/{}", "=".repeat(50), human_size(size), human_size(size))
}

#[test]
fn docker_load_against_berthd() {
    if !have_docker("docker load progress") {
        return;
    }
    let e = Engine::start();
    let bb = busybox_archive();
    let layers = archive_layers(&bb);

    // stdout not a terminal: the CLI asks for quiet=1 and prints the stream line only.
    let r = e.docker(&["load", "-i", bb.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "Loaded image: busybox:latest\n", ""), "{r:?}");
    assert_eq!(e.docker(&["rmi", "busybox"]).code, 0);

    // On a terminal: quiet=0, one bar per layer, then the stream line below them.
    let mut cmd = Command::new(docker_cli().unwrap());
    cmd.args(["load", "-i", bb.to_str().unwrap()])
        .env("DOCKER_HOST", e.host())
        .env("DOCKER_CONFIG", e.dir.path().join("docker-config"))
        .env_remove("DOCKER_API_VERSION");
    let (code, out) = on_pty(cmd);
    assert_eq!(code, 0, "{out:?}");
    let mut want: Vec<String> = layers.iter().map(|(id, size)| full_bar(id, *size)).collect();
    want.push("Loaded image: busybox:latest".into());
    assert_eq!(screen(&out), want, "{out:?}");

    // A failing load: the error line's message, exit 1.
    let b = build_archive(30, Some("mk:bad"), false, true);
    let p = e.dir.path().join("bad.tar");
    std::fs::write(&p, &b.archive).unwrap();
    let r = e.docker(&["load", "-i", p.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("invalid diffID for layer 1: expected"), "{r:?}");
}

#[test]
fn berth_load_progress() {
    let e = Engine::start();
    let bb = busybox_archive();
    let layers = archive_layers(&bb);

    let r = e.berth(&["load", "-i", bb.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "Loaded image: busybox:latest\n", ""), "{r:?}");
    e.ok(&["rmi", "busybox"]);

    let (berth, _) = bins();
    let pty_load = |args: &[&str]| {
        let mut cmd = Command::new(&berth);
        cmd.arg("load").args(args).env("BERTH_HOST", e.host()).env("BERTH_CONFIG", e.dir.path().join("berth-config"));
        on_pty(cmd)
    };
    let (code, out) = pty_load(&["-i", bb.to_str().unwrap()]);
    assert_eq!(code, 0, "{out:?}");
    // indicatif's bars, complete, one per layer; the line below them.
    let shown = screen(&out);
    assert_eq!(shown.len(), layers.len() + 1, "{shown:#?}");
    for ((id, _), line) in layers.iter().zip(&shown) {
        assert!(line.starts_with(&format!("{id}: Loading layer [{}]", "=".repeat(50))), "{shown:#?}");
    }
    assert_eq!(shown.last().unwrap(), "Loaded image: busybox:latest");
    e.ok(&["rmi", "busybox"]);

    // -q on a terminal: no bars.
    let (code, out) = pty_load(&["-q", "-i", bb.to_str().unwrap()]);
    assert_eq!((code, screen(&out)), (0, vec!["Loaded image: busybox:latest".to_string()]), "{out:?}");

    // Two layers, bottom first.
    let two = build_archive(50, Some("mk:two"), false, false);
    let p = e.dir.path().join("two.tar");
    std::fs::write(&p, &two.archive).unwrap();
    let (code, out) = pty_load(&["-i", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{out:?}");
    let shown = screen(&out);
    assert_eq!(shown.len(), 3, "{shown:#?}");
    for ((id, _), line) in two.layers.iter().zip(&shown) {
        assert!(line.starts_with(&format!("{id}: Loading layer [{}]", "=".repeat(50))), "{shown:#?}");
    }
    assert_eq!(shown[2], "Loaded image: mk:two");

    // An error in the stream: its message, exit 1 (on a terminal, below the bars).
    let b = build_archive(40, Some("mk:bad"), false, true);
    let p = e.dir.path().join("bad.tar");
    std::fs::write(&p, &b.archive).unwrap();
    let want = format!("invalid diffID for layer 1: expected {:?}, got {:?}", sha256(b"something else"), b.real_diff1);
    let r = e.berth(&["load", "-i", p.to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (1, "", format!("{want}\n").as_str()), "{r:?}");
    let b = build_archive(41, Some("mk:bad"), false, true);
    std::fs::write(&p, &b.archive).unwrap();
    let want = format!("invalid diffID for layer 1: expected {:?}, got {:?}", sha256(b"something else"), b.real_diff1);
    let (code, out) = pty_load(&["-i", p.to_str().unwrap()]);
    let shown = screen(&out);
    assert_eq!((code, shown.len(), shown.last().unwrap()), (1, 3, &want), "{shown:#?}");
    assert!(shown[0].starts_with(&format!("{}: Loading layer [", b.layers[0].0)), "{shown:#?}");
}
