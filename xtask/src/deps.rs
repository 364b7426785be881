//! What berth needs from the machine: one list of Debian packages, each with the reason it is
//! needed and the commands that prove it is there, shared by `cargo xtask lab` (what a student's
//! first run installs) and `cargo xtask ci` (that, plus what only the tests use).
//!
//! Installation happens before anything is built or provisioned, so a missing tool is named up
//! front instead of surfacing as a lab host whose registry never started.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Who needs a package: every lab run, or only the test suite.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Need {
    Labs,
    Tests,
}

#[derive(Clone, Copy, Debug)]
pub struct Package {
    pub name: &'static str,
    pub need: Need,
    pub why: &'static str,
    /// Commands (absolute paths) the package provides: how presence is judged without dpkg.
    pub provides: &'static [&'static str],
}

const fn p(name: &'static str, need: Need, why: &'static str, provides: &'static [&'static str]) -> Package {
    Package { name, need, why, provides }
}

/// Everything, in install order. The docker CLI is not here: it is unpacked from Debian's
/// `docker.io` without installing it (see `docker_cli.rs`), so no Docker daemon lands on the machine.
pub const PACKAGES: &[Package] = &[
    p("runc", Need::Labs, "berthd's default OCI runtime", &["/usr/sbin/runc", "/usr/bin/runc"]),
    p("docker-registry", Need::Labs, "the registry every lab's hub host serves images from", &["/usr/bin/docker-registry"]),
    p("nftables", Need::Labs, "berth-net's firewall for -p port publishing and network isolation", &["/usr/sbin/nft"]),
    p("iptables", Need::Labs, "the firewall backend where nftables is absent, and the labs' iptables commands", &["/usr/sbin/iptables"]),
    p("iproute2", Need::Labs, "`ip`: the lab LAN, hosts' veths and addresses", &["/usr/sbin/ip", "/sbin/ip", "/bin/ip"]),
    p("busybox-static", Need::Labs, "the root filesystem of the fixture images", &["/bin/busybox"]),
    p("tini", Need::Labs, "`--init`'s docker-init (tini-static)", &["/usr/bin/tini-static"]),
    p("gcc", Need::Labs, "compiles the hello-world fixture's program", &["/usr/bin/gcc"]),
    p("libc6-dev", Need::Labs, "headers and crt files for the hello-world fixture", &["/usr/include/stdio.h"]),
    p("binutils", Need::Labs, "readelf: the fixture images' shared-library closure", &["/usr/bin/readelf"]),
    p("openssl", Need::Labs, "6-registry's installer makes the token service's key and certificate", &["/usr/bin/openssl"]),
    p("curl", Need::Labs, "the labs' HTTP requests to published ports and registries", &["/usr/bin/curl"]),
    p("mariadb-client-core", Need::Labs, "`mysql -h … -u root -p…`: the client of 9-apps' mysql container (no perl tools)", &["/usr/bin/mariadb"]),
    p("skopeo", Need::Tests, "reads and writes berth's archives and registries in the differential tests", &["/usr/bin/skopeo"]),
    p("umoci", Need::Tests, "a second reader of berth's OCI layouts", &["/usr/bin/umoci"]),
    p("python3-docker", Need::Tests, "docker-py driven against berthd", &[]),
    p(
        "libdevmapper1.02.1",
        Need::Tests,
        "dockerd of the tests' Docker 20.10 oracle links it (its binaries are unpacked, not installed: docker_oracle.rs)",
        &["/usr/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1", "/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1"],
    ),
    p("debootstrap", Need::Tests, "the fresh-machine test's Debian 12 root", &["/usr/sbin/debootstrap"]),
];

/// The packages for `need` (`Tests` includes the labs' too: the suite runs every lab).
pub fn for_need(need: Need) -> Vec<Package> {
    PACKAGES.iter().copied().filter(|p| need == Need::Tests || p.need == Need::Labs).collect()
}

/// Makes sure every package is present; installs the missing ones with apt-get (labs and CI run
/// as root). Without apt, or when the package registry cannot be reached, says which tools to
/// install by hand and why, and stops before anything is half done.
pub fn ensure(pkgs: &[Package]) -> Result<()> {
    let have_dpkg = Path::new("/usr/bin/dpkg-query").exists();
    let missing: Vec<Package> = pkgs.iter().copied().filter(|p| !present(p, have_dpkg)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let by_hand = || {
        missing.iter().map(|p| format!("  {:<16} {}", p.name, p.why)).collect::<Vec<_>>().join("\n")
    };
    if !Path::new("/usr/bin/apt-get").exists() {
        bail!("these tools are missing and this machine has no apt-get to install them; install them by hand (Debian package names):\n{}", by_hand());
    }
    eprintln!("xtask: installing {} Debian package(s) berth needs:", missing.len());
    for p in &missing {
        eprintln!("  {:<16} {}", p.name, p.why);
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
    let st = Command::new("apt-get").args(["update", "-qq"]).status().context("running apt-get update")?;
    if !st.success() {
        bail!("apt-get update failed ({st}): is the package registry reachable? Nothing was installed; to install by hand:\n{}", by_hand());
    }
    // apt-get downloads every package before unpacking any, so a failed download installs nothing.
    let st = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get install")?;
    if !st.success() {
        let installed: Vec<&str> = missing.iter().filter(|p| present(p, have_dpkg)).map(|p| p.name).collect();
        let what = if installed.is_empty() { "Nothing was installed".to_string() } else { format!("Installed before it stopped: {}", installed.join(" ")) };
        bail!("apt-get install {} failed ({st}): is the package registry reachable? {what}; to install by hand:\n{}", names.join(" "), by_hand());
    }
    let still: Vec<&str> = missing.iter().filter(|p| !present(p, have_dpkg)).map(|p| p.name).collect();
    if !still.is_empty() {
        bail!("apt-get install succeeded but these are still missing: {}", still.join(" "));
    }
    Ok(())
}

fn present(p: &Package, have_dpkg: bool) -> bool {
    if have_dpkg {
        return dpkg_installed(p.name);
    }
    !p.provides.is_empty() && p.provides.iter().any(|c| Path::new(c).exists())
}

fn dpkg_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs the named packages of the list (the fixture builders' own needs).
pub fn ensure_named(names: &[&str]) -> Result<()> {
    let pkgs = names
        .iter()
        .map(|n| PACKAGES.iter().copied().find(|p| p.name == *n).with_context(|| format!("{n} is not in xtask's package list (deps.rs)")))
        .collect::<Result<Vec<_>>>()?;
    ensure(&pkgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_package_says_why_and_labs_are_a_subset_of_tests() {
        for p in PACKAGES {
            assert!(!p.why.is_empty(), "{} has no reason", p.name);
        }
        let labs = for_need(Need::Labs);
        let tests = for_need(Need::Tests);
        assert!(labs.len() < tests.len());
        assert!(labs.iter().all(|l| tests.iter().any(|t| t.name == l.name)));
        // The list: what a first lab run cannot work without.
        for must in ["runc", "docker-registry", "nftables", "iptables", "iproute2", "busybox-static"] {
            assert!(labs.iter().any(|p| p.name == must), "{must} missing from the labs' list");
        }
    }
}
