//! `cargo xtask bench run [--runs N]`: end-to-end latency of `berth run --rm busybox true`
//! (CLI → berthd → shim → runc), side by side with `runc run` of the same rootfs and with
//! `docker run --rm` when a Docker engine answers on /var/run/docker.sock. Prints median and
//! p90 and the ratios (goal: 10× faster than Docker, within 2× of bare runc). Needs root.
//! berthd runs in its own mount + network namespace with a scratch data root; everything
//! (daemon, scratch dir, cgroups) is removed afterwards.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::berthd::{build_release, ms, opt, stats, timed, Berthd};

pub fn run(args: &[String]) -> Result<()> {
    let runs: usize = opt(args, "--runs", "30").parse().context("--runs")?;
    let bin = build_release()?;
    let fixtures = crate::fixtures::build_all()?;
    let s = Berthd::start(&bin, "run")?;
    let berth_cmd = |args: &[&str]| s.cmd(args);
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
