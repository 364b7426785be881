//! The lab hub: docker-registry on a lab host holding every fixture image (pushed by berth at
//! provisioning), used by another host as its `registry-mirrors`: `docker pull busybox` and
//! `docker run busybox` work with no network beyond the lab.

use anyhow::{ensure, Result};
use berth_grader::catalog::{Lab, Objectives};
use berth_grader::hosts::{self, hub, Config, VirtualLab};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Guard(Config, String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hosts::reset(&self.0, &self.1);
    }
}

#[test]
fn hub_publishes_fixtures_and_serves_as_mirror() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let objectives = Objectives::load(&root().join("labs/objectives.toml")).unwrap();
    let lab = Lab::load(
        &root().join("grader/tests/fixtures/hub/lab.toml"),
        &objectives,
    )
    .unwrap();
    let t = tempfile::tempdir()?;
    let mut cfg = Config::new(t.path().join("labs"), env!("CARGO_BIN_EXE_berth-lab-host"));
    let fixtures = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/fixtures"));
    let images = fixtures.join("images");
    ensure!(
        images.join("busybox.tar").is_file(),
        "missing {}: run cargo xtask fixtures",
        images.display()
    );
    cfg.images_dir = Some(images.clone());
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let _guard = Guard(cfg.clone(), lab.id.clone());

    let pushed = hub::provision_hub(&vl, "hub", &images)?;
    let expected = hub::fixture_images(&images)?;
    ensure!(
        pushed.len() >= expected.len(),
        "pushed {pushed:?} for archives {expected:?}"
    );
    ensure!(pushed.iter().any(|p| p == "busybox:latest"), "{pushed:?}");
    ensure!(hub::mirror_url(&vl, "hub")? == "http://10.1.1.10:5000");

    let out = vl.run(
        "vm1",
        "berth pull busybox && berth run --rm busybox echo offline-ok && berth search busy",
        Duration::from_secs(180),
    )?;
    ensure!(out.status == 0, "vm1: {out:?}");
    ensure!(
        out.stdout.contains("latest: Pulling from library/busybox"),
        "{out:?}"
    );
    ensure!(
        out.stdout
            .contains("Status: Downloaded newer image for busybox:latest"),
        "{out:?}"
    );
    ensure!(out.stdout.contains("offline-ok"), "{out:?}");
    ensure!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("busybox ") && l.contains("[OK]")),
        "{out:?}"
    );
    // The hub keeps no extra tags of its own (it only serves).
    let hub_images = vl.run(
        "hub",
        "berth images --format '{{.Repository}}'",
        Duration::from_secs(30),
    )?;
    ensure!(
        !hub_images.stdout.contains("127.0.0.1:5000"),
        "{hub_images:?}"
    );
    Ok(())
}
