//! One berthd for benchmarks: release binaries, its own mount + network namespace (`unshare`),
//! a scratch data root and cgroup parent, all removed on drop (daemon killed by PID).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Berthd {
    pub dir: PathBuf,
    pub host: String,
    pub berth: PathBuf,
    pub cgroup_parent: String,
    daemon: Option<Child>,
}

impl Drop for Berthd {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // Overlay mounts lived in berthd's mount namespace, gone with it.
        let _ = std::fs::remove_dir_all(&self.dir);
        for h in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            remove_tree(&h.path().join(&self.cgroup_parent));
        }
    }
}

pub fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
}

/// `cargo build --release -p berth --bins`; the release dir.
pub fn build_release() -> Result<PathBuf> {
    let root = crate::workspace_root();
    println!("building berth and berthd (release)…");
    let st = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "-p", "berth", "--bins"])
        .status()
        .context("cargo build --release -p berth")?;
    if !st.success() {
        bail!("building berth failed");
    }
    Ok(root.join("target/release"))
}

impl Berthd {
    /// Start berthd from `bin_dir` in a scratch dir named after `what`.
    pub fn start(bin_dir: &Path, what: &str) -> Result<Berthd> {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("berth-bench-{what}-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("daemon.json"), "{}")?;
        let sock = dir.join("berth.sock");
        let host = format!("unix://{}", sock.display());
        let mut b = Berthd { dir, host, berth: bin_dir.join("berth"), cgroup_parent: format!("berth-bench-{what}-{pid}"), daemon: None };
        b.daemon = Some(
            Command::new("unshare")
                .args(["--mount", "--net", "--propagation", "private"])
                .arg(bin_dir.join("berthd"))
                .arg("-H")
                .arg(&b.host)
                .arg("--config-file")
                .arg(b.dir.join("daemon.json"))
                .arg("--data-root")
                .arg(b.dir.join("data"))
                .arg("--exec-root")
                .arg(b.dir.join("exec"))
                .arg("--pidfile")
                .arg(b.dir.join("berthd.pid"))
                .arg("--cgroup-parent")
                .arg(format!("/{}", b.cgroup_parent))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(b.dir.join("berthd.log"))?)
                .spawn()
                .context("starting berthd")?,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            if Instant::now() > deadline {
                bail!("berthd did not come up: {}", std::fs::read_to_string(b.dir.join("berthd.log")).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(b)
    }

    /// `berth ARGS` against this daemon.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.berth);
        c.args(args).env("BERTH_HOST", &self.host);
        c
    }
}

pub fn timed(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("{cmd:?}"))?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(d)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p90) by nearest rank.
pub fn stats(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).saturating_sub(1).min(v.len() - 1)];
    (at(0.5), at(0.9))
}

pub fn opt(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}
