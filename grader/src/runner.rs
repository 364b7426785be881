//! Runs a lab's steps on its hosts: replay reference solutions (`--solve`), check the current
//! state (`--check`), run broken variants (which must be rejected), and score objectives.

use crate::catalog::{Action, Broken, Lab, Objectives, Step};
use crate::checks::{latch::Latches, CheckSpec, Ctx, Outcome};
use crate::hosts::{Config, HostError, VirtualLab};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub const POLL: Duration = Duration::from_millis(100);
/// How long a broken variant is given to (wrongly) pass before it counts as rejected.
pub const BROKEN_SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("step {step}: solution command `{cmd}` on {host} failed with exit {status}: {stderr}")]
    Solution {
        step: String,
        host: String,
        cmd: String,
        status: i32,
        stderr: String,
    },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub kind: String,
    pub description: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: String,
    pub passed: bool,
    pub checks: Vec<CheckResult>,
    /// Set when the step could not be run at all (a host died, a solution command failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why a failing step may be failing beyond its checks: a deadline reached, a host or a
    /// host's service that died.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveScore {
    pub objective: String,
    pub passed: usize,
    pub total: usize,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabResult {
    pub lab: String,
    pub mode: String,
    pub passed: bool,
    pub steps: Vec<StepResult>,
    pub objectives: Vec<ObjectiveScore>,
}

/// The quiz answers recorded for a running lab.
pub fn load_answers(vl: &VirtualLab) -> BTreeMap<String, String> {
    std::fs::read(vl.state.dir.join("answers.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub fn record_answers(vl: &VirtualLab, new: &BTreeMap<String, String>) -> Result<(), RunError> {
    let mut all = load_answers(vl);
    all.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
    let p = vl.state.dir.join("answers.json");
    let tmp = vl.state.dir.join("answers.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&all).unwrap_or_default())
        .map_err(|e| RunError::Io(tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, &p).map_err(|e| RunError::Io(p.display().to_string(), e))
}

pub fn ctx_for<'a>(vl: &'a VirtualLab, lab: &'a Lab, answers: BTreeMap<String, String>) -> Ctx<'a> {
    Ctx {
        proc_root: vl.config.proc_root.clone(),
        cgroup_root: vl.config.cgroup_root.clone(),
        hosts: vl,
        quiz: &lab.quiz,
        answers,
    }
}

/// Runs actions in order; with `strict`, a non-zero exit is an error (reference solutions).
pub fn run_actions(
    vl: &VirtualLab,
    step: &Step,
    actions: &[Action],
    strict: bool,
) -> Result<(), RunError> {
    for a in actions {
        let out = vl.run(&a.host, &a.run, Duration::from_secs(60))?;
        if strict && out.status != 0 {
            return Err(RunError::Solution {
                step: step.id.clone(),
                host: a.host.clone(),
                cmd: a.run.clone(),
                status: out.status,
                stderr: out.stderr.trim().to_string(),
            });
        }
    }
    Ok(())
}

/// Probes a step's checks (through `latches`) until all hold or `timeout`.
pub fn check_step(
    vl: &VirtualLab,
    lab: &Lab,
    step: &Step,
    latches: &mut Latches,
    timeout: Duration,
) -> StepResult {
    let outcomes = latches.wait(timeout, POLL, &mut |i| {
        let ctx = ctx_for(vl, lab, load_answers(vl));
        step.checks[i].probe(&ctx)
    });
    let mut r = step_result(step, outcomes, None);
    if !r.passed {
        if !timeout.is_zero() {
            r.notes.push(format!(
                "step {}: checks still failing after {:.0}s",
                step.id,
                timeout.as_secs_f64()
            ));
        }
        r.notes.extend(host_problems(vl, lab));
        r.notes.extend(missing_objects(lab, step, &r));
    }
    r
}

/// A failing engine check that finds no matching object usually means the student removed
/// something an earlier step made (or has not made it yet): say how to get it back.
fn missing_objects(lab: &Lab, step: &Step, r: &StepResult) -> Vec<String> {
    step.checks
        .iter()
        .zip(&r.checks)
        .filter_map(|(c, cr)| match (c, &cr.outcome) {
            (CheckSpec::Engine(e), Outcome::Fail { observed, .. })
                if e.present && observed.ends_with("none matching") =>
            {
                Some(format!(
                    "step {}: the engine on {} has no {} — if an earlier step made it and it was removed, redo that step (the guide's `solve` replays a step), or start over with `cargo xtask lab reset {}`",
                    step.id,
                    e.host,
                    cr.description.split(" exists").next().unwrap_or(&cr.description).split(" has ").next().unwrap_or_default(),
                    lab.id
                ))
            }
            _ => None,
        })
        .collect()
}

/// Hosts that died and services whose readiness checks no longer hold, with what to do.
pub fn host_problems(vl: &VirtualLab, lab: &Lab) -> Vec<String> {
    let mut out = Vec::new();
    let ctx = ctx_for(vl, lab, BTreeMap::new());
    for h in &lab.hosts {
        if let Err(e) = vl.host_state(&h.name) {
            out.push(e.to_string());
            continue;
        }
        for s in &h.services {
            for c in &s.ready {
                if let Outcome::Fail { observed, .. } = c.probe(&ctx) {
                    out.push(format!(
                        "service {} on {} is not running ({observed}); its log is /run/{}.log on {}; start it again with `{}` there, or `cargo xtask lab reset {}`",
                        s.name, h.name, s.name, h.name, s.start, lab.id
                    ));
                    break;
                }
            }
        }
    }
    out
}

fn step_result(step: &Step, outcomes: Vec<Outcome>, error: Option<String>) -> StepResult {
    let checks: Vec<CheckResult> = step
        .checks
        .iter()
        .zip(outcomes)
        .map(|(c, outcome)| CheckResult {
            kind: c.kind().into(),
            description: c.describe(),
            outcome,
        })
        .collect();
    StepResult {
        step: step.id.clone(),
        passed: error.is_none() && checks.iter().all(|c| c.outcome.passed()),
        checks,
        error,
        notes: vec![],
    }
}

fn failed_step(step: &Step, e: &RunError) -> StepResult {
    let outcomes = step
        .checks
        .iter()
        .map(|_| Outcome::fail("(step not run)", e.to_string()))
        .collect();
    step_result(step, outcomes, Some(e.to_string()))
}

/// Replays the reference solution of `step` (actions and quiz answers).
pub fn apply_solution(vl: &VirtualLab, step: &Step) -> Result<(), RunError> {
    run_actions(vl, step, &step.solution, true)?;
    record_answers(vl, &step.answers)
}

/// Told about each step as it runs, so a person sees progress live (the lab command prints
/// it); the default methods ignore everything.
pub trait Observer {
    fn step_started(&self, _step: &Step) {}
    fn step_finished(&self, _result: &StepResult, _took: Duration) {}
}

/// An observer that says nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// `--solve` on an already provisioned lab: every step's solution, then its checks.
pub fn solve_on(vl: &VirtualLab, lab: &Lab, objectives: &Objectives) -> LabResult {
    solve_on_observed(vl, lab, objectives, &Quiet)
}

/// [`solve_on`], telling `obs` about each step as it starts and ends.
pub fn solve_on_observed(vl: &VirtualLab, lab: &Lab, objectives: &Objectives, obs: &dyn Observer) -> LabResult {
    let mut steps = Vec::new();
    let mut broken = false;
    for step in &lab.steps {
        let t0 = std::time::Instant::now();
        obs.step_started(step);
        if broken {
            steps.push(failed_step(
                step,
                &RunError::Io(
                    "skipped".into(),
                    std::io::Error::other("an earlier step failed"),
                ),
            ));
            obs.step_finished(steps.last().expect("pushed"), t0.elapsed());
            continue;
        }
        let r = match apply_solution(vl, step) {
            Ok(()) => check_step(
                vl,
                lab,
                step,
                &mut Latches::new(step.checks.len()),
                Duration::from_secs_f64(step.timeout_secs),
            ),
            Err(e) => failed_step(step, &e),
        };
        broken = !r.passed;
        obs.step_finished(&r, t0.elapsed());
        steps.push(r);
    }
    finish(lab, objectives, "solve", steps)
}

/// Provisions, solves, tears down.
pub fn solve(lab: &Lab, objectives: &Objectives, config: &Config) -> Result<LabResult, RunError> {
    solve_observed(lab, objectives, config, &Quiet)
}

/// [`solve`], telling `obs` about each step.
pub fn solve_observed(lab: &Lab, objectives: &Objectives, config: &Config, obs: &dyn Observer) -> Result<LabResult, RunError> {
    let vl = VirtualLab::provision(lab, config)?;
    let r = solve_on_observed(&vl, lab, objectives, obs);
    vl.teardown()?;
    Ok(r)
}

/// `--check`: each step's checks against the current state of a running lab, once each
/// (short deadline), in order.
pub fn check_on(
    vl: &VirtualLab,
    lab: &Lab,
    objectives: &Objectives,
    timeout: Duration,
) -> LabResult {
    check_on_observed(vl, lab, objectives, timeout, &Quiet)
}

/// [`check_on`], telling `obs` about each step.
pub fn check_on_observed(
    vl: &VirtualLab,
    lab: &Lab,
    objectives: &Objectives,
    timeout: Duration,
    obs: &dyn Observer,
) -> LabResult {
    let steps = lab
        .steps
        .iter()
        .map(|s| {
            let t0 = std::time::Instant::now();
            obs.step_started(s);
            let r = check_step(vl, lab, s, &mut Latches::new(s.checks.len()), timeout);
            obs.step_finished(&r, t0.elapsed());
            r
        })
        .collect();
    finish(lab, objectives, "check", steps)
}

/// One trial of the regression harness: a fresh lab, the reference solutions of the steps
/// before `index`, then step `index` (its solution, or a broken variant). Returns the step's
/// result; for a broken variant, `passed == true` means the checks wrongly accepted it.
pub fn trial(
    lab: &Lab,
    config: &Config,
    index: usize,
    broken: Option<&Broken>,
) -> Result<StepResult, RunError> {
    let vl = VirtualLab::provision(lab, config)?;
    let r = (|| -> Result<StepResult, RunError> {
        for s in &lab.steps[..index] {
            apply_solution(&vl, s)?;
            let r = check_step(
                &vl,
                lab,
                s,
                &mut Latches::new(s.checks.len()),
                Duration::from_secs_f64(s.timeout_secs),
            );
            if !r.passed {
                return Ok(StepResult {
                    error: Some(format!("earlier step {} failed", s.id)),
                    ..r
                });
            }
        }
        let step = &lab.steps[index];
        let timeout = match broken {
            None => {
                apply_solution(&vl, step)?;
                Duration::from_secs_f64(step.timeout_secs)
            }
            Some(b) => {
                run_actions(&vl, step, &b.run, false)?;
                record_answers(&vl, &b.answers)?;
                BROKEN_SETTLE.min(Duration::from_secs_f64(step.timeout_secs))
            }
        };
        Ok(check_step(
            &vl,
            lab,
            step,
            &mut Latches::new(step.checks.len()),
            timeout,
        ))
    })();
    let t = vl.teardown();
    let r = r?;
    t?;
    Ok(r)
}


/// Per-objective scores: each check counts toward its objectives (a quiz check toward its
/// item's objective), score = passed / total.
pub fn score(lab: &Lab, objectives: &Objectives, steps: &[StepResult]) -> Vec<ObjectiveScore> {
    let mut tally: BTreeMap<&str, (usize, usize)> = lab
        .objectives
        .iter()
        .map(|o| (o.as_str(), (0, 0)))
        .collect();
    for (step, r) in lab.steps.iter().zip(steps) {
        for (c, cr) in step.checks.iter().zip(&r.checks) {
            for o in lab.check_objectives(step, c, objectives) {
                let e = tally.entry(o).or_default();
                e.1 += 1;
                if cr.outcome.passed() {
                    e.0 += 1;
                }
            }
        }
    }
    lab.objectives
        .iter()
        .map(|o| {
            let (passed, total) = tally[o.as_str()];
            ObjectiveScore {
                objective: o.clone(),
                passed,
                total,
                score: if total == 0 {
                    0.0
                } else {
                    passed as f64 / total as f64
                },
            }
        })
        .collect()
}

pub fn finish(lab: &Lab, objectives: &Objectives, mode: &str, steps: Vec<StepResult>) -> LabResult {
    let objs = score(lab, objectives, &steps);
    LabResult {
        lab: lab.id.clone(),
        mode: mode.into(),
        passed: steps.iter().all(|s| s.passed),
        steps,
        objectives: objs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Lab;

    const OBJ: &str = "[[objective]]\nid = \"explain-x\"\nkind = \"explain\"\nzh = \"甲\"\nen = \"X\"\n[[objective]]\nid = \"do-y\"\nkind = \"do\"\nzh = \"乙\"\nen = \"Y\"\n";

    const LAB: &str = r#"id = "t"
title = { zh = "t", en = "t" }
intro = { zh = "t", en = "t" }
objectives = ["explain-x", "do-y"]
[[hosts]]
name = "vm1"
address = "10.1.1.11/24"
[[steps]]
id = "s1"
title = { zh = "t", en = "t" }
instructions = { zh = "t", en = "t" }
host = "vm1"
[[steps.checks]]
kind = "process"
host = "vm1"
cmdline = "a"
[[steps.checks]]
kind = "process"
host = "vm1"
cmdline = "b"
[[steps.checks]]
kind = "quiz"
item = "q"
[[steps.broken]]
name = "b"
why = "w"
[[quiz]]
id = "q"
objective = "explain-x"
question = { zh = "q", en = "q" }
choices = [{ zh = "a", en = "a" }, { zh = "b", en = "b" }]
answer = "a"
explanation = { zh = "e", en = "e" }
"#;

    #[test]
    fn quiz_checks_score_their_objective_other_checks_the_do_objectives() {
        let o = Objectives::parse(std::path::Path::new("o.toml"), OBJ).unwrap();
        let lab = Lab::parse(std::path::Path::new("lab.toml"), LAB, &o).unwrap();
        let steps = vec![step_result(
            &lab.steps[0],
            vec![
                Outcome::pass("x"),
                Outcome::fail("e", "o"),
                Outcome::pass("a"),
            ],
            None,
        )];
        let r = finish(&lab, &o, "check", steps);
        assert!(!r.passed);
        assert_eq!(
            (r.objectives[0].passed, r.objectives[0].total),
            (1, 1),
            "explain-x: the quiz"
        );
        assert_eq!(
            (r.objectives[1].passed, r.objectives[1].total),
            (1, 2),
            "do-y: the two process checks"
        );
        assert_eq!(r.objectives[1].score, 0.5);
    }
}
