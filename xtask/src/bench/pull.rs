//! `cargo xtask bench pull`: pull of a generated multi-layer image from a local docker-registry,
//! berth's registry client vs `skopeo copy`, MB/s and their ratio. The measuring code lives in
//! berth-registry's `pull_bench` example (it shares the real-registry test harness); this wrapper
//! builds it in release mode and passes the arguments through (`--size-mb 200 --layers 5`).

use anyhow::{bail, Context, Result};
use std::process::Command;

pub fn run(args: &[String]) -> Result<()> {
    crate::deps::ensure_named(&["docker-registry", "skopeo"])?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::workspace_root())
        .args(["run", "--quiet", "--release", "-p", "berth-registry", "--example", "pull_bench", "--"])
        .args(args)
        .status()
        .context("running the pull_bench example")?;
    if !status.success() {
        bail!("pull benchmark failed ({status})");
    }
    Ok(())
}
