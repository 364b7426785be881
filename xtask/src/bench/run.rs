//! `cargo xtask bench run [--runs N]`: end-to-end latency of `berth run --rm busybox true`
//! (CLI → berthd → shim → runc), side by side with `runc run` of the same rootfs and with
//! `docker run --rm` when a Docker engine answers on /var/run/docker.sock. Prints median and
//! p90 and the ratios (goal: 10× faster than Docker, within 2× of bare runc). Needs root.
//! berthd runs in its own mount + network namespace with a scratch data root; everything
//! (daemon, scratch dir, cgroups) is removed afterwards.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn opt(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

struct Scratch {
    dir: PathBuf,
    cgroup_parent: String,
    daemon: Option<Child>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        for h in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            remove_tree(&h.path().join(&self.cgroup_parent));
        }
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

fn timed(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("{cmd:?}"))?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(d)
}

pub fn run(args: &[String]) -> Result<()> {
    let runs: usize = opt(args, "--runs", "30").parse().context("--runs")?;
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
    let (berth, berthd) = (root.join("target/release/berth"), root.join("target/release/berthd"));
    let fixtures = crate::fixtures::build_all()?;
    let pid = std::process::id();
    let mut s = Scratch {
        dir: std::env::temp_dir().join(format!("berth-bench-run-{pid}")),
        cgroup_parent: format!("berth-bench-run-{pid}"),
        daemon: None,
    };
    let _ = std::fs::remove_dir_all(&s.dir);
    std::fs::create_dir_all(&s.dir)?;
    std::fs::write(s.dir.join("daemon.json"), "{}")?;
    let sock = s.dir.join("berth.sock");
    let host = format!("unix://{}", sock.display());
    s.daemon = Some(
        Command::new("unshare")
            .args(["--mount", "--net", "--propagation", "private"])
            .arg(&berthd)
            .arg("-H")
            .arg(&host)
            .arg("--config-file")
            .arg(s.dir.join("daemon.json"))
            .arg("--data-root")
            .arg(s.dir.join("data"))
            .arg("--exec-root")
            .arg(s.dir.join("exec"))
            .arg("--pidfile")
            .arg(s.dir.join("berthd.pid"))
            .arg("--cgroup-parent")
            .arg(format!("/{}", s.cgroup_parent))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(s.dir.join("berthd.log"))?)
            .spawn()
            .context("starting berthd")?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        if Instant::now() > deadline {
            bail!("berthd did not come up: {}", std::fs::read_to_string(s.dir.join("berthd.log")).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let berth_cmd = |args: &[&str]| {
        let mut c = Command::new(&berth);
        c.args(args).env("BERTH_HOST", &host);
        c
    };
    timed(&mut berth_cmd(&["import", fixtures.join("busybox/rootfs.tar").to_str().unwrap(), "busybox"]))?;

    // runc on a `runc spec` bundle over a copy of the same rootfs.
    let bundle = s.dir.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    if !Command::new("cp").arg("-a").arg(fixtures.join("busybox/rootfs")).arg(bundle.join("rootfs")).status()?.success() {
        bail!("copying the busybox rootfs failed");
    }
    if !Command::new("runc").args(["spec", "--bundle"]).arg(&bundle).status()?.success() {
        bail!("runc spec failed");
    }
    let template = std::fs::read_to_string(bundle.join("config.json"))?
        .replacen("\"terminal\": true", "\"terminal\": false", 1)
        .replacen("\"sh\"", "\"/bin/true\"", 1);
    let runc_state = s.dir.join("runc-state");
    let cg = s.cgroup_parent.clone();
    let runc_once = |id: &str| -> Result<Duration> {
        let cfg = template.replacen("\"linux\": {", &format!("\"linux\": {{\n\t\t\"cgroupsPath\": \"/{cg}/{id}\",", ), 1);
        std::fs::write(bundle.join("config.json"), cfg)?;
        timed(Command::new("runc").arg("--root").arg(&runc_state).arg("run").arg("--bundle").arg(&bundle).arg(id))
    };
    let docker_engine = Path::new("/var/run/docker.sock").exists()
        && Command::new("docker").args(["-H", "unix:///var/run/docker.sock", "image", "inspect", "busybox"]).output().map(|o| o.status.success()).unwrap_or(false);

    // Warm-up.
    timed(&mut berth_cmd(&["run", "--rm", "busybox", "true"]))?;
    runc_once("warm")?;
    let (mut b, mut r, mut d) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        b.push(timed(&mut berth_cmd(&["run", "--rm", "busybox", "true"]))?);
        r.push(runc_once(&format!("r{i}"))?);
        if docker_engine {
            d.push(timed(Command::new("docker").args(["-H", "unix:///var/run/docker.sock", "run", "--rm", "busybox", "true"]))?);
        }
    }
    let (bm, bp) = stats(&mut b);
    let (rm, rp) = stats(&mut r);
    println!("`run --rm busybox true` end to end, {runs} runs each:");
    println!("  berth (CLI→berthd→shim→runc): median {:>7.2} ms   p90 {:>7.2} ms", ms(bm), ms(bp));
    println!("  runc run (bare runtime)     : median {:>7.2} ms   p90 {:>7.2} ms", ms(rm), ms(rp));
    println!("  ratio berth/runc: median {:.2}   p90 {:.2}   (goal ≤ 2)", ms(bm) / ms(rm), ms(bp) / ms(rp));
    if docker_engine {
        let (dm, dp) = stats(&mut d);
        println!("  docker run --rm             : median {:>7.2} ms   p90 {:>7.2} ms", ms(dm), ms(dp));
        println!("  speed-up docker/berth: median {:.1}×   (goal ≥ 10×)", ms(dm) / ms(bm));
    } else {
        println!("  docker: no Docker engine with a busybox image on /var/run/docker.sock, not compared");
    }
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
