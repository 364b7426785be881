//! `cargo xtask bench runtime [--runs N]`: wall time of `run` of `/bin/true` on the same bundle
//! (busybox fixture rootfs, `runc spec` config), `berth runtime run` vs `runc run`, interleaved so
//! both see the same machine state. Prints median and p90 for each and the ratio berth/runc
//! (goal: ≤ 1). Needs root. Works in a scratch dir and removes it, the state dirs and the cgroups.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn opt(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

struct Scratch {
    dir: PathBuf,
    cgroup_parent: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in rd.flatten() {
                remove_tree(&h.path().join(&self.cgroup_parent));
            }
        }
        remove_tree(&Path::new("/sys/fs/cgroup").join(&self.cgroup_parent));
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let runs: usize = opt(args, "--runs", "50").parse().context("--runs")?;
    let root = crate::workspace_root();
    println!("building berth (release)…");
    let st = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "-p", "berth", "--bin", "berth"])
        .status()
        .context("cargo build --release -p berth")?;
    if !st.success() {
        bail!("building berth failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let berth = target.join("release/berth");
    if Command::new("runc").arg("--version").stdout(Stdio::null()).status().map(|s| !s.success()).unwrap_or(true) {
        bail!("runc is not installed (apt-get install runc, or cargo xtask ci)");
    }
    let fixtures = crate::fixtures::build_all()?;

    let pid = std::process::id();
    let scratch = Scratch { dir: std::env::temp_dir().join(format!("berth-bench-runtime-{pid}")), cgroup_parent: format!("berth-bench-{pid}") };
    let _ = std::fs::remove_dir_all(&scratch.dir);
    let bundle = scratch.dir.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    let cp = Command::new("cp").arg("-a").arg(fixtures.join("busybox/rootfs")).arg(bundle.join("rootfs")).status()?;
    if !cp.success() {
        bail!("copying the busybox rootfs failed");
    }
    let st = Command::new("runc").args(["spec", "--bundle"]).arg(&bundle).status()?;
    if !st.success() {
        bail!("runc spec failed");
    }
    // Only process.args and terminal are edited, as the issue demands of a `runc spec` bundle;
    // cgroupsPath is set per run below so the cgroups land under our scratch parent.
    let template = std::fs::read_to_string(bundle.join("config.json"))?
        .replacen("\"terminal\": true", "\"terminal\": false", 1)
        .replacen("\"sh\"", "\"/bin/true\"", 1);

    let time = |bin: &Path, state: &Path, id: &str| -> Result<Duration> {
        let cfg = template.replacen("\"linux\": {", &format!("\"linux\": {{\n\t\t\"cgroupsPath\": \"/{}/{id}\",", scratch.cgroup_parent), 1);
        std::fs::write(bundle.join("config.json"), cfg)?;
        let mut cmd = Command::new(bin);
        if bin == berth.as_path() {
            cmd.arg("runtime");
        }
        cmd.arg("--root").arg(state).arg("run").arg("--bundle").arg(&bundle).arg(id);
        let t = Instant::now();
        let out = cmd.stdin(Stdio::null()).output()?;
        let d = t.elapsed();
        if !out.status.success() {
            bail!("{} run {id} failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
        }
        Ok(d)
    };
    let (berth_state, runc_state) = (scratch.dir.join("berth-state"), scratch.dir.join("runc-state"));
    // One warm-up each (page cache, binary load).
    time(&berth, &berth_state, "warm-b")?;
    time(Path::new("runc"), &runc_state, "warm-r")?;
    let (mut b, mut r) = (Vec::new(), Vec::new());
    for i in 0..runs {
        b.push(time(&berth, &berth_state, &format!("b{i}"))?);
        r.push(time(Path::new("runc"), &runc_state, &format!("r{i}"))?);
    }
    let (bm, bp) = stats(&mut b);
    let (rm, rp) = stats(&mut r);
    println!("runtime `run` of /bin/true, {runs} runs each (busybox bundle from `runc spec`):");
    println!("  berth: median {:>7.2} ms   p90 {:>7.2} ms", ms(bm), ms(bp));
    println!("  runc : median {:>7.2} ms   p90 {:>7.2} ms", ms(rm), ms(rp));
    println!("  ratio berth/runc: median {:.2}   p90 {:.2}", ms(bm) / ms(rm), ms(bp) / ms(rp));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, p90) by nearest rank.
fn stats(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).saturating_sub(1).min(v.len() - 1)];
    (at(0.5), at(0.9))
}
