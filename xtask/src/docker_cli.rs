//! A `docker` command for lab hosts and tests, without a Docker daemon on the machine.
//!
//! The course's commands are typed into the real docker CLI, which drives each host's berthd.
//! When the machine has a docker CLI, that one is used. Otherwise the CLI is taken out of
//! Debian's `docker.io` package — fetched with `apt-get download` like the fixtures' packages,
//! unpacked with `dpkg-deb -x` into `target/docker-cli/`, nothing of it installed, no daemon
//! started — and put beside berth's binaries, the directory lab hosts have first on their PATH.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The docker CLI to use: `$BERTH_DOCKER_CLI`, else `docker` on the PATH (outside `bin_dir`),
/// else the one unpacked from `docker.io` (fetched now if needed), also placed in `bin_dir`.
pub fn ensure(bin_dir: &Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_DOCKER_CLI") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("BERTH_DOCKER_CLI={} is not a file", p.display());
        }
        return Ok(p);
    }
    let ours = bin_dir.join("docker");
    if let Some(p) = on_path("docker").filter(|p| !same_file(p, &ours)) {
        // The machine's CLI wins: one unpacked earlier would shadow it in lab hosts, whose PATH
        // has the bin dir first.
        let _ = fs::remove_file(&ours);
        return Ok(p);
    }
    let unpacked = unpacked()?;
    if !same_file(&unpacked, &ours) {
        fs::create_dir_all(bin_dir)?;
        let tmp = bin_dir.join(".docker.tmp");
        let _ = fs::remove_file(&tmp);
        // A hard link when target/ is one filesystem (it is), a copy otherwise; the rename makes
        // the swap atomic for a lab host that runs `docker` right now.
        if fs::hard_link(&unpacked, &tmp).is_err() {
            fs::copy(&unpacked, &tmp).with_context(|| format!("copying {} to {}", unpacked.display(), tmp.display()))?;
        }
        fs::rename(&tmp, &ours)?;
    }
    Ok(ours)
}

/// `target/docker-cli/docker`, unpacked from Debian's docker.io once per version.
fn unpacked() -> Result<PathBuf> {
    let dir = target_dir().join("docker-cli");
    let bin = dir.join("docker");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!("xtask: no docker CLI on this machine: taking it from Debian's docker.io package (nothing is installed, no daemon is started)");
    let version = candidate("docker.io")?;
    let deb = crate::fixtures::debs::fetch(&dir.join("debs"), "docker.io", &version)?;
    let tmp = dir.join(format!(".unpack-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    crate::fixtures::debs::extract(&deb, &tmp)?;
    let cli = tmp.join("usr/bin/docker");
    if !cli.is_file() {
        let _ = fs::remove_dir_all(&tmp);
        bail!("docker.io {version} ships no usr/bin/docker");
    }
    fs::rename(&cli, &bin)?;
    fs::remove_dir_all(&tmp)?;
    let out = Command::new(&bin).arg("--version").output().context("running the unpacked docker CLI")?;
    eprintln!("xtask: {} -> {}", String::from_utf8_lossy(&out.stdout).trim(), bin.display());
    Ok(bin)
}

/// apt's candidate version of `pkg` (after an `apt-get update` when apt does not know it yet).
pub(crate) fn candidate(pkg: &str) -> Result<String> {
    let ask = || -> Option<String> {
        let out = Command::new("apt-cache").args(["policy", pkg]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate: ").map(str::to_string))
            .filter(|v| v != "(none)")
    };
    if let Some(v) = ask() {
        return Ok(v);
    }
    let st = Command::new("apt-get").args(["update", "-qq"]).status().context("running apt-get update")?;
    if !st.success() {
        bail!("apt-get update failed ({st}): cannot fetch the docker CLI; install a docker CLI by hand or set BERTH_DOCKER_CLI");
    }
    ask().with_context(|| format!("apt knows no {pkg} package: install a docker CLI by hand or set BERTH_DOCKER_CLI"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| crate::workspace_root().join("target"))
}

pub fn on_path(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}
