//! Helpers for the engine end-to-end tests (`tests/tests/daemon_*.rs`, `cli_*.rs`): a berthd
//! in its own sandbox, driven through `berth` or the real `docker` CLI.
//!
//! **Sandbox.** A holder process (`unshare -m -n --propagation private sleep`) owns a private
//! mount namespace and a network namespace with only `lo`; berthd runs inside both through
//! `nsenter`, with data root, exec root, socket and pidfile in a tempdir and a unique cgroup
//! parent. A berthd can be SIGKILLed and a new one started in the same namespaces (containers
//! and their overlay mounts survive). Dropping the [`Engine`] kills berthd, the shims and every
//! process in its cgroups, removes the cgroups and ends the holder (its mounts go with it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use crate::runtime::{fixtures_dir, workspace_root};

/// `target/debug/{berth,berthd}`, built once per test binary.
pub fn bins() -> (PathBuf, PathBuf) {
    static BINS: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    BINS.get_or_init(|| {
        if let (Some(b), Some(d)) = (std::env::var_os("BERTH_BIN"), std::env::var_os("BERTHD_BIN")) {
            return Ok((b.into(), d.into()));
        }
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "berth", "--bins"])
            .output()
            .map_err(|e| format!("running cargo build -p berth --bins: {e}"))?;
        let (b, d) = (root.join("target/debug/berth"), root.join("target/debug/berthd"));
        if !out.status.success() || !b.exists() || !d.exists() {
            return Err(format!("cargo build -p berth --bins failed:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok((b, d))
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The busybox image tarball (`cargo xtask fixtures`).
pub fn busybox_tar() -> PathBuf {
    let p = fixtures_dir().join("busybox/rootfs.tar");
    assert!(p.exists(), "fixture {} is missing: run cargo xtask fixtures", p.display());
    p
}

pub use berth_testkit::docker_cli;

/// Whether the docker CLI is there; when it is not, says that `what` is skipped and why.
pub fn have_docker(what: &str) -> bool {
    let found = docker_cli().is_some();
    if !found {
        eprintln!("skipped: {what}: no docker CLI (set BERTH_DOCKER_CLI, or run `cargo xtask ci`, which fetches one)");
    }
    found
}

pub struct Engine {
    pub dir: tempfile::TempDir,
    holder: Child,
    berthd: Option<Child>,
    pub sock: PathBuf,
    pub cgroup_parent: String,
    /// Extra berthd flags (e.g. `--default-runtime berth`).
    extra: Vec<String>,
}

pub use berth_testkit::Run;

impl Engine {
    /// A sandbox with a running berthd.
    pub fn start() -> Engine {
        Self::start_with(&[])
    }

    /// Like [`Engine::start`], with extra berthd flags.
    pub fn start_with(extra: &[&str]) -> Engine {
        Self::start_configured("{}", extra)
    }

    /// Like [`Engine::start_with`], with this `daemon.json` (its directory also holds `certs.d/`).
    pub fn start_configured(daemon_json: &str, extra: &[&str]) -> Engine {
        let (_, _) = bins();
        let dir = tempfile::Builder::new().prefix("berth-engine-").tempdir().expect("tempdir");
        let holder = Command::new("unshare")
            .args(["--mount", "--net", "--propagation", "private", "sleep", "100000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux) is needed");
        // Wait until the holder is inside its new namespaces.
        let me = std::fs::read_link("/proc/self/ns/mnt").ok();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(format!("/proc/{}/ns/mnt", holder.id())).ok() == me && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let rand: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 ^ (std::process::id() as u64) << 32;
        let cgroup_parent = format!("/berth-test-{rand:x}");
        std::fs::write(dir.path().join("daemon.json"), daemon_json).unwrap();
        let sock = dir.path().join("berth.sock");
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let mut e = Engine { dir, holder, berthd: None, sock, cgroup_parent, extra };
        e.start_daemon();
        e
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// Start berthd inside the sandbox's namespaces and wait for its socket.
    pub fn start_daemon(&mut self) {
        let (_, berthd) = bins();
        let _ = std::fs::remove_file(&self.sock);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("berthd.log")).unwrap();
        let child = Command::new("nsenter")
            .arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-m", "-n", "--"])
            .arg(&berthd)
            .arg("-H")
            .arg(self.host())
            .arg("--config-file")
            .arg(self.dir.path().join("daemon.json"))
            .arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--pidfile")
            .arg(self.dir.path().join("berthd.pid"))
            .arg("--cgroup-parent")
            .arg(&self.cgroup_parent)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nsenter berthd");
        self.berthd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::os::unix::net::UnixStream::connect(&self.sock).is_ok() {
                return;
            }
            if let Some(c) = self.berthd.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("berthd exited ({st}): {}", self.daemon_log());
                }
            }
            assert!(Instant::now() < deadline, "berthd did not come up: {}", self.daemon_log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// SIGTERM berthd (by PID) and wait for it: a clean daemon stop.
    pub fn stop_daemon(&mut self) {
        if let Some(mut c) = self.berthd.take() {
            // SAFETY: signalling the berthd we started (nsenter execs it, same PID).
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL berthd (by PID), leaving containers and shims running.
    pub fn kill_daemon(&mut self) {
        if let Some(mut c) = self.berthd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn berth(&self, args: &[&str]) -> Run {
        self.berth_stdin(args, None)
    }

    pub fn berth_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let (berth, _) = bins();
        // BERTH_CONFIG: `berth login` must never write the real ~/.berth/config.json.
        run_with(Command::new(berth).args(args).env("BERTH_HOST", self.host()).env("BERTH_CONFIG", self.dir.path().join("berth-config")), stdin)
    }

    /// `berth …` that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.berth(args);
        assert_eq!(r.code, 0, "berth {args:?} failed: {r:?}\n--- berthd log:\n{}", self.daemon_log());
        r.stdout
    }

    pub fn docker(&self, args: &[&str]) -> Run {
        self.docker_stdin(args, None)
    }

    pub fn docker_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        run_with(self.docker_command().args(args), stdin)
    }

    /// The docker CLI aimed at this engine, with a config dir of its own (for tests that run it
    /// on a pty or read its output as it comes).
    pub fn docker_command(&self) -> Command {
        let cfg = self.dir.path().join("docker-config");
        let _ = std::fs::create_dir_all(&cfg);
        let mut c = Command::new(docker_cli().expect("no docker CLI (check have_docker first)"));
        c.env("DOCKER_HOST", self.host()).env("DOCKER_CONFIG", &cfg).env_remove("DOCKER_API_VERSION");
        c
    }

    /// Run a host command inside the sandbox's mount and network namespaces (where berthd's
    /// bridges and rules live), e.g. `ip -n`-free `ip link` or `nft list ruleset`.
    pub fn in_sandbox(&self, args: &[&str]) -> Run {
        run_with(Command::new("nsenter").arg("-t").arg(self.holder.id().to_string()).args(["-m", "-n", "--"]).args(args), None)
    }

    /// PID of the process holding the sandbox's namespaces.
    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    /// A command that runs inside the sandbox's network namespace (`nsenter -n`, no fork: the
    /// child's PID is the program's).
    pub fn netns_command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t").arg(self.holder.id().to_string()).args(["-n", "--"]).arg(program);
        c
    }

    /// Runs `f` on a thread inside the sandbox's network namespace (sockets it creates live
    /// there; a listener keeps serving from any thread).
    pub fn in_netns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns = std::fs::File::open(format!("/proc/{}/ns/net", self.holder.id())).expect("open sandbox netns");
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: setns on this new thread only (network namespaces are per thread).
            assert_eq!(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Import the busybox fixture as `busybox:latest`.
    pub fn import_busybox(&self) {
        let tar = busybox_tar();
        self.ok(&["import", tar.to_str().unwrap(), "busybox"]);
    }

    /// Poll `f` until it returns true or `secs` pass.
    pub fn eventually(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}\n--- berthd log:\n{}", self.daemon_log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

use berth_testkit::run_with;

fn pids_in(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

fn kill_pidfiles(root: &Path) {
    for sub in ["containers", "exec"] {
        for e in std::fs::read_dir(root.join(sub)).into_iter().flatten().flatten() {
            if let Ok(p) = std::fs::read_to_string(e.path().join("shim.pid")) {
                if let Ok(pid) = p.trim().parse::<i32>() {
                    let comm = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    if comm.contains("shim") {
                        // SAFETY: a shim of this sandbox (checked by its cmdline), by PID.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill_daemon();
        kill_pidfiles(&self.exec_root());
        let parent = self.cgroup_parent.trim_start_matches('/').to_string();
        for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let base = ctrl.path().join(&parent);
            if !base.is_dir() {
                continue;
            }
            let children: Vec<PathBuf> = std::fs::read_dir(&base).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
            for c in &children {
                let _ = std::fs::write(c.join("freezer.state"), "THAWED");
                for pid in pids_in(c) {
                    // SAFETY: processes inside this sandbox's own cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            for c in &children {
                let deadline = Instant::now() + Duration::from_secs(5);
                while std::fs::remove_dir(c).is_err() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            let _ = std::fs::remove_dir(&base);
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Normalise CLI output for snapshots: the sandbox dir, RFC3339 times, "N seconds ago"
/// durations, 64/12-hex ids.
pub fn normalize_output(s: &str, dir: &Path) -> String {
    let s = s.replace(&dir.display().to_string(), "<DIR>");
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        out.push_str(&normalize_times(line));
    }
    normalize(&out)
}

fn normalize_times(line: &str) -> String {
    // RFC3339 timestamps (2026-11-28T00:12:45.959463263Z) → <TIME>
    let c: Vec<char> = line.chars().collect();
    let mut res = String::new();
    let mut i = 0;
    while i < c.len() {
        let is_ts = c.len() >= i + 20 && c[i..i + 4].iter().all(char::is_ascii_digit) && c[i + 4] == '-' && c[i + 10] == 'T';
        if is_ts {
            let end = c[i..].iter().position(|x| *x == 'Z').map(|p| i + p + 1).unwrap_or(c.len());
            res.push_str("<TIME>");
            i = end;
            continue;
        }
        res.push(c[i]);
        i += 1;
    }
    res
}

/// Replace 64/12-hex ids so snapshots are stable.
pub fn normalize(s: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()).count();
        if (run == 64 || run == 12) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            // Same width as the id, so table columns stay aligned.
            out.push_str(if run == 64 { "<ID64>" } else { "<---ID12--->" });
            i += run;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}
