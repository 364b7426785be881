//! `docker build` (the classic builder, `DOCKER_BUILDKIT=0`) differential test: the same
//! Dockerfiles, in the same context directories, built by the same docker CLI against Docker
//! 20.10 (the sandboxed oracle) and against berthd, both holding the same busybox base image
//! (the fixture archive `docker load`ed into each, so its ID is the same). One oracle and one
//! berthd serve every case; each build runs on both at once.
//!
//! After replacing what Docker itself varies — times; IDs of images and containers, named after
//! the build and step whose output printed them (so "Config.Image is the previous step" reads
//! the same on both); how a RUN's stderr writes fall into red-wrapped chunks; the text of an
//! error reaching Docker Hub from a sandbox without network — it compares:
//! - each build's exit code, stdout (steps, ` ---> Using cache`, `Running in`, `Removing
//!   intermediate container`, RUN output, `Successfully built/tagged`) and stderr;
//! - `docker image inspect` of every step's image (Config and ContainerConfig, Author,
//!   Os/Architecture, Parent, Container, Comment, the number of layers);
//! - for each tagged image, the config from `docker save`: its keys and their order at every
//!   level, history (`created_by`, `empty_layer`, author, comment), config and
//!   container_config; and `docker history` (IDs, steps, sizes, comments);
//! - every layer tar from `docker save`: names, types, modes (the raw header field), uid/gid,
//!   user/group names, sizes, link targets, contents, xattrs and other PAX records, and mtimes
//!   where Docker is deterministic (the times older than the test: from the context or the base
//!   image; newer ones are the build's own clock and only need to be newer on both);
//! - how many containers and images each engine has after each build.
//!
//! Then the cache (a rebuild all cached, `touch` all cached, a content change and a mode change
//! rebuilding from the same step, a build arg from the first RUN, every case rebuilt at the
//! end) and error outputs (unknown instruction, a failing RUN, COPY of a missing file, COPY
//! ../x, …).
//!
//! Every difference fails the test with a diff, except those in [`ALLOWED`], each with its
//! reason. Without the oracle's binaries (and not in CI) the test prints "skipped: …" and passes.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use berth_testkit::{run_with, Run};
use berth_tests::docker_oracle::DockerOracle;
use berth_tests::engine::{fixtures_dir, Engine};

/// Differences berth must have, each with its reason: `(where, reason)`. A difference is allowed
/// when the path it is reported at (`<case>: <what>: <json path>`) ends with `: <where>`. Keep
/// this short: anything else that differs is a bug to fix.
const ALLOWED: &[(&str, &str)] = &[
    ("DockerVersion", "the engine's own version: berth says 20.10.24, the oracle is Debian's build 20.10.24+dfsg1"),
    ("config: docker_version", "the same version string, in the image config"),
];

/// mtime given to every file of the contexts (2020-09-13): older than the test, so copies of
/// them must keep it exactly.
const CONTEXT_MTIME: i64 = 1_600_000_000;

// ---------------------------------------------------------------------------------------------
// The two engines.

struct Side<'a> {
    name: &'static str,
    cli: Box<dyn Fn() -> Command + Send + Sync + 'a>,
    names: Mutex<Names>,
}

impl Side<'_> {
    fn run(&self, args: &[&str]) -> Run {
        let mut c = (self.cli)();
        c.env("DOCKER_BUILDKIT", "0").args(args);
        run_with(&mut c, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{}: docker {args:?} failed: {r:?}", self.name);
        r.stdout
    }

    /// IDs named (see [`Names`]); and the text of an error reaching Docker Hub (no network in
    /// the sandboxes), which is each engine's own HTTP client's and resolver's, cut after what
    /// the builder says around it.
    fn normalise(&self, s: &str) -> String {
        // dockerd sends each chunk a RUN writes to stderr wrapped in red (ESC[91m … ESC[0m);
        // how the shell's writes fall into chunks is timing, so adjacent chunks are joined.
        let s = s.replace("\x1b[0m\x1b[91m", "");
        let s = self.names.lock().unwrap().normalise(&s);
        let mut out = String::new();
        for line in s.split_inclusive('\n') {
            match line.find("\"https://registry-1.docker.io/") {
                Some(i) => {
                    let start = line[..i].trim_end().rfind(' ').map(|j| j + 1).unwrap_or(0);
                    out.push_str(&line[..start]);
                    out.push_str("<the engine's error reaching registry-1.docker.io>\n");
                }
                None => out.push_str(line),
            }
        }
        out
    }
}

/// Runs `f` on both sides at once (the oracle first in the result).
fn both<'s, 'a, T: Send>(sides: &'s [Side<'a>; 2], f: impl Fn(&'s Side<'a>) -> T + Sync) -> [T; 2] {
    std::thread::scope(|s| {
        let h = s.spawn(|| f(&sides[1]));
        let a = f(&sides[0]);
        [a, h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))]
    })
}

/// Names for the IDs of images and containers an engine made: named after the build and step
/// whose output printed them, so that the two engines' IDs compare equal when they play the
/// same part.
#[derive(Default)]
struct Names {
    /// First 12 hex digits → name.
    by_prefix: HashMap<String, String>,
    seen: usize,
}

impl Names {
    fn add(&mut self, id: &str, name: String) {
        let hex = id.strip_prefix("sha256:").unwrap_or(id);
        if hex.len() >= 12 && is_hex(&hex[..12]) {
            self.by_prefix.entry(hex[..12].to_string()).or_insert(name);
        }
    }

    /// Names a newly printed ID `<kind>:<label>@<step>#<n>`, n counting new IDs of this engine.
    fn add_new(&mut self, id: &str, kind: &str, label: &str, step: &str) {
        if id.len() >= 12 && !self.by_prefix.contains_key(&id[..12]) {
            self.seen += 1;
            let name = format!("{kind}:{label}@{step}#{}", self.seen);
            self.add(id, name);
        }
    }

    /// Registers the IDs a build printed: `---> <image>` after step N, `Running in <container>`.
    fn register_build(&mut self, label: &str, stdout: &str) {
        let mut step = String::from("0");
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("Step ") {
                step = rest.split('/').next().unwrap_or("?").to_string();
            } else if let Some(id) = line.strip_prefix(" ---> Running in ") {
                self.add_new(id.trim(), "ctr", label, &step);
            } else if let Some(id) = line.strip_prefix(" ---> ").filter(|i| is_hex(i.trim()) && i.trim().len() == 12) {
                self.add_new(id.trim(), "img", label, &step);
            } else if let Some(id) = line.strip_prefix("Successfully built ") {
                self.add_new(id.trim(), "img", label, "end");
            }
        }
    }

    /// Replaces every registered ID (64 or 12 hex digits) in `s` by `<name>`; other hex
    /// strings (content checksums) stay.
    fn normalise(&self, s: &str) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < b.len() {
            let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()).count();
            let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            if boundary && (run == 64 || run == 12) {
                if let Some(n) = self.by_prefix.get(&s[i..i + 12]) {
                    out.push('<');
                    out.push_str(n);
                    out.push('>');
                    i += run;
                    continue;
                }
            }
            let step = run.max(1);
            let end = (i + step).min(s.len());
            let end = (end..=s.len()).find(|e| s.is_char_boundary(*e)).unwrap_or(s.len());
            out.push_str(&s[i..end]);
            i = end;
        }
        out
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

// ---------------------------------------------------------------------------------------------
// Differences.

struct Diffs {
    case: String,
    found: Vec<String>,
    allowed: Vec<String>,
    used: Vec<bool>,
}

impl Diffs {
    fn new() -> Diffs {
        Diffs { case: String::new(), found: vec![], allowed: vec![], used: vec![false; ALLOWED.len()] }
    }

    /// A difference at `what` (`stdout`, `inspect: Config.Env`…) of the current case.
    fn report(&mut self, what: &str, detail: String) {
        let key = format!("{}: {what}", self.case);
        for (i, (pat, reason)) in ALLOWED.iter().enumerate() {
            if key.ends_with(&format!(": {pat}")) {
                self.used[i] = true;
                self.allowed.push(format!("{key} (allowed: {reason})"));
                return;
            }
        }
        self.found.push(format!("── {key}\n{detail}"));
    }

    fn text(&mut self, what: &str, docker: &str, berth: &str) {
        if docker != berth {
            self.report(what, line_diff(docker, berth));
        }
    }
}

/// A line diff (`-` Docker only, `+` berth only, ` ` both), from the longest common subsequence.
fn line_diff(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut l = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if a[i] == b[j] { l[i + 1][j + 1] + 1 } else { l[i + 1][j].max(l[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = vec![];
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("   {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || l[i][j + 1] >= l[i + 1][j]) {
            out.push(format!("  +{}", b[j]));
            j += 1;
        } else {
            out.push(format!("  -{}", a[i]));
            i += 1;
        }
    }
    format!("  (- Docker 20.10, + berth)\n{}\n", out.join("\n"))
}

// ---------------------------------------------------------------------------------------------
// JSON with its key order (serde_json's Value sorts keys).

#[derive(Clone, Debug, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, k: &str) -> Option<&J> {
        match self {
            J::Obj(m) => m.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, k: &str) -> Option<&mut J> {
        match self {
            J::Obj(m) => m.iter_mut().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }

    fn render(&self) -> String {
        match self {
            J::Null => "null".into(),
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.clone(),
            J::Str(s) => serde_json::to_string(s).unwrap(),
            J::Arr(v) => format!("[{}]", v.iter().map(J::render).collect::<Vec<_>>().join(",")),
            J::Obj(m) => format!("{{{}}}", m.iter().map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v.render())).collect::<Vec<_>>().join(",")),
        }
    }
}

fn parse_json(s: &str) -> J {
    struct P<'a> {
        b: &'a [u8],
        i: usize,
    }
    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) {
            self.ws();
            assert_eq!(self.b.get(self.i), Some(&c), "JSON: expected {:?} at {}", c as char, self.i);
            self.i += 1;
        }
        fn hex4(&mut self) -> u32 {
            let h = std::str::from_utf8(&self.b[self.i..self.i + 4]).unwrap();
            self.i += 4;
            u32::from_str_radix(h, 16).unwrap()
        }
        fn string(&mut self) -> String {
            self.eat(b'"');
            let mut out: Vec<u8> = vec![];
            loop {
                let c = self.b[self.i];
                self.i += 1;
                match c {
                    b'"' => return String::from_utf8(out).unwrap(),
                    b'\\' => {
                        let e = self.b[self.i];
                        self.i += 1;
                        let ch = match e {
                            b'n' => '\n',
                            b't' => '\t',
                            b'r' => '\r',
                            b'b' => '\x08',
                            b'f' => '\x0c',
                            b'u' => {
                                let mut u = self.hex4();
                                if (0xd800..0xdc00).contains(&u) && self.b.get(self.i) == Some(&b'\\') {
                                    self.i += 2;
                                    let lo = self.hex4();
                                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                                }
                                char::from_u32(u).unwrap_or('\u{fffd}')
                            }
                            other => other as char,
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    c => out.push(c),
                }
            }
        }
        fn value(&mut self) -> J {
            self.ws();
            match self.b[self.i] {
                b'{' => {
                    self.i += 1;
                    let mut m = vec![];
                    self.ws();
                    if self.b[self.i] == b'}' {
                        self.i += 1;
                        return J::Obj(m);
                    }
                    loop {
                        let k = self.string();
                        self.eat(b':');
                        m.push((k, self.value()));
                        self.ws();
                        self.i += 1;
                        if self.b[self.i - 1] == b'}' {
                            return J::Obj(m);
                        }
                    }
                }
                b'[' => {
                    self.i += 1;
                    let mut v = vec![];
                    self.ws();
                    if self.b[self.i] == b']' {
                        self.i += 1;
                        return J::Arr(v);
                    }
                    loop {
                        v.push(self.value());
                        self.ws();
                        self.i += 1;
                        if self.b[self.i - 1] == b']' {
                            return J::Arr(v);
                        }
                    }
                }
                b'"' => J::Str(self.string()),
                b't' => {
                    self.i += 4;
                    J::Bool(true)
                }
                b'f' => {
                    self.i += 5;
                    J::Bool(false)
                }
                b'n' => {
                    self.i += 4;
                    J::Null
                }
                _ => {
                    let st = self.i;
                    while self.i < self.b.len() && matches!(self.b[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                        self.i += 1;
                    }
                    J::Num(String::from_utf8_lossy(&self.b[st..self.i]).into_owned())
                }
            }
        }
    }
    P { b: s.as_bytes(), i: 0 }.value()
}

/// Reports every difference between `a` (Docker) and `b` (berth) below `path`; `ordered`:
/// object keys must come in the same order.
fn diff_json(d: &mut Diffs, what: &str, path: &str, a: &J, b: &J, ordered: bool) {
    let at = if path.is_empty() { what.to_string() } else { format!("{what}: {path}") };
    match (a, b) {
        (J::Obj(x), J::Obj(y)) => {
            let kx: Vec<&String> = x.iter().map(|(k, _)| k).collect();
            let ky: Vec<&String> = y.iter().map(|(k, _)| k).collect();
            let mut sx = kx.clone();
            let mut sy = ky.clone();
            sx.sort();
            sy.sort();
            if sx != sy || (ordered && kx != ky) {
                d.report(&format!("{at} (keys)"), format!("  Docker: {kx:?}\n  berth:  {ky:?}\n"));
            }
            for (k, v) in x {
                if let Some(w) = b.get(k) {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    diff_json(d, what, &p, v, w, ordered);
                }
            }
        }
        (J::Arr(x), J::Arr(y)) if x.len() == y.len() && x.iter().all(|e| matches!(e, J::Obj(_))) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff_json(d, what, &format!("{path}[{i}]"), v, w, ordered);
            }
        }
        _ if a == b => {}
        _ => d.report(&at, format!("  Docker: {}\n  berth:  {}\n", a.render(), b.render())),
    }
}

// ---------------------------------------------------------------------------------------------
// Contexts.

#[derive(Clone)]
enum F {
    Text(&'static str),
    Mode(&'static str, u32),
    Link(&'static str),
    Bytes(Vec<u8>),
    Dir,
}

/// A tar (gzip-compressed when `gz`) with a directory, files of several modes and owners, a
/// symlink and a hard link, every entry dated 2019-07-14.
fn archive(gz: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, typ: tar::EntryType, mode: u32, uid: u64, body: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(typ);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(1_563_100_000);
        h.set_size(body.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, body).unwrap();
    };
    add("site/", tar::EntryType::Directory, 0o750, 0, b"", None);
    add("site/index.html", tar::EntryType::Regular, 0o644, 0, b"<h1>site</h1>\n", None);
    add("site/run.sh", tar::EntryType::Regular, 0o755, 0, b"#!/bin/sh\necho run\n", None);
    add("site/owned", tar::EntryType::Regular, 0o600, 1234, b"owned by 1234\n", None);
    add("site/latest", tar::EntryType::Symlink, 0o777, 0, b"", Some("index.html"));
    add("site/hard", tar::EntryType::Link, 0o644, 0, b"", Some("site/index.html"));
    let raw = b.into_inner().unwrap();
    if !gz {
        return raw;
    }
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&raw).unwrap();
    e.finish().unwrap()
}

fn write_context(dir: &Path, dockerfile: &str, files: Vec<(&str, F)>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    for (name, f) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match f {
            F::Text(t) => std::fs::write(&p, t).unwrap(),
            F::Mode(t, mode) => {
                std::fs::write(&p, t).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            F::Link(target) => std::os::unix::fs::symlink(target, &p).unwrap(),
            F::Bytes(b) => std::fs::write(&p, b).unwrap(),
            F::Dir => std::fs::create_dir_all(&p).unwrap(),
        }
    }
    set_mtimes(dir, CONTEXT_MTIME);
}

/// Sets the mtime of `dir` and everything below it (symlinks themselves, not their targets).
fn set_mtimes(dir: &Path, secs: i64) {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        if std::fs::symlink_metadata(&all[i]).unwrap().is_dir() {
            let mut sub: Vec<PathBuf> = std::fs::read_dir(&all[i]).unwrap().map(|e| e.unwrap().path()).collect();
            sub.sort();
            all.extend(sub);
        }
        i += 1;
    }
    for p in all.iter().rev() {
        set_mtime(p, secs);
    }
}

fn set_mtime(p: &Path, secs: i64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec { tv_sec: secs, tv_nsec: 0 };
    let times = [t, t];
    // SAFETY: a valid C path and two timespecs.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    assert_eq!(r, 0, "utimensat {}: {}", p.display(), std::io::Error::last_os_error());
}

// ---------------------------------------------------------------------------------------------
// What is compared.

/// The parts of a `docker save` archive of one image.
struct Saved {
    config: String,
    /// Each layer: its entries, one line each.
    layers: Vec<Vec<String>>,
    diff_ids: Vec<String>,
}

fn read_save(path: &Path, since: i64) -> Saved {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
        if e.header().entry_type().is_symlink() {
            let target = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
            let dir = Path::new(&name).parent().unwrap_or(Path::new("")).join(target);
            links.insert(name, clean(&dir.to_string_lossy()));
            continue;
        }
        let mut body = vec![];
        e.read_to_end(&mut body).unwrap();
        files.insert(name, body);
    }
    let get = |n: &str| -> &Vec<u8> {
        let n = links.get(n).map(String::as_str).unwrap_or(n);
        files.get(n).unwrap_or_else(|| panic!("{} has no {n}", path.display()))
    };
    let manifest: serde_json::Value = serde_json::from_slice(get("manifest.json")).unwrap();
    let m = &manifest[0];
    let config = String::from_utf8(get(m["Config"].as_str().unwrap()).clone()).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&config).unwrap();
    let diff_ids = cfg["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    let layers = m["Layers"].as_array().unwrap().iter().map(|l| layer_lines(get(l.as_str().unwrap()), since)).collect();
    Saved { config, layers, diff_ids }
}

/// A layer entry's name, cleaned and without the leading `/`.
fn clean(p: &str) -> String {
    berth_build::builder::clean_abs(p)[1..].to_string()
}

/// One line per entry of a layer tar: name, type, raw mode, owner ids and names, size, link
/// target, content checksum, mtime (exact when older than `since`, else `<build time>`), PAX
/// records other than path/linkpath/mtime.
fn layer_lines(blob: &[u8], since: i64) -> Vec<String> {
    let raw: Box<dyn Read> = if blob.starts_with(&[0x1f, 0x8b]) { Box::new(flate2::read::MultiGzDecoder::new(blob)) } else { Box::new(blob) };
    let mut ar = tar::Archive::new(raw);
    let mut out = vec![];
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let typ = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => "file",
            tar::EntryType::Directory => "dir",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            tar::EntryType::Char => "char",
            tar::EntryType::Block => "block",
            tar::EntryType::Fifo => "fifo",
            _ => "other",
        };
        let link = e.link_name().ok().flatten().map(|l| format!(" -> {}", l.to_string_lossy())).unwrap_or_default();
        let mut pax = vec![];
        if let Ok(Some(exts)) = e.pax_extensions() {
            for x in exts.flatten() {
                let k = x.key().unwrap_or("?").to_string();
                if !matches!(k.as_str(), "path" | "linkpath" | "mtime" | "atime" | "ctime") {
                    pax.push(format!("{k}={}", String::from_utf8_lossy(x.value_bytes())));
                }
            }
        }
        let mtime = h.mtime().unwrap_or(0) as i64;
        let mtime = if mtime < since { mtime.to_string() } else { "<build time>".into() };
        let dev = if matches!(typ, "char" | "block") { format!(" dev={}:{}", h.device_major().ok().flatten().unwrap_or(0), h.device_minor().ok().flatten().unwrap_or(0)) } else { String::new() };
        let mut body = vec![];
        e.read_to_end(&mut body).unwrap();
        let sum = if typ == "file" { format!(" sha256:{}", &sha256_hex(&body)[..16]) } else { String::new() };
        out.push(format!(
            "{name} {typ} mode={:o} {}:{} ({}:{}) size={}{link}{sum}{dev} mtime={mtime}{}",
            h.mode().unwrap_or(0),
            h.uid().unwrap_or(0),
            h.gid().unwrap_or(0),
            h.username().ok().flatten().unwrap_or(""),
            h.groupname().ok().flatten().unwrap_or(""),
            h.size().unwrap_or(0),
            if pax.is_empty() { String::new() } else { format!(" pax[{}]", pax.join(" ")) },
        ));
    }
    out
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The `docker image inspect` fields compared, IDs named: everything but what is the engine's
/// own (Id, RepoDigests, Created, sizes, GraphDriver, Metadata, layer digests: compared as a
/// count).
fn inspect_view(side: &Side, tag: &str) -> J {
    inspect_views(side, &[tag.to_string()]).remove(0)
}

fn inspect_views(side: &Side, names: &[String]) -> Vec<J> {
    let mut args = vec!["image", "inspect"];
    args.extend(names.iter().map(String::as_str));
    let out = side.ok(&args);
    // A parent no build output printed (the images between ONBUILD triggers) is named after
    // its child.
    if let J::Arr(raw) = parse_json(&out) {
        let mut n = side.names.lock().unwrap();
        for img in &raw {
            if let (Some(J::Str(id)), Some(J::Str(parent))) = (img.get("Id"), img.get("Parent")) {
                let hex = parent.strip_prefix("sha256:").unwrap_or(parent);
                if hex.len() == 64 && !n.by_prefix.contains_key(&hex[..12]) {
                    let child = n.normalise(id);
                    n.add(hex, format!("parent of {}", child.trim_start_matches("sha256:")));
                }
            }
        }
    }
    let J::Arr(all) = parse_json(&side.normalise(&out)) else { panic!("inspect: {out}") };
    all.into_iter().map(trim_inspect).collect()
}

fn trim_inspect(mut v: J) -> J {
    if let J::Obj(m) = &mut v {
        m.retain(|(k, _)| !matches!(k.as_str(), "Id" | "RepoDigests" | "Created" | "Size" | "VirtualSize" | "GraphDriver" | "Metadata"));
        for (k, val) in m.iter_mut() {
            if k == "RootFS" {
                if let Some(J::Arr(l)) = val.get_mut("Layers") {
                    let n = l.len();
                    *val.get_mut("Layers").unwrap() = J::Num(format!("{n} layers"));
                }
            }
        }
    }
    v
}

/// The image config from `docker save`, IDs named, times and diff_ids replaced.
fn config_view(side: &Side, saved: &Saved) -> J {
    let mut v = parse_json(&side.normalise(&saved.config));
    fn times(v: &mut J) {
        match v {
            J::Obj(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "created" {
                        *x = J::Str("<time>".into());
                    } else {
                        times(x);
                    }
                }
            }
            J::Arr(a) => a.iter_mut().for_each(times),
            _ => {}
        }
    }
    times(&mut v);
    if let Some(J::Arr(ids)) = v.get_mut("rootfs").and_then(|r| r.get_mut("diff_ids")) {
        for (i, d) in ids.iter_mut().enumerate() {
            *d = J::Str(format!("<diff_id {i}>"));
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Suite<'a> {
    sides: [Side<'a>; 2],
    root: PathBuf,
    since: i64,
    d: Diffs,
    log: Vec<String>,
    /// Step images already compared (by name).
    compared: HashSet<String>,
    /// Every case built: (name, context, extra build flags), for the rebuild at the end.
    cases: Vec<(String, PathBuf, Vec<String>)>,
}

/// One build on both engines.
struct Built {
    runs: [Run; 2],
}

impl Suite<'_> {
    /// Builds `dir` as `tag` on both engines and compares their outputs; registers the IDs.
    fn build(&mut self, label: &str, dir: &Path, tag: &str, extra: &[&str]) -> Built {
        let mut args = vec!["build", "-t", tag];
        args.extend_from_slice(extra);
        let dir_s = dir.to_str().unwrap().to_string();
        args.push(&dir_s);
        let t = Instant::now();
        let runs = both(&self.sides, |s| {
            let t = Instant::now();
            let r = s.run(&args);
            (r, t.elapsed())
        });
        let [(rd, td), (rb, tb)] = runs;
        for (s, r) in self.sides.iter().zip([&rd, &rb]) {
            s.names.lock().unwrap().register_build(label, &r.stdout);
        }
        self.log.push(format!("{label:<24} docker {:>6.2?}  berth {:>6.2?}  (both {:.2?})", td, tb, t.elapsed()));
        let what = format!("build {label}");
        if rd.code != rb.code {
            self.d.report(&format!("{what}: exit code"), format!("  Docker: {}\n  berth:  {}\n", rd.code, rb.code));
        }
        let (od, ob) = (self.sides[0].normalise(&rd.stdout), self.sides[1].normalise(&rb.stdout));
        self.d.text(&format!("{what}: stdout"), &od, &ob);
        let (ed, eb) = (self.sides[0].normalise(&rd.stderr), self.sides[1].normalise(&rb.stderr));
        self.d.text(&format!("{what}: stderr"), &ed, &eb);
        // Every step's image, as `docker image inspect` shows it (the last one gets the full
        // comparison of compare_image).
        let steps = |out: &str| -> Vec<String> {
            out.lines().filter_map(|l| l.strip_prefix(" ---> ")).filter(|i| i.len() == 12 && is_hex(i)).map(String::from).collect()
        };
        let (id, ib) = (steps(&rd.stdout), steps(&rb.stdout));
        let t = Instant::now();
        if id.len() == ib.len() && id.len() > 1 {
            let n = id.len() - 1;
            let [vd, vb] = both(&self.sides, |s| inspect_views(s, if s.name == "docker" { &id[..n] } else { &ib[..n] }));
            for (k, (a, b)) in vd.iter().zip(&vb).enumerate() {
                let name = self.sides[0].normalise(&id[k]);
                if !self.compared.insert(name.clone()) {
                    continue;
                }
                diff_json(&mut self.d, &format!("{what}: step image {} ({name})", k + 1), "", a, b, false);
            }
            self.log.push(format!("{:<24} step images inspected in {:.2?}", "", t.elapsed()));
        }
        Built { runs: [rd, rb] }
    }

    /// Compares the image `tag` on both engines: inspect, the saved config, every layer.
    fn compare_image(&mut self, tag: &str) {
        let [id, ib] = both(&self.sides, |s| inspect_view(s, tag));
        diff_json(&mut self.d, &format!("{tag}: inspect"), "", &id, &ib, false);
        let root = self.root.clone();
        let since = self.since;
        let [sd, sb] = both(&self.sides, |s| {
            let out = root.join(format!("save-{}-{}.tar", s.name, tag.replace([':', '/'], "_")));
            s.ok(&["save", "-o", out.to_str().unwrap(), tag]);
            let saved = read_save(&out, since);
            std::fs::remove_file(&out).unwrap();
            saved
        });
        // `docker history`: IDs (local steps named, `<missing>` for the loaded base), the
        // step, layer sizes, comments.
        let [hd, hb] = both(&self.sides, |s| {
            let out = s.ok(&["history", "--no-trunc", "--format", "{{.ID}} | {{.CreatedBy}} | {{.Size}} | {{.Comment}}", tag]);
            // Images no output printed (between ONBUILD triggers) are named after their child.
            let mut child: Option<String> = None;
            for line in out.lines() {
                let id = line.split(" | ").next().unwrap_or("").to_string();
                if id.starts_with("sha256:") {
                    let mut n = s.names.lock().unwrap();
                    if let Some(c) = child.as_ref().filter(|_| n.normalise(&id) == id) {
                        let name = format!("parent of {}", n.normalise(c).trim_start_matches("sha256:"));
                        n.add(&id, name);
                    }
                }
                child = Some(id);
            }
            s.normalise(&out)
        });
        self.d.text(&format!("{tag}: docker history"), &hd, &hb);
        let (cd, cb) = (config_view(&self.sides[0], &sd), config_view(&self.sides[1], &sb));
        diff_json(&mut self.d, &format!("{tag}: config"), "", &cd, &cb, true);
        if sd.layers.len() != sb.layers.len() {
            self.d.report(&format!("{tag}: layer count"), format!("  Docker: {}\n  berth:  {}\n", sd.layers.len(), sb.layers.len()));
        }
        for (i, (ld, lb)) in sd.layers.iter().zip(&sb.layers).enumerate() {
            if sd.diff_ids.get(i) == sb.diff_ids.get(i) {
                continue; // the same bytes (the base layer)
            }
            self.d.text(&format!("{tag}: layer {i}"), &ld.join("\n"), &lb.join("\n"));
        }
    }

    /// How many containers and images each engine holds.
    fn compare_counts(&mut self, what: &str) {
        let [cd, cb] = both(&self.sides, |s| s.ok(&["ps", "-aq"]).lines().count());
        if cd != cb {
            self.d.report(&format!("{what}: containers left"), format!("  Docker: {cd}\n  berth:  {cb}\n"));
        }
        let [id, ib] = both(&self.sides, |s| s.ok(&["images", "-aq", "--no-trunc"]).lines().count());
        if id != ib {
            self.d.report(&format!("{what}: images (docker images -a)"), format!("  Docker: {id}\n  berth:  {ib}\n"));
        }
    }

    /// A whole case: context, build, image.
    fn case(&mut self, name: &str, dockerfile: &str, files: Vec<(&str, F)>, extra: &[&str]) -> PathBuf {
        self.d.case = name.to_string();
        let dir = self.root.join(name);
        write_context(&dir, dockerfile, files);
        let tag = format!("diff-{name}");
        self.cases.push((name.to_string(), dir.clone(), extra.iter().map(|s| s.to_string()).collect()));
        let b = self.build(name, &dir, &tag, extra);
        assert_eq!(b.runs[0].code, 0, "Docker 20.10 failed to build case {name}: {:?}", b.runs[0]);
        let t = Instant::now();
        if b.runs[1].code == 0 {
            self.compare_image(&tag);
        }
        self.compare_counts(name);
        self.log.push(format!("{:<24} image and counts compared in {:.2?}", "", t.elapsed()));
        dir
    }
}

/// A build that must fail: name, Dockerfile, context files.
type ErrorCase = (&'static str, &'static str, Vec<(&'static str, F)>);

/// Instructions of a Dockerfile without continuation lines or comments.
fn instructions(dockerfile: &str) -> usize {
    dockerfile.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).count()
}

fn cached(stdout: &str) -> usize {
    stdout.matches(" ---> Using cache\n").count()
}

#[test]
fn docker_build_matches_docker_20_10() {
    let t0 = Instant::now();
    let Some(oracle) = DockerOracle::start().expect("starting the Docker 20.10 oracle") else { return };
    let engine = Engine::start();
    let mut setup = vec![format!("oracle and berthd up after {:.2?}", t0.elapsed())];
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 - 2;
    let root = tempfile::Builder::new().prefix("berth-build-diff-").tempdir().unwrap();
    let oracle_ref = &oracle;
    let engine_ref = &engine;
    let sides = [
        Side { name: "docker", cli: Box::new(move || oracle_ref.docker()), names: Mutex::default() },
        Side { name: "berth", cli: Box::new(move || engine_ref.docker_command()), names: Mutex::default() },
    ];
    // The same busybox on both: the fixture archive, loaded by the same CLI.
    let tar = fixtures_dir().join("images/busybox.tar");
    assert!(tar.is_file(), "fixture {} is missing: run cargo xtask fixtures", tar.display());
    let tar_s = tar.to_str().unwrap().to_string();
    both(&sides, |s| s.ok(&["load", "-i", &tar_s]));
    let [bd, bb] = both(&sides, |s| s.ok(&["image", "inspect", "--format", "{{.Id}}", "busybox"]).trim().to_string());
    assert_eq!(bd, bb, "the base image has the same ID on both engines");
    for s in &sides {
        s.names.lock().unwrap().add(&bd, "busybox".into());
    }
    // A base without labels or environment: the busybox rootfs `docker import`ed on both (its
    // ID is each engine's own: the import time is in it).
    let rootfs = fixtures_dir().join("busybox/rootfs.tar");
    let rootfs_s = rootfs.to_str().unwrap().to_string();
    let imported = both(&sides, |s| s.ok(&["import", &rootfs_s, "diff-imported"]).trim().to_string());
    for (s, id) in sides.iter().zip(&imported) {
        s.names.lock().unwrap().add(id, "imported".into());
    }
    setup.push(format!("base images loaded after {:.2?}", t0.elapsed()));
    let mut suite = Suite { sides, root: root.path().to_path_buf(), since, d: Diffs::new(), log: setup, compared: HashSet::new(), cases: vec![] };

    // ── Metadata instructions: LABEL (quoted keys), MAINTAINER, ENV (both forms, earlier
    // values), EXPOSE (several, udp, ranges), VOLUME (JSON and words), USER, STOPSIGNAL,
    // HEALTHCHECK with flags, shell-form CMD.
    suite.case(
        "metadata",
        r#"FROM busybox
MAINTAINER Jane Doe <jane@example.org>
LABEL "com.example.vendor"="ACME Inc" version=1.0 'single quoted'=yes
LABEL multi="a b" \
      "with space"="x y z"
ENV A=1 B="two words" C=three\ words
ENV OLD old-style value with spaces
ENV A=2 D=$A E=${B}-x F=${MISSING:-dflt} G=${A:+set}
LABEL from.env=$E
EXPOSE 80 53/udp 8000-8002 9000/tcp
EXPOSE 443/tcp
VOLUME ["/data", "/cache"]
VOLUME /logs /var/log/app
USER nobody
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=3 CMD ["true"]
CMD echo hello $A
"#,
        vec![],
        &[],
    );

    // ── A base image without Labels or Env (the builder adds PATH; step containers get
    // dockerd's merge of the image config).
    suite.case("imported-base", "FROM diff-imported\nENV A=1\nEXPOSE 80\nRUN echo hi > /hi\nCMD [\"sh\"]\n", vec![], &[]);

    // ── CMD and ENTRYPOINT in both forms; HEALTHCHECK shell form, overridden, then NONE.
    suite.case(
        "cmd-entrypoint",
        r#"FROM busybox
CMD ["only", "cmd"]
ENTRYPOINT echo shell entry
HEALTHCHECK CMD wget -q localhost || exit 1
HEALTHCHECK --interval=1m30s --retries=5 CMD ["wget", "-q", "localhost"]
HEALTHCHECK NONE
"#,
        vec![],
        &[],
    );
    // An ENTRYPOINT with no CMD of the stage clears the base image's CMD.
    suite.case("entrypoint-resets-cmd", "FROM busybox\nENTRYPOINT [\"/bin/echo\", \"x\"]\n", vec![], &[]);

    // ── WORKDIR: relative first, absolute, with $VAR, relative to the last one; COPY into it.
    suite.case(
        "workdir",
        r#"FROM busybox
WORKDIR rel/dir
ENV BASE=/srv
WORKDIR $BASE/app
WORKDIR sub
WORKDIR ${BASE}/other/../final
RUN pwd > /pwd.txt
COPY f.txt ./
COPY f.txt copied
"#,
        vec![("f.txt", F::Text("f\n"))],
        &[],
    );

    // ── RUN: shell and exec forms, build args (declared, unset, given, unused, a proxy one),
    // files of every kind, a whiteout and an opaque directory, SHELL.
    suite.case(
        "run",
        r#"FROM busybox
ARG WHO=world
ARG UNSET
RUN echo "hi $WHO [$UNSET] [$HTTP_PROXY]" > /hi.txt && echo run-output $WHO
RUN ["/bin/sh", "-c", "echo exec form $WHO > /exec.txt"]
RUN ["touch", "/exec-argv"]
RUN mkdir -p /d/sub /d/gone && echo a > /d/a && echo b > /d/sub/b && echo g > /d/gone/g && ln /d/a /d/hard && ln -s a /d/link && chmod 4755 /d/a && chown 1000:1000 /d/sub/b && mkfifo /d/fifo
RUN rm /d/link && rm -rf /d/gone && rm -rf /d/sub && mkdir /d/sub && echo c > /d/sub/c && chmod 700 /d
SHELL ["/bin/sh", "-ec"]
RUN echo "shell $0 $-"
CMD echo with the new shell
"#,
        vec![],
        &["--build-arg", "WHO=class", "--build-arg", "UNUSED=1", "--build-arg", "HTTP_PROXY=http://proxy.invalid:3128"],
    );

    // ── COPY: a file, into a directory, a directory (with and without /), a wildcard, JSON
    // form, --chown numeric, by name, user only, a symlink, the whole context.
    suite.case(
        "copy",
        r#"FROM busybox
COPY f.txt /f.txt
COPY f.txt /dest-dir/
COPY dir /dir-copy
COPY dir/ /dir-slash/
COPY *.txt /wild/
COPY ["h.md", "exec.sh", "/json-form/"]
COPY --chown=1000:1000 f.txt /chown-num.txt
COPY --chown=nobody:nogroup dir /chown-name/
COPY --chown=daemon f.txt /chown-user-only.txt
COPY link /link-copied
COPY . /all/
"#,
        vec![
            ("f.txt", F::Text("f\n")),
            ("g.txt", F::Mode("g\n", 0o600)),
            ("h.md", F::Text("# h\n")),
            ("exec.sh", F::Mode("#!/bin/sh\necho exec\n", 0o755)),
            ("dir/x.txt", F::Text("x\n")),
            ("dir/sub/y.txt", F::Mode("y\n", 0o640)),
            ("dir/empty", F::Dir),
            ("dir/inner-link", F::Link("x.txt")),
            ("link", F::Link("f.txt")),
        ],
        &[],
    );

    // ── ADD: a file, a directory, a local tar.gz and a plain tar (unpacked), --chown.
    suite.case(
        "add",
        r#"FROM busybox
ADD f.txt /added/
ADD dir /added-dir/
ADD site.tar.gz /srv/
ADD plain.tar /plain
ADD --chown=1000:1000 f.txt /added-chown.txt
ADD ["f.txt", "/json form/"]
"#,
        vec![("f.txt", F::Text("f\n")), ("dir/x.txt", F::Text("x\n")), ("site.tar.gz", F::Bytes(archive(true))), ("plain.tar", F::Bytes(archive(false)))],
        &[],
    );

    // ── Multi-stage: ARG before FROM, FROM ${ARG} AS, a stage from a stage, COPY --from by
    // name, by index and from an image, per-stage ARGs.
    suite.case(
        "multistage",
        r#"ARG BASE=busybox
ARG VERSION=1.0
FROM ${BASE} AS build
ARG VERSION
ARG STAGE_ONLY=s1
RUN mkdir /out && echo "v=$VERSION s=$STAGE_ONLY" > /out/v.txt
FROM build AS test
RUN cat /out/v.txt > /out/test.txt
FROM busybox
ARG STAGE_ONLY
COPY --from=build /out/v.txt /v.txt
COPY --from=1 /out/ /all/
COPY --from=busybox /etc/passwd /passwd-from-image
RUN echo "stage_only=[$STAGE_ONLY] version=[$VERSION]" > /args.txt
"#,
        vec![],
        &["--build-arg", "VERSION=2.0"],
    );

    // ── ARG: global redeclared, defaults, from the CLI, ENV winning over ARG, ARG from ENV.
    suite.case(
        "args",
        r#"ARG GLOBAL=g
FROM busybox
ARG GLOBAL
ARG A=defa B
ARG C=c1
ENV C=env-c
ENV FROM_ARG=$A-$GLOBAL
ARG D=$FROM_ARG
RUN echo "A=$A B=$B C=$C D=$D G=$GLOBAL" > /args.txt
LABEL a=$A b=$B d=$D
"#,
        vec![],
        &["--build-arg", "B=fromcli", "--build-arg", "C=ignored"],
    );

    // ── ONBUILD: a parent with triggers, then a child FROM it.
    suite.case(
        "onbuild-parent",
        r#"FROM busybox
ONBUILD ARG CHILD_ARG=fromtrigger
ONBUILD COPY trigger.txt /trigger/
ONBUILD RUN echo "onbuild ran $CHILD_ARG" > /onbuild.txt
LABEL role=parent
"#,
        vec![],
        &[],
    );
    suite.case(
        "onbuild-child",
        "FROM diff-onbuild-parent\nRUN cat /onbuild.txt /trigger/trigger.txt\nONBUILD RUN echo grandchild\n",
        vec![("trigger.txt", F::Text("trigger\n"))],
        &[],
    );

    // ── .dockerignore: comments, `**`, `!` exceptions, the Dockerfile and .dockerignore
    // themselves excluded (the CLI sends them; the daemon drops them from the context).
    suite.case(
        "dockerignore",
        "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort\n",
        vec![
            (".dockerignore", F::Text("# a comment\n*.env\nlogs/*.log\n!logs/keep.log\n**/*.tmp\n!keep/**/*.tmp\n/build\n!build/keep.txt\nDockerfile\n.dockerignore\n")),
            ("secret.env", F::Text("s")),
            ("logs/x.log", F::Text("x")),
            ("logs/keep.log", F::Text("k")),
            ("sub/deep/junk.tmp", F::Text("j")),
            ("keep/a/b/kept.tmp", F::Text("kt")),
            ("sub/real.txt", F::Text("r")),
            ("build/out.o", F::Text("o")),
            ("build/keep.txt", F::Text("bk")),
        ],
        &[],
    );

    // ── SHELL: JSON form, then RUN, CMD and ENTRYPOINT in shell form use it.
    suite.case(
        "shell",
        r#"FROM busybox
SHELL ["/bin/sh", "-xc"]
RUN echo traced > /traced.txt
SHELL ["/bin/sh", "-c", "-e"]
CMD echo cmd
ENTRYPOINT echo entry
"#,
        vec![],
        &[],
    );

    // ── The cache: rebuilds all cached, touch all cached, content and mode changes rebuild
    // from their COPY, a build arg from the first RUN.
    suite.d.case = "cache".into();
    let cache_df = r#"FROM busybox
ARG V=1
ENV E=1
COPY a.txt /a.txt
COPY dir/ /dir/
RUN cat /a.txt /dir/x.txt
ADD b.txt /b.txt
CMD ["cat", "/a.txt"]
"#;
    let dir = suite.case("cache", cache_df, vec![("a.txt", F::Text("a\n")), ("dir/x.txt", F::Text("x\n")), ("b.txt", F::Text("b\n"))], &[]);
    let rebuild = |suite: &mut Suite, label: &str, extra: &[&str]| -> [usize; 2] {
        suite.d.case = format!("cache/{label}");
        let b = suite.build(&format!("cache/{label}"), &dir, "diff-cache", extra);
        assert_eq!(b.runs[0].code, 0, "{:?}", b.runs[0]);
        if b.runs[1].code == 0 {
            suite.compare_image("diff-cache");
        }
        suite.compare_counts(&format!("cache/{label}"));
        [cached(&b.runs[0].stdout), cached(&b.runs[1].stdout)]
    };
    let all = instructions(cache_df) - 1;
    let c = rebuild(&mut suite, "again", &[]);
    assert_eq!(c[0], all, "Docker: an unchanged rebuild is all cache");
    let c2 = rebuild(&mut suite, "again-2", &[]);
    assert_eq!(c2[0], all);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    set_mtime(&dir.join("a.txt"), now);
    set_mtime(&dir.join("dir/x.txt"), now);
    let c = rebuild(&mut suite, "touch", &[]);
    assert_eq!(c[0], all, "Docker: touch keeps the cache");
    std::fs::write(dir.join("dir/x.txt"), "changed\n").unwrap();
    let c = rebuild(&mut suite, "content", &[]);
    assert_eq!(c[0], 3, "Docker: a content change rebuilds from COPY dir/");
    std::fs::set_permissions(dir.join("a.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = rebuild(&mut suite, "mode", &[]);
    assert_eq!(c[0], 2, "Docker: a mode change rebuilds from COPY a.txt");
    let c = rebuild(&mut suite, "build-arg", &["--build-arg", "V=2"]);
    assert_eq!(c[0], 4, "Docker: a build arg's value rebuilds from the first RUN");
    let c = rebuild(&mut suite, "no-cache", &["--no-cache"]);
    assert_eq!(c[0], 0);

    // ── Errors.
    let errors: &[ErrorCase] = &[
        ("err-unknown-instruction", "FROM busybox\nFOO bar\n", vec![]),
        ("err-failing-run", "FROM busybox\nRUN echo about to fail && exit 3\nRUN echo never\n", vec![]),
        ("err-copy-missing", "FROM busybox\nCOPY missing.txt /x\n", vec![]),
        ("err-copy-outside", "FROM busybox\nCOPY ../x /x\n", vec![]),
        ("err-add-missing", "FROM busybox\nADD nothing-here/ /x/\n", vec![]),
        ("err-copy-wildcard-none", "FROM busybox\nCOPY *.none /x/\n", vec![]),
        ("err-multi-source-dest", "FROM busybox\nCOPY a b /x\n", vec![("a", F::Text("a")), ("b", F::Text("b"))]),
        ("err-no-from", "RUN true\n", vec![]),
        ("err-expose-bad", "FROM busybox\nEXPOSE 80/xyz\n", vec![]),
        ("err-expose-range", "FROM busybox\nEXPOSE 90-80\n", vec![]),
        ("err-expose-word", "FROM busybox\nEXPOSE http\n", vec![]),
        ("err-env-no-value", "FROM busybox\nENV ONLYKEY\n", vec![]),
        ("err-copy-from-missing-stage", "FROM busybox\nCOPY --from=nosuchstage /x /x\n", vec![]),
    ];
    for (name, df, files) in errors {
        suite.d.case = name.to_string();
        let dir = suite.root.join(name);
        write_context(&dir, df, files.clone());
        let b = suite.build(name, &dir, &format!("diff-{name}"), &[]);
        assert_ne!(b.runs[0].code, 0, "Docker built {name}: {:?}", b.runs[0]);
        let t = Instant::now();
        suite.compare_counts(name);
        // A failed RUN leaves its container (no --force-rm) on both; start the next case clean.
        both(&suite.sides, |s| s.ok(&["container", "prune", "-f"]));
        suite.log.push(format!("{:<24} counts compared, containers pruned in {:.2?}", "", t.elapsed()));
    }

    // ── Every case again: all cached on both, the same images.
    for (name, dir, extra) in std::mem::take(&mut suite.cases) {
        let label = format!("{name}/final-rebuild");
        suite.d.case = label.clone();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let b = suite.build(&label, &dir, &format!("diff-{name}"), &extra);
        assert_eq!(b.runs[0].code, 0, "{:?}", b.runs[0]);
        assert!(!b.runs[0].stdout.contains("Running in"), "Docker rebuilt a step of {name}: {}", b.runs[0].stdout);
        suite.compare_counts(&label);
    }

    // ── The verdict.
    eprintln!("build times:\n  {}", suite.log.join("\n  "));
    eprintln!("{} allowed difference(s)", suite.d.allowed.len());
    for a in suite.d.allowed.iter().take(3) {
        eprintln!("  e.g. {a}");
    }
    for (i, (pat, _)) in ALLOWED.iter().enumerate() {
        if !suite.d.used[i] {
            eprintln!("note: allow-list entry {pat:?} matched nothing (remove it?)");
        }
    }
    eprintln!("build differential: {:.1?} in all (before teardown)", t0.elapsed());
    let found = std::mem::take(&mut suite.d.found);
    drop(suite);
    drop(engine);
    drop(oracle);
    assert!(found.is_empty(), "{} difference(s) between Docker 20.10 and berth:\n{}", found.len(), found.join("\n"));
}
