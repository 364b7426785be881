//! `cargo xtask bench <what>`: benchmarks, side by side with runc / skopeo / Docker when present,
//! printed as ratios. Each benchmark lives in its own module.

mod berthd;
mod build;
mod images;
mod labs;
mod net;
mod pull;
mod run;
mod runtime;

use anyhow::{bail, Result};

pub fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("runtime") => runtime::run(&args[1..]),
        Some("images") => images::run(&args[1..]),
        Some("pull") => pull::run(&args[1..]),
        Some("run") => run::run(&args[1..]),
        Some("net") => net::run(&args[1..]),
        Some("labs") => labs::run(&args[1..]),
        Some("build") => build::run(&args[1..]),
        Some(other) => bail!("unknown benchmark {other:?} (runtime, images, pull, run, net, labs, build)"),
        None => bail!("usage: cargo xtask bench runtime|images|pull|run|net|labs|build"),
    }
}
