//! `cargo xtask bench build [--runs N]`: `docker build` (legacy builder) of a 7-step Dockerfile
//! (one RUN, a COPY of a 50 MB context), cold (`--no-cache`) and cached, against berthd and —
//! when its binaries are there (`cargo xtask docker-oracle`) — Docker 20.10 in its sandbox,
//! both driven by the same docker CLI from the same busybox archive, as ratios; `berth build`
//! is timed too. Goals (issue 12): cold ≤ 0.6× Docker, cached ≤ 50 ms and ≤ 0.5× Docker.

use anyhow::{Context, Result};
use std::process::Command;
use std::time::Duration;

use super::berthd::{build_release, ms, opt, stats, timed, Berthd};

const DOCKERFILE: &str = "FROM busybox
ENV APP=/srv/app
WORKDIR $APP
COPY data/ ./data/
RUN du -s ./data > size.txt
EXPOSE 8080
CMD [\"cat\", \"size.txt\"]
";

/// Cold and cached build times through `cmd` (a docker or berth CLI aimed at an engine).
fn measure(runs: usize, cmd: &dyn Fn(&[&str]) -> Command, ctx: &str) -> Result<(Vec<Duration>, Vec<Duration>)> {
    timed(&mut cmd(&["build", "-q", "-t", "bench:warm", ctx]))?;
    let (mut cold, mut cached) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        cold.push(timed(&mut cmd(&["build", "-q", "--no-cache", "-t", "bench:cold", ctx]))?);
        cached.push(timed(&mut cmd(&["build", "-q", "-t", "bench:cached", ctx]))?);
    }
    Ok((cold, cached))
}

fn line(what: &str, v: &mut [Duration]) -> f64 {
    let (m, p) = stats(v);
    println!("  {what:<34}: median {:>8.1} ms   p90 {:>8.1} ms", ms(m), ms(p));
    ms(m)
}

pub fn run(args: &[String]) -> Result<()> {
    let runs: usize = opt(args, "--runs", "5").parse()?;
    let bin = build_release()?;
    let fixtures = crate::fixtures::build_all()?;
    let busybox = fixtures.join("images/busybox.tar");
    let cli = crate::docker_cli::ensure(&crate::workspace_root().join("target/debug"))?;
    let b = Berthd::start(&bin, "build")?;
    let ctx = b.dir.join("context");
    std::fs::create_dir_all(ctx.join("data"))?;
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE)?;
    // 50 MB in 50 files of pseudo-random bytes (incompressible, as real contexts mostly are).
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..50 {
        let mut v = vec![0u8; 1 << 20];
        for chunk in v.chunks_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(ctx.join("data").join(format!("f{i:02}.bin")), v)?;
    }
    let ctx_s = ctx.to_str().unwrap().to_string();
    let cfg = b.dir.join("docker-config");
    std::fs::create_dir_all(&cfg)?;
    let docker_at = |host: String| {
        let (cli, cfg) = (cli.clone(), cfg.clone());
        move |a: &[&str]| {
            let mut c = Command::new(&cli);
            c.args(a).env("DOCKER_HOST", &host).env("DOCKER_CONFIG", &cfg).env("DOCKER_BUILDKIT", "0");
            c
        }
    };
    let on_berthd = docker_at(b.host.clone());
    timed(&mut on_berthd(&["load", "-q", "-i", busybox.to_str().unwrap()]))?;
    let (mut bc, mut bh) = measure(runs, &on_berthd, &ctx_s)?;
    let (mut sc, mut sh) = measure(runs, &|a: &[&str]| b.cmd(a), &ctx_s)?;
    println!("build of a 7-step Dockerfile with a 50 MB context, {runs} runs each:");
    let bcm = line("berthd, docker CLI, cold", &mut bc);
    let bhm = line("berthd, docker CLI, cached", &mut bh);
    line("berthd, berth CLI, cold", &mut sc);
    line("berthd, berth CLI, cached", &mut sh);
    println!("  cached goal: ≤ 50 ms");
    let oracle = berth_testkit::docker_oracle::DockerOracle::start().context("starting the Docker 20.10 oracle")?;
    match oracle {
        Some(d) => {
            d.load_fixture("busybox")?;
            let on_docker = docker_at(d.host());
            let (mut dc, mut dh) = measure(runs, &on_docker, &ctx_s)?;
            let dcm = line("Docker 20.10, docker CLI, cold", &mut dc);
            let dhm = line("Docker 20.10, docker CLI, cached", &mut dh);
            println!("  ratio berthd/Docker cold  : {:.2}   (goal ≤ 0.6)", bcm / dcm);
            println!("  ratio berthd/Docker cached: {:.2}   (goal ≤ 0.5)", bhm / dhm);
        }
        None => println!("  Docker 20.10: not compared (run `cargo xtask docker-oracle` first)"),
    }
    Ok(())
}
