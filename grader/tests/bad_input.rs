//! Students do unexpected things: remove what a later step needs, kill the daemon, never get a
//! step right. The grader must answer with one clear message naming the step and what to do,
//! never a panic, and `reset` must still leave nothing behind. Runs `8-overlay2` on its real
//! berthd.

use anyhow::{ensure, Result};
use berth_grader::catalog::{Catalog, Lab};
use berth_grader::checks::latch::Latches;
use berth_grader::hosts::{self, Config, VirtualLab};
use berth_grader::runner::{self, RunError};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lab(id: &str) -> Lab {
    let c = Catalog::load(&root().join("labs")).expect("catalog loads");
    c.lab(id).expect("lab exists").clone()
}

fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir.join("labs"), env!("CARGO_BIN_EXE_berth-lab-host"));
    let fixtures = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/fixtures"));
    c.images_dir = Some(fixtures.join("images"));
    c
}

struct Guard(Config, String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hosts::reset(&self.0, &self.1);
    }
}

fn check(vl: &VirtualLab, lab: &Lab, i: usize, secs: f64) -> runner::StepResult {
    let s = &lab.steps[i];
    runner::check_step(
        vl,
        lab,
        s,
        &mut Latches::new(s.checks.len()),
        Duration::from_secs_f64(secs),
    )
}

#[test]
fn removed_container_and_dead_daemon_are_explained_and_reset_still_cleans() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let lab = lab("8-overlay2");
    let t = tempfile::tempdir()?;
    let cfg = config(t.path());
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let _guard = Guard(cfg.clone(), lab.id.clone());
    let state = vl.state.clone();
    let cow = lab
        .steps
        .iter()
        .position(|s| s.id == "copy-on-write")
        .expect("step");
    for s in &lab.steps[..cow] {
        runner::apply_solution(&vl, s)?;
    }
    ensure!(
        check(&vl, &lab, cow - 1, 10.0).passed,
        "container-layers passes first"
    );

    // The student removes c1, which the next step works in.
    vl.run("vm1", "docker rm -f c1", Duration::from_secs(30))?;
    let r = check(&vl, &lab, cow - 1, 0.5);
    ensure!(!r.passed);
    let notes = r.notes.join("\n");
    ensure!(
        notes.contains("step container-layers: checks still failing")
            && notes.contains("has no containers [/Names/0=/c1]")
            && notes.contains("cargo xtask lab reset 8-overlay2"),
        "{notes}"
    );
    // Replaying the next step's solution names the step, the command and the engine's error.
    match runner::apply_solution(&vl, &lab.steps[cow]) {
        Err(e @ RunError::Solution { .. }) => {
            let m = e.to_string();
            ensure!(
                m.starts_with("step copy-on-write: solution command") && m.contains("c1"),
                "{m}"
            );
        }
        other => anyhow::bail!("expected a solution error, got {other:?}"),
    }

    // The daemon dies (its socket file stays behind): every failing step says so.
    vl.run("vm1", "kill -9 $(pidof berthd)", Duration::from_secs(10))?;
    let r = check(&vl, &lab, 1, 0.5);
    ensure!(!r.passed);
    let notes = r.notes.join("\n");
    ensure!(
        notes.contains("service berthd on vm1 is not running")
            && notes.contains("/run/berthd.log")
            && notes.contains("cargo xtask lab reset 8-overlay2"),
        "{notes}"
    );
    let observed: Vec<String> = r
        .checks
        .iter()
        .map(|c| format!("{:?}", c.outcome))
        .collect();
    ensure!(
        observed
            .iter()
            .any(|o| o.contains("is the daemon running?")),
        "{observed:?}"
    );

    vl.teardown()?;
    ensure!(
        hosts::leftovers(&cfg, &state).is_empty(),
        "{:?}",
        hosts::leftovers(&cfg, &state)
    );
    Ok(())
}

#[test]
fn a_missing_fixture_image_is_named_before_anything_is_created() -> Result<()> {
    let lab = lab("7-containers");
    let t = tempfile::tempdir()?;
    let mut cfg = config(t.path());
    cfg.images_dir = Some(t.path().join("no-fixtures"));
    let e = VirtualLab::provision(&lab, &cfg).expect_err("no fixtures");
    let m = e.to_string();
    ensure!(
        m.starts_with("lab 7-containers, host vm1: fixture image hello-world is missing")
            && m.ends_with("run `cargo xtask fixtures`"),
        "{m}"
    );
    ensure!(
        !cfg.lab_dir(&lab.id).join("state.json").exists(),
        "nothing was provisioned"
    );
    Ok(())
}

#[test]
fn reset_removes_containers_cgroups_of_a_daemon_started_by_hand() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    // In 3-daemon the student starts berthd with its defaults: containers land in /berth/<id>.
    let lab = lab("3-daemon");
    let t = tempfile::tempdir()?;
    let cfg = config(t.path());
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let _guard = Guard(cfg.clone(), lab.id.clone());
    runner::apply_solution(&vl, &lab.steps[0])?;
    let out = vl.run(
        "vm1",
        "docker load -i /run/berth-lab/images/busybox.tar >/dev/null && docker run -d --name stray busybox sleep 3007",
        Duration::from_secs(60),
    )?;
    ensure!(out.status == 0, "{}", out.stderr);
    let id = out.stdout.trim().to_string();
    let cg = cfg.cgroup_root.join("memory/berth").join(&id);
    ensure!(
        cg.is_dir(),
        "{} exists while the container runs",
        cg.display()
    );
    vl.teardown()?;
    ensure!(!cg.exists(), "{} was left behind", cg.display());
    Ok(())
}
