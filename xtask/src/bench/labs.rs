//! `cargo xtask bench labs [--runs N] [ID…]`: wall time of each lab's `--solve` from a warm
//! build and hub cache, split into provisioning (hosts, services, images: what a guided lab
//! waits for before its first prompt), the steps (solutions replayed and checked) and teardown.
//! Goals: every `--solve` ≤ 15 s, a guided lab's first prompt (≈ provisioning) ≤ 5 s. Needs root.
//! Labs run one after another in a state dir of their own (`target/bench-labs`), removed after.

use crate::progress::secs;
use anyhow::{Context, Result};
use berth_grader::hosts::VirtualLab;
use berth_grader::runner::{self, Observer, StepResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SOLVE_GOAL: Duration = Duration::from_secs(15);
const PROMPT_GOAL: Duration = Duration::from_secs(5);

/// Per-step times, kept to name the slowest step of each lab.
#[derive(Default)]
struct StepTimes(Mutex<Vec<(String, Duration, bool)>>);

impl Observer for StepTimes {
    fn step_finished(&self, r: &StepResult, took: Duration) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push((r.step.clone(), took, r.passed));
    }
}

struct Row {
    lab: String,
    provision: Duration,
    steps: Duration,
    teardown: Duration,
    slowest: (String, Duration),
    passed: bool,
}

pub fn run(args: &[String]) -> Result<()> {
    let mut runs = 1usize;
    let mut ids: Vec<String> = vec![];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().context("--runs needs a number")?.parse().context("--runs")?,
            s => ids.push(s.to_string()),
        }
    }
    let (catalog, _) = crate::lab::catalog()?;
    if ids.is_empty() {
        ids = catalog.labs.iter().map(|l| l.id.clone()).collect();
    }
    let state = crate::target_dir().join("bench-labs");
    let common = crate::lab::Common { progress: None, state: Some(state.clone()) };
    let mut rows = vec![];
    for id in &ids {
        let lab = catalog.lab(id).with_context(|| format!("no lab {id}"))?;
        // Warm: the build, the fixtures and the hub cache are made before the clock starts.
        let cfg = crate::lab::prepare(&common, Some(lab), None)?;
        for run in 0..runs {
            eprintln!("bench labs: {id} (run {}/{runs})", run + 1);
            let t0 = Instant::now();
            let vl = VirtualLab::provision(lab, &cfg)?;
            let provision = t0.elapsed();
            let times = StepTimes::default();
            let t1 = Instant::now();
            let r = runner::solve_on_observed(&vl, lab, &catalog.objectives, &times);
            let steps = t1.elapsed();
            let t2 = Instant::now();
            vl.teardown()?;
            let teardown = t2.elapsed();
            let slowest = times
                .0
                .into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .into_iter()
                .max_by_key(|(_, d, _)| *d)
                .map(|(s, d, _)| (s, d))
                .unwrap_or_default();
            rows.push(Row { lab: id.clone(), provision, steps, teardown, slowest, passed: r.passed });
        }
    }
    let _ = std::fs::remove_dir_all(&state);
    println!("{:<22} {:>10} {:>9} {:>9} {:>9}  {:<28} {}", "lab", "provision", "steps", "teardown", "total", "slowest step", "result");
    let (mut solve_ok, mut prompt_ok) = (0, 0);
    for r in &rows {
        let total = r.provision + r.steps + r.teardown;
        solve_ok += usize::from(total <= SOLVE_GOAL);
        prompt_ok += usize::from(r.provision <= PROMPT_GOAL);
        println!(
            "{:<22} {:>10} {:>9} {:>9} {:>9}  {:<28} {}",
            r.lab,
            secs(r.provision),
            secs(r.steps),
            secs(r.teardown),
            secs(total),
            format!("{} ({})", r.slowest.0, secs(r.slowest.1)),
            if r.passed { "passed" } else { "FAILED" }
        );
    }
    println!(
        "goals: --solve ≤ {} in {solve_ok}/{n} runs; provisioning (a guided lab's wait before its first prompt) ≤ {} in {prompt_ok}/{n} runs",
        secs(SOLVE_GOAL),
        secs(PROMPT_GOAL),
        n = rows.len()
    );
    Ok(())
}
