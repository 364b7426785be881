//! The lab hub: every lab (unless `hub = false`) gets a `hub` host serving every fixture image
//! from docker-registry (storage built once per fixture set by berth pushes, overlaid per lab);
//! the other hosts' daemon.json names it as registry mirror and their `images` are pulled
//! through it at provisioning, and the hub serves the Debian package repository on port 80.
//! Also measures provisioning: pulled through the hub vs loaded
//! from archives (`hub = false`), printed with `--nocapture`.

use anyhow::{ensure, Result};
use berth_grader::catalog::{Lab, Objectives};
use berth_grader::hosts::{self, hub, hub_cache, Config, VirtualLab};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Guard(Config, String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hosts::reset(&self.0, &self.1);
    }
}

fn lab(text_edit: impl Fn(String) -> String) -> Lab {
    let objectives = Objectives::load(&root().join("labs/objectives.toml")).unwrap();
    let path = root().join("grader/tests/fixtures/hub/lab.toml");
    let text = text_edit(std::fs::read_to_string(&path).unwrap());
    Lab::parse(&path, &text, &objectives).unwrap()
}

fn config(dir: &Path) -> Result<Config> {
    let mut cfg = Config::new(dir.join("labs"), env!("CARGO_BIN_EXE_berth-lab-host"));
    let fixtures = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/fixtures"));
    let images = fixtures.join("images");
    ensure!(
        images.join("busybox.tar").is_file(),
        "missing {}: run cargo xtask fixtures",
        images.display()
    );
    cfg.images_dir = Some(images);
    if cfg.hub_cache.is_none() {
        cfg.hub_cache = Some(root().join("target/hub"));
    }
    Ok(cfg)
}

#[test]
fn every_lab_pulls_through_its_hub() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let lab = lab(|t| t);
    let hub_host = lab.hub_host().expect("hub on by default");
    ensure!(hub_host.name == "hub" && hub_host.address == "10.1.1.10/24");
    let t = tempfile::tempdir()?;
    let cfg = config(t.path())?;

    // The shared storage first (built once per fixture set, then reused).
    let started = Instant::now();
    let storage = hub_cache::ensure(&cfg)?;
    eprintln!(
        "hub storage ready in {:.2}s: {}",
        started.elapsed().as_secs_f64(),
        storage.display()
    );
    let images_dir = cfg.images_dir.clone().unwrap();
    for name in hub::fixture_images(&images_dir)? {
        let repo = storage.join(format!("docker/registry/v2/repositories/library/{name}"));
        ensure!(repo.is_dir(), "{} missing from the hub", repo.display());
    }

    let started = Instant::now();
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let _guard = Guard(cfg.clone(), lab.id.clone());
    eprintln!(
        "provisioned hub-selftest (hub + vm1 pulling busybox) in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    ensure!(hub::mirror_url(&vl, "hub")? == "http://10.1.1.10:5000");

    // vm1's daemon.json names the hub; its busybox came from the registry (RepoDigests).
    let out = vl.run(
        "vm1",
        "cat /etc/berth/daemon.json && docker image inspect -f '{{index .RepoDigests 0}}' busybox",
        Duration::from_secs(30),
    )?;
    ensure!(out.status == 0, "vm1: {out:?}");
    ensure!(
        out.stdout
            .contains("\"registry-mirrors\": [\"http://10.1.1.10:5000\"]"),
        "{out:?}"
    );
    ensure!(out.stdout.contains("busybox@sha256:"), "{out:?}");

    let out = vl.run(
        "vm1",
        "berth pull nginx && berth run --rm busybox echo offline-ok && berth search busy",
        Duration::from_secs(180),
    )?;
    ensure!(out.status == 0, "vm1: {out:?}");
    ensure!(
        out.stdout.contains("latest: Pulling from library/nginx"),
        "{out:?}"
    );
    ensure!(out.stdout.contains("offline-ok"), "{out:?}");
    ensure!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("[OK]")),
        "{out:?}"
    );

    // The hub also serves the fixtures' Debian package repository over HTTP, as a mirror.
    ensure!(
        cfg.apt_repo().is_some(),
        "no package repository beside {}: run cargo xtask fixtures",
        images_dir.display()
    );
    let out = vl.run(
        "vm1",
        "wget -qO- http://10.1.1.10/debian/dists/bookworm/Release && wget -qO- http://10.1.1.10/debian/dists/bookworm/main/binary-amd64/Packages | grep -c '^Package: '",
        Duration::from_secs(30),
    )?;
    ensure!(out.status == 0, "vm1: {out:?}");
    ensure!(
        out.stdout.contains("Suite: bookworm") && out.stdout.contains("main/binary-amd64/Packages"),
        "{out:?}"
    );
    let count: usize = out.stdout.lines().last().unwrap_or("0").trim().parse().unwrap_or(0);
    ensure!(count > 100, "only {count} packages in the hub's index");

    // The hub's storage is copy-on-write: a delete through its registry API stays in this lab.
    let out = vl.run(
        "hub",
        "grep ' /var/lib/docker-registry ' /proc/self/mountinfo | grep -q ' - overlay ' && touch /var/lib/docker-registry/lab-write && ls /var/lib/docker-registry",
        Duration::from_secs(10),
    )?;
    ensure!(
        out.status == 0 && out.stdout.contains("lab-write"),
        "{out:?}"
    );
    ensure!(
        !storage.join("lab-write").exists(),
        "a lab's write reached the shared storage"
    );
    drop(vl);
    drop(_guard);

    // The step harness: the reference solution pulls hello-world through the mirror.
    let r = berth_grader::runner::solve(
        &lab,
        &Objectives::load(&root().join("labs/objectives.toml")).unwrap(),
        &cfg,
    )?;
    ensure!(r.passed, "{r:?}");
    Ok(())
}

#[test]
fn provisioning_time_hub_pull_vs_archive_load() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let cfg = config(t.path())?;
    hub_cache::ensure(&cfg)?;
    let images = |l: &str| format!("images = [\"{l}\"]");
    for set in ["busybox", "hello-world\", \"busybox", "nginx\", \"httpd"] {
        for hub_on in [false, true] {
            let lab = lab(|t| {
                let t = t.replace("images = [\"busybox\"]", &images(set));
                if hub_on {
                    t
                } else {
                    t.replace(
                        "objectives = [\"manage-images\"]",
                        "objectives = [\"manage-images\"]\nhub = false",
                    )
                }
            });
            let started = Instant::now();
            let vl = VirtualLab::provision(&lab, &cfg)?;
            let secs = started.elapsed().as_secs_f64();
            vl.teardown()?;
            eprintln!(
                "provision [{}] {}: {secs:.2}s",
                set.replace("\", \"", ", "),
                if hub_on {
                    "pulled through the hub"
                } else {
                    "loaded from archives (hub = false)"
                }
            );
        }
    }
    Ok(())
}
