//! Docker 20.10 for the tests' differential oracle (`tests/src/docker_oracle.rs`), without
//! installing Docker on the machine.
//!
//! Like the docker CLI (`docker_cli.rs`), the daemon's binaries are taken out of Debian's packages
//! — fetched with `apt-get download` into `target/docker-oracle/debs/`, unpacked with
//! `dpkg-deb -x`, nothing installed, no maintainer script run, no daemon started — and the few
//! files the oracle needs are put into `target/docker-oracle/bin/`: `dockerd` and `docker-proxy`
//! (docker.io), `containerd` and `containerd-shim-runc-v2` (containerd), `runc`, and tini-static
//! as `docker-init` (docker.io's own `docker-init` is a link to it; `--init` runs it, and the
//! oracle's sandbox uses it as its PID 1). `cargo xtask ci` passes the directory to the tests as
//! `BERTH_DOCKER_ORACLE`; only the tests start dockerd, and only inside their sandbox.

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian package → (path in the package, name in `bin/`).
const FILES: &[(&str, &[(&str, &str)])] = &[
    ("docker.io", &[("usr/sbin/dockerd", "dockerd"), ("usr/sbin/docker-proxy", "docker-proxy")]),
    ("containerd", &[("usr/bin/containerd", "containerd"), ("usr/bin/containerd-shim-runc-v2", "containerd-shim-runc-v2")]),
    ("runc", &[("usr/sbin/runc", "runc")]),
    ("tini", &[("usr/bin/tini-static", "docker-init")]),
];

/// Shared libraries the unpacked binaries link that a minimal Debian may lack (dockerd links
/// libdevmapper), and `ip` for the sandbox's loopback: installed like the tests' other packages.
const RUNTIME_DEPS: &[&str] = &["libdevmapper1.02.1", "iproute2"];

/// The oracle's bin dir: `$BERTH_DOCKER_ORACLE` when set, else `target/docker-oracle/bin`
/// (unpacked now when a file is missing).
pub fn ensure() -> Result<PathBuf> {
    crate::deps::ensure_named(RUNTIME_DEPS)?;
    if let Some(p) = std::env::var_os("BERTH_DOCKER_ORACLE") {
        let p = PathBuf::from(p);
        if let Some(missing) = missing(&p) {
            bail!("BERTH_DOCKER_ORACLE={} has no {missing}", p.display());
        }
        return Ok(p);
    }
    let dir = crate::target_dir().join("docker-oracle");
    let bin = dir.join("bin");
    if missing(&bin).is_none() {
        return Ok(bin);
    }
    eprintln!("xtask: taking Docker 20.10 (dockerd, containerd, runc, tini) out of Debian's packages for the tests' oracle (nothing is installed, no daemon is started)");
    let tmp = dir.join(format!(".bin-{}", std::process::id()));
    let unpack = dir.join(format!(".unpack-{}", std::process::id()));
    let result = unpack_all(&dir.join("debs"), &tmp, &unpack);
    let _ = fs::remove_dir_all(&unpack);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let _ = fs::remove_dir_all(&bin);
    fs::rename(&tmp, &bin).with_context(|| format!("renaming {} to {}", tmp.display(), bin.display()))?;
    let out = Command::new(bin.join("dockerd")).arg("--version").output().context("running the unpacked dockerd --version")?;
    eprintln!("xtask: {} -> {}", String::from_utf8_lossy(&out.stdout).trim(), bin.display());
    Ok(bin)
}

fn unpack_all(debs: &Path, tmp: &Path, unpack: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(tmp);
    fs::create_dir_all(tmp)?;
    let mut versions = String::new();
    for (pkg, files) in FILES {
        let version = crate::docker_cli::candidate(pkg)?;
        let deb = crate::fixtures::debs::fetch(debs, pkg, &version)?;
        let _ = fs::remove_dir_all(unpack);
        crate::fixtures::debs::extract(&deb, unpack)?;
        for (from, to) in *files {
            let src = unpack.join(from);
            if !src.is_file() {
                bail!("{pkg} {version} ships no {from}");
            }
            fs::rename(&src, tmp.join(to))?;
        }
        fs::remove_dir_all(unpack)?;
        versions.push_str(&format!("{pkg} {version}\n"));
    }
    fs::write(tmp.join("VERSIONS"), versions)?;
    Ok(())
}

/// The first file of the oracle `bin` lacks, if any.
fn missing(bin: &Path) -> Option<&'static str> {
    FILES.iter().flat_map(|(_, f)| f.iter()).map(|(_, to)| *to).find(|to| !bin.join(to).is_file())
}
