//! Helpers for the `berth runtime` end-to-end tests (`tests/tests/runtime_*.rs`).
//!
//! **Which binary.** The tests run the real `berth` CLI as a subprocess: `$BERTH_BIN` when set,
//! otherwise `<workspace>/target/debug/berth`, which [`berth_bin`] builds first with
//! `cargo build -p berth --bin berth` (a no-op when fresh) and fails with a clear message when
//! that does not work. (`CARGO_BIN_EXE_berth` only exists inside the `berth` package.)
//!
//! **Isolation.** Every test gets a [`Sandbox`]: a scratch dir holding its own `--root` state
//! dirs (for berth and for runc), bundles over private copies of the busybox fixture rootfs, and a
//! unique cgroup parent `berth-test-<random>`. Dropping the sandbox force-deletes every
//! container it knows of (berth and runc), kills what is left in its cgroups and removes the
//! cgroup directories in every hierarchy.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub use berth_testkit::{fixtures_dir, workspace_root};

/// The busybox fixture rootfs (never modified: bundles copy it).
pub fn busybox_rootfs() -> PathBuf {
    let p = fixtures_dir().join("busybox/rootfs");
    assert!(p.join("bin/busybox").exists(), "fixture {} is missing: run cargo xtask fixtures", p.display());
    p
}

/// The `berth` binary under test.
pub fn berth_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("BERTH_BIN") {
            return Ok(PathBuf::from(p));
        }
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "berth", "--bin", "berth"])
            .output()
            .map_err(|e| format!("running cargo build -p berth: {e}"))?;
        let bin = root.join("target/debug/berth");
        if !out.status.success() || !bin.exists() {
            return Err(format!(
                "the berth binary could not be built (cargo build -p berth --bin berth):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(bin)
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn have_runc() -> bool {
    Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success())
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// `--root` for berth.
    pub root: PathBuf,
    /// `--root` for runc.
    pub runc_root: PathBuf,
    /// Unique cgroup parent, e.g. `berth-test-3f9a…`.
    pub cgroup_parent: String,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new().prefix("berth-rt-").tempdir().expect("tempdir");
        let name = dir.path().file_name().unwrap().to_string_lossy().replace("berth-rt-", "");
        Sandbox {
            root: dir.path().join("state"),
            runc_root: dir.path().join("runc-state"),
            cgroup_parent: format!("berth-test-{}", name.to_lowercase()),
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A bundle `<sandbox>/<name>`: a private copy of the busybox rootfs and the config.json of
    /// `runc spec`, with `terminal: false`, `args`, and cgroupsPath `/<parent>/<name>`; `edit`
    /// may change anything else.
    pub fn bundle(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.path().join(name);
        std::fs::create_dir_all(&b).unwrap();
        let st = Command::new("cp").arg("-a").arg(busybox_rootfs()).arg(b.join("rootfs")).status().unwrap();
        assert!(st.success(), "copying the busybox rootfs");
        let mut spec = runc_spec();
        spec["process"]["terminal"] = Value::Bool(false);
        spec["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        spec["linux"]["cgroupsPath"] = Value::from(format!("/{}/{}", self.cgroup_parent, name));
        edit(&mut spec);
        std::fs::write(b.join("config.json"), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        b
    }

    /// `berth runtime --root <root> ARGS…` with stdin closed, output captured in files: a
    /// created container inherits its caller's stdio (as with runc), so pipes would stay open
    /// for the container's whole life.
    pub fn berth(&self, args: &[&str]) -> Output {
        capture(self.berth_cmd(args), self.path())
    }

    pub fn berth_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("runtime").arg("--root").arg(&self.root).args(args);
        c
    }

    pub fn runc(&self, args: &[&str]) -> Output {
        let mut c = Command::new("runc");
        c.arg("--root").arg(&self.runc_root).args(args);
        capture(c, self.path())
    }

    /// The container's directory in the v1 hierarchy (or v2 tree) holding `controller`.
    pub fn cgroup_dir(&self, controller: &str, name: &str) -> PathBuf {
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let base = if v2 { PathBuf::from("/sys/fs/cgroup") } else { Path::new("/sys/fs/cgroup").join(controller) };
        base.join(&self.cgroup_parent).join(name)
    }

    /// Every directory named after this sandbox's cgroup parent that exists on the host.
    pub fn cgroup_leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                let p = h.path().join(&self.cgroup_parent);
                if p.exists() {
                    out.push(p);
                }
            }
        }
        let v2 = Path::new("/sys/fs/cgroup").join(&self.cgroup_parent);
        if v2.exists() && !out.contains(&v2) {
            out.push(v2);
        }
        out
    }

    /// Mount points under this sandbox still visible on the host.
    pub fn leftover_mounts(&self) -> Vec<String> {
        let me = self.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(String::from))
            .filter(|m| m.starts_with(&me))
            .collect()
    }

    /// Container ids that still have state under berth's --root.
    pub fn leftover_state(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }

    /// Polls `berth state` until the container reports `status`.
    pub fn wait_status(&self, id: &str, status: &str) -> Result<()> {
        for _ in 0..400 {
            let out = self.berth(&["state", id]);
            if out.status.success() {
                let v: Value = serde_json::from_slice(&out.stdout)?;
                if v["status"] == status {
                    return Ok(());
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        bail!("container {id} never reached status {status}")
    }

    pub fn state(&self, id: &str) -> Result<Value> {
        let out = self.berth(&["state", id]);
        if !out.status.success() {
            bail!("state {id}: {}", String::from_utf8_lossy(&out.stderr));
        }
        serde_json::from_slice(&out.stdout).context("state JSON")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for id in self.leftover_state() {
            let _ = self.berth(&["delete", "--force", &id]);
        }
        if let Ok(rd) = std::fs::read_dir(&self.runc_root) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.runc(&["delete", "--force", &id]);
            }
        }
        // Kill stragglers in our cgroups, then remove the tree bottom-up.
        for top in self.cgroup_leftovers() {
            remove_cgroup_tree(&top);
        }
        for m in self.leftover_mounts().iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

/// Runs `cmd` with stdin closed and stdout/stderr going to fresh files, then reads them back.
pub fn capture(mut cmd: Command, scratch: &Path) -> Output {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (o, e) = (scratch.join(format!(".out-{n}")), scratch.join(format!(".err-{n}")));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .expect("running command");
    let out = Output { status, stdout: std::fs::read(&o).unwrap(), stderr: std::fs::read(&e).unwrap() };
    let _ = std::fs::remove_file(o);
    let _ = std::fs::remove_file(e);
    out
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    for _ in 0..100 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `runc spec`'s config.json: the reference the runtime must accept unchanged.
pub fn runc_spec() -> Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("runc").args(["spec", "--bundle"]).arg(dir.path()).status();
        match st {
            Ok(s) if s.success() => serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap(),
            // Without runc, use the copy of its output that the runtime's unit tests keep.
            _ => serde_json::from_str(include_str!("../../engine/runtime/src/spec/testdata/runc-spec.json")).unwrap(),
        }
    })
    .clone()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", o.status, stdout(o), stderr(o));
    stdout(o)
}
