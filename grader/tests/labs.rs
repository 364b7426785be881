//! The lab regression harness: every lab in labs/ (and the platform self-test fixture) in
//! `--solve` mode, one trial per step (`lab::<id>::<step>`), and per step a trial running its
//! broken variants (`lab::<id>::<step>::broken`), each of which must be rejected, and which
//! together must make every check of the step fail at least once.
//!
//! The step trials of a lab share one `--solve` run (the first of them to start drives it, the
//! others wait for their step's result), so a lab's solution is replayed once, not once per
//! step. A broken variant needs the state just before its step, which only a replay of the
//! earlier steps gives: each runs on a fresh lab of its own. Trials mostly wait on the kernel
//! and the hosts' engines, so more of them run at once than there are cores.

use berth_grader::catalog::{Catalog, Lab};
use berth_grader::hosts::Config;
use berth_grader::report::terminal;
use berth_grader::runner;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// One lab's shared `--solve` run: per step, its result or why the run could not reach it.
type SolveRun = OnceLock<Result<Vec<berth_grader::runner::StepResult>, String>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir.join("labs"), env!("CARGO_BIN_EXE_berth-lab-host"));
    let fixtures = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/fixtures"));
    c.images_dir = Some(fixtures.join("images"));
    c
}

fn labs() -> Vec<Lab> {
    let catalog = Catalog::load(&root().join("labs")).expect("labs/ catalog loads");
    let objectives = catalog.objectives.clone();
    let mut labs = catalog.labs;
    let selftest = root().join("grader/tests/fixtures/selftest/lab.toml");
    labs.push(Lab::load(&selftest, &objectives).expect("self-test lab loads"));
    labs
}

/// Labs whose hosts run berthd need it built next to the helper (`cargo test -p berth-grader`
/// alone does not build another package's binaries; `cargo test --workspace` does).
fn binaries_for(lab: &Lab) -> Result<(), String> {
    let dir = Path::new(env!("CARGO_BIN_EXE_berth-lab-host"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for bin in ["berthd", "berth"] {
        let uses = lab
            .hosts
            .iter()
            .flat_map(|h| &h.services)
            .any(|s| s.start.contains("berthd"))
            || lab
                .steps
                .iter()
                .any(|s| s.solution.iter().any(|a| a.run.contains("berthd")));
        if uses && !dir.join(bin).is_file() {
            return Err(format!(
                "lab {}: {bin} is not built in {} (run `cargo build -p berth`)",
                lab.id,
                dir.display()
            ));
        }
    }
    Ok(())
}

fn solve_all(lab: &Lab) -> Result<Vec<berth_grader::runner::StepResult>, String> {
    binaries_for(lab)?;
    let t = tempfile::tempdir().map_err(|e| e.to_string())?;
    let objectives = Catalog::load(&root().join("labs"))
        .map_err(|e| e.to_string())?
        .objectives;
    runner::solve(lab, &objectives, &config(t.path()))
        .map(|r| r.steps)
        .map_err(|e| format!("lab {}: {e}", lab.id))
}

fn solve_trial(lab: Arc<Lab>, run: Arc<SolveRun>, i: usize) -> Result<(), Failed> {
    let steps = run
        .get_or_init(|| solve_all(&lab))
        .as_ref()
        .map_err(|e| e.clone())?;
    let r = steps
        .get(i)
        .ok_or_else(|| format!("the solve run has no result for step {i}"))?;
    if !r.passed {
        return Err(format!(
            "the reference solution does not pass:\n{}",
            terminal::step(r)
        )
        .into());
    }
    Ok(())
}

fn broken_trial(lab: Arc<Lab>, i: usize) -> Result<(), Failed> {
    binaries_for(&lab)?;
    let step = &lab.steps[i];
    let mut failed_once = vec![false; step.checks.len()];
    for b in &step.broken {
        let t = tempfile::tempdir().map_err(|e| e.to_string())?;
        let r = runner::trial(&lab, &config(t.path()), i, Some(b))
            .map_err(|e| format!("broken variant {}: {e}", b.name))?;
        if let Some(e) = &r.error {
            return Err(format!("broken variant {} could not be set up: {e}", b.name).into());
        }
        if r.passed {
            return Err(format!(
                "broken variant {} ({}) was accepted:\n{}",
                b.name,
                b.why,
                terminal::step(&r)
            )
            .into());
        }
        for (k, c) in r.checks.iter().enumerate() {
            failed_once[k] |= !c.outcome.passed();
        }
    }
    let never: Vec<String> = failed_once
        .iter()
        .enumerate()
        .filter(|(_, f)| !**f)
        .map(|(k, _)| step.checks[k].describe())
        .collect();
    if !never.is_empty() {
        return Err(format!(
            "no broken variant makes these checks fail: {}",
            never.join("; ")
        )
        .into());
    }
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(6);
    }
    let root_user = nix::unistd::Uid::effective().is_root();
    let mut trials = Vec::new();
    for lab in labs() {
        let lab = Arc::new(lab);
        let run: Arc<SolveRun> = Arc::new(OnceLock::new());
        for (i, step) in lab.steps.iter().enumerate() {
            let (l1, l2, r) = (lab.clone(), lab.clone(), run.clone());
            let name = format!("lab::{}::{}", lab.id, step.id);
            trials.push(
                Trial::test(name.clone(), move || solve_trial(l1, r, i))
                    .with_ignored_flag(!root_user),
            );
            trials.push(
                Trial::test(format!("{name}::broken"), move || broken_trial(l2, i))
                    .with_ignored_flag(!root_user),
            );
        }
    }
    if !root_user {
        eprintln!("lab trials need root (namespaces, mounts, cgroups): they are skipped");
    }
    libtest_mimic::run(&args, trials).exit();
}
