//! `cargo xtask lab <id>`: the guided mode. Hosts are provisioned (or a running lab is resumed),
//! each step is shown in both languages, a background poller announces a step as soon as its
//! checks hold (latched), and a small prompt offers shell/hint/check/next/solve/quiz/quit.

use crate::catalog::{Lab, Objectives, Step, Text};
use crate::checks::{latch::Latches, CheckSpec, Outcome};
use crate::hosts::{Config, HostError, VirtualLab};
use crate::progress::{Progress, ProgressError};
use crate::report::terminal;
use crate::runner::{self, LabResult, RunError};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum InteractiveError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Progress(#[from] ProgressError),
}

pub type Out = Arc<Mutex<Box<dyn Write + Send>>>;

fn say(out: &Out, s: &str) {
    if let Ok(mut o) = out.lock() {
        let _ = writeln!(o, "{s}");
        let _ = o.flush();
    }
}

fn both(t: &Text) -> String {
    format!("{}\n{}", t.zh, t.en)
}

struct Poll {
    step: usize,
    latches: Latches,
    announced: bool,
}

pub struct Options {
    pub progress_path: PathBuf,
    /// Whether `shell` may open an interactive shell (false when scripted).
    pub allow_shell: bool,
    pub poll_interval: Duration,
}

const HELP: &str = "\
commands:
  shell [HOST]  open a shell on the step's host (or HOST); exit it to come back here
  show          show the current step again
  hint          show the next hint
  check         check the step now and show expected vs observed
  quiz          answer this step's quiz questions
  next          go to the next step (once this one has passed)
  skip          go to the next step without passing this one
  solve         run the reference solution of this step (no credit is lost, none is earned)
  quit          leave; the hosts keep running (`cargo xtask lab shell ID`, `cargo xtask lab reset ID`)";

pub fn run(
    lab: &Lab,
    objectives: &Objectives,
    config: &Config,
    opts: &Options,
    input: &mut dyn BufRead,
    out: Out,
) -> Result<Option<LabResult>, InteractiveError> {
    let mut progress = Progress::load(&opts.progress_path)?;
    let (vl, resumed) = match VirtualLab::provision(lab, config) {
        Ok(v) => (v, false),
        Err(HostError::AlreadyRunning(_)) => (VirtualLab::attach(config, &lab.id)?, true),
        Err(e) => return Err(e.into()),
    };
    let vl = Arc::new(vl);
    let lab = Arc::new(lab.clone());
    let mut step = 0;
    if resumed {
        let done = progress
            .labs
            .get(&lab.id)
            .map(|l| l.passed_steps.clone())
            .unwrap_or_default();
        step = lab
            .steps
            .iter()
            .position(|s| !done.contains(&s.id))
            .unwrap_or(lab.steps.len().saturating_sub(1));
        say(
            &out,
            &format!("resuming the running lab {} at step {}", lab.id, step + 1),
        );
    }
    say(
        &out,
        &format!("== {} ==\n{}\n", both(&lab.title), both(&lab.intro)),
    );
    let hosts: Vec<String> = vl
        .state
        .hosts
        .iter()
        .map(|h| format!("{} {}", h.name, h.address))
        .collect();
    say(&out, &format!("hosts: {}\n{HELP}\n", hosts.join(", ")));

    let poll = Arc::new(Mutex::new(Poll {
        step,
        latches: Latches::new(lab.steps[step].checks.len()),
        announced: false,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (poll, stop, vl, lab, out) = (
            poll.clone(),
            stop.clone(),
            vl.clone(),
            lab.clone(),
            out.clone(),
        );
        let every = opts.poll_interval;
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Ok(mut p) = poll.lock() {
                    if !p.announced {
                        let s = &lab.steps[p.step];
                        let ctx = runner::ctx_for(&vl, &lab, runner::load_answers(&vl));
                        let outcomes = p.latches.poll(&mut |i| s.checks[i].probe(&ctx));
                        if outcomes.iter().all(Outcome::passed) {
                            p.announced = true;
                            say(
                                &out,
                                &format!(
                                    "\n✔ step {} passed: {} — type `next`",
                                    p.step + 1,
                                    s.title.en
                                ),
                            );
                        }
                    }
                }
                std::thread::sleep(every);
            }
        })
    };

    show_step(&out, &lab, step);
    let mut hint = 0;
    let mut outcomes: Vec<Option<Vec<Outcome>>> = vec![None; lab.steps.len()];
    let mut finished = None;
    // Steps fast-forwarded with `solve` earn no credit.
    let mut solved = vec![false; lab.steps.len()];
    loop {
        {
            let o = out.lock();
            if let Ok(mut o) = o {
                let _ = write!(o, "lab {} [{}/{}]> ", lab.id, step + 1, lab.steps.len());
                let _ = o.flush();
            }
        }
        let mut line = String::new();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let s = &lab.steps[step];
        match cmd {
            "" => {}
            "help" | "?" => say(&out, HELP),
            "show" => show_step(&out, &lab, step),
            "hint" => match s.hints.get(hint) {
                Some(h) => {
                    say(
                        &out,
                        &format!("hint {}/{}: {}", hint + 1, s.hints.len(), both(h)),
                    );
                    hint += 1;
                }
                None => say(
                    &out,
                    "no more hints for this step; `check` shows what is still missing",
                ),
            },
            "shell" => {
                let host = words.next().unwrap_or(&s.host);
                if !opts.allow_shell {
                    say(&out, "shell is not available in this session");
                } else if let Err(e) = vl.shell(host) {
                    say(&out, &format!("✘ {e}"));
                }
            }
            "check" => {
                let r = check_now(&vl, &lab, s, &poll);
                say(&out, &terminal::step(&r));
            }
            "quiz" => quiz(&vl, &lab, s, &mut progress, input, &out)?,
            "solve" => match runner::apply_solution(&vl, s) {
                Ok(()) => {
                    solved[step] = true;
                    let r = {
                        let mut p = poll.lock().expect("poll lock");
                        runner::check_step(
                            &vl,
                            &lab,
                            s,
                            &mut p.latches,
                            Duration::from_secs_f64(s.timeout_secs),
                        )
                    };
                    say(&out, &terminal::step(&r));
                }
                Err(e) => say(&out, &format!("✘ {e}")),
            },
            "next" | "skip" => {
                let r = check_now(&vl, &lab, s, &poll);
                if !r.passed && cmd == "next" {
                    say(&out, "this step has not passed yet (`check` shows what is missing, `skip` moves on anyway)");
                    continue;
                }
                if r.passed && !solved[step] {
                    progress.step_passed(&lab.id, &s.id);
                    progress.save(&opts.progress_path)?;
                }
                outcomes[step] = Some(if solved[step] {
                    r.checks
                        .iter()
                        .map(|_| {
                            Outcome::fail("(solved by the student)", "fast-forwarded with `solve`")
                        })
                        .collect()
                } else {
                    r.checks.iter().map(|c| c.outcome.clone()).collect()
                });
                if step + 1 == lab.steps.len() {
                    let steps = lab
                        .steps
                        .iter()
                        .zip(&outcomes)
                        .map(|(st, o)| {
                            let o = o.clone().unwrap_or_else(|| {
                                st.checks
                                    .iter()
                                    .map(|_| Outcome::fail("(skipped)", "step skipped"))
                                    .collect()
                            });
                            runner::StepResult {
                                step: st.id.clone(),
                                passed: o.iter().all(Outcome::passed),
                                checks: st
                                    .checks
                                    .iter()
                                    .zip(o)
                                    .map(|(c, outcome)| runner::CheckResult {
                                        kind: c.kind().into(),
                                        description: c.describe(),
                                        outcome,
                                    })
                                    .collect(),
                                error: None,
                                notes: vec![],
                            }
                        })
                        .collect();
                    let result = runner::finish(&lab, objectives, "interactive", steps);
                    progress.record(&result);
                    progress.save(&opts.progress_path)?;
                    say(
                        &out,
                        &format!(
                            "\nlab {} finished.\n{}",
                            lab.id,
                            progress.checklist(objectives, false)
                        ),
                    );
                    finished = Some(result);
                    break;
                }
                step += 1;
                hint = 0;
                *poll.lock().expect("poll lock") = Poll {
                    step,
                    latches: Latches::new(lab.steps[step].checks.len()),
                    announced: false,
                };
                show_step(&out, &lab, step);
            }
            "quit" | "exit" => break,
            other => say(
                &out,
                &format!("unknown command {other:?}; `help` lists them"),
            ),
        }
    }
    stop.store(true, Ordering::SeqCst);
    let _ = poller.join();
    if finished.is_none() {
        say(&out, &format!("hosts keep running: `cargo xtask lab shell {0}` to get back in, `cargo xtask lab reset {0}` to remove them", lab.id));
    }
    Ok(finished)
}

fn show_step(out: &Out, lab: &Lab, i: usize) {
    let s = &lab.steps[i];
    say(
        out,
        &format!(
            "\n-- step {}/{}: {} / {} --\n{}\n(host: {}; type `shell` to work on it)",
            i + 1,
            lab.steps.len(),
            s.title.zh,
            s.title.en,
            both(&s.instructions),
            s.host
        ),
    );
    if s.checks.iter().any(|c| matches!(c, CheckSpec::Quiz(_))) {
        say(out, "this step has quiz questions: type `quiz`");
    }
}

fn check_now(vl: &VirtualLab, lab: &Lab, s: &Step, poll: &Mutex<Poll>) -> runner::StepResult {
    let mut p = poll.lock().expect("poll lock");
    runner::check_step(vl, lab, s, &mut p.latches, Duration::ZERO)
}

fn quiz(
    vl: &VirtualLab,
    lab: &Lab,
    s: &Step,
    progress: &mut Progress,
    input: &mut dyn BufRead,
    out: &Out,
) -> Result<(), InteractiveError> {
    for c in &s.checks {
        let CheckSpec::Quiz(q) = c else { continue };
        let Some(item) = lab.quiz_item(&q.item) else {
            continue;
        };
        say(out, &format!("\n{}", both(&item.question)));
        for (l, ch) in item.letters().zip(&item.choices) {
            say(out, &format!("  {l}) {} / {}", ch.zh, ch.en));
        }
        let letters: Vec<String> = item.letters().collect();
        let answer = loop {
            say(out, &format!("answer ({}):", letters.join("/")));
            let mut line = String::new();
            if input.read_line(&mut line).unwrap_or(0) == 0 {
                return Ok(());
            }
            let a = line.trim().to_lowercase();
            if letters.contains(&a) {
                break a;
            }
        };
        runner::record_answers(vl, &BTreeMap::from([(item.id.clone(), answer.clone())]))?;
        progress.answered(&lab.id, &item.id, &answer);
        let right = answer == item.answer;
        say(
            out,
            if right {
                "✔ right"
            } else {
                "✘ not right (you can answer again with `quiz`)"
            },
        );
        if right {
            if let Some(e) = &item.explanation {
                say(out, &both(e));
            }
        }
    }
    Ok(())
}
