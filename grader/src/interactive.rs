//! `cargo xtask lab <id>`: the guided mode. Hosts are provisioned (or a running lab is resumed),
//! each step is shown in both languages, a background poller announces a step as soon as its
//! checks hold (latched), and a small prompt offers shell/hint/check/next/solve/quiz/quit.

use crate::catalog::lab::letter;
use crate::catalog::{Lab, Objectives, QuizItem, Step, Text};
use crate::checks::{latch::Latches, CheckSpec, Outcome};
use crate::hosts::{Config, HostError, VirtualLab};
use crate::progress::{Progress, ProgressError};
use crate::report::terminal;
use crate::runner::{self, LabResult, RunError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
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
    /// Show quiz choices in a new order at every attempt (students); false keeps the written
    /// order, for scripted sessions that type fixed letters.
    pub shuffle_quiz: bool,
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
    // Quiz choices are shown in a new order at every attempt.
    let mut rng = opts.shuffle_quiz.then(quiz_rng);
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
            "quiz" => quiz(&vl, &lab, s, &mut progress, &mut rng, input, &out)?,
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

/// Environment variable that fixes the seed of a guided session's quiz shuffles (tests,
/// reproducible sessions); unset, every session shuffles differently.
pub const QUIZ_SEED_ENV: &str = "BERTH_QUIZ_SEED";

/// The random source of a session's quiz shuffles: seeded from `BERTH_QUIZ_SEED` when it holds
/// a number, from the OS otherwise.
pub fn quiz_rng() -> StdRng {
    seeded(std::env::var(QUIZ_SEED_ENV).ok().as_deref())
}

fn seeded(seed: Option<&str>) -> StdRng {
    match seed.and_then(|s| s.trim().parse::<u64>().ok()) {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    }
}

/// A quiz item as one attempt shows it: its choices in a shuffled order, lettered a, b, c… in
/// that order. What the student types is mapped back to the item's own (canonical) letters, so
/// recorded answers, checks and progress never see the shown letters.
#[derive(Debug, Clone, PartialEq)]
pub struct Shuffled {
    /// `order[k]` is the index in `choices` of the choice shown as the `k`th letter.
    pub order: Vec<usize>,
}

impl Shuffled {
    pub fn new(item: &QuizItem, rng: &mut impl Rng) -> Shuffled {
        let mut order: Vec<usize> = (0..item.choices.len()).collect();
        order.shuffle(rng);
        Shuffled { order }
    }

    /// The shown letters, a, b, c…
    pub fn letters(&self) -> Vec<String> {
        (0..self.order.len()).map(letter).collect()
    }

    /// The choice lines as shown: `  a) 中文 / English`.
    pub fn lines(&self, item: &QuizItem) -> Vec<String> {
        self.order
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let ch = &item.choices[i];
                format!("  {}) {} / {}", letter(k), ch.zh, ch.en)
            })
            .collect()
    }

    /// The canonical letter of the choice shown as `typed` (None if no choice is shown so).
    pub fn canonical(&self, typed: &str) -> Option<String> {
        let k = self.letters().iter().position(|l| l == typed)?;
        Some(letter(self.order[k]))
    }
}

/// Asks one quiz item in a fresh shuffled order until a shown letter is typed; returns the
/// canonical letter of the chosen answer, or None at the end of input.
fn ask(item: &QuizItem, rng: &mut impl Rng, input: &mut dyn BufRead, out: &Out) -> Option<String> {
    ask_in(item, Shuffled::new(item, rng), input, out)
}

/// [`ask`] with the choices in the order the lab wrote them.
fn ask_as_written(item: &QuizItem, input: &mut dyn BufRead, out: &Out) -> Option<String> {
    ask_in(item, Shuffled { order: (0..item.choices.len()).collect() }, input, out)
}

fn ask_in(item: &QuizItem, shown: Shuffled, input: &mut dyn BufRead, out: &Out) -> Option<String> {
    say(out, &format!("\n{}", both(&item.question)));
    for l in shown.lines(item) {
        say(out, &l);
    }
    let letters = shown.letters();
    loop {
        say(out, &format!("answer ({}):", letters.join("/")));
        let mut line = String::new();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if let Some(a) = shown.canonical(&line.trim().to_lowercase()) {
            return Some(a);
        }
    }
}

/// Tells whether `answer` (canonical) is right; after a right answer, the explanation. A wrong
/// answer reveals nothing: the student may try again (in a new order).
fn verdict(item: &QuizItem, answer: &str, out: &Out) {
    if answer == item.answer {
        say(out, "✔ right");
        say(out, &both(&item.explanation));
    } else {
        say(out, "✘ not right (you can answer again with `quiz`)");
    }
}

fn quiz(
    vl: &VirtualLab,
    lab: &Lab,
    s: &Step,
    progress: &mut Progress,
    rng: &mut Option<StdRng>,
    input: &mut dyn BufRead,
    out: &Out,
) -> Result<(), InteractiveError> {
    for c in &s.checks {
        let CheckSpec::Quiz(q) = c else { continue };
        let Some(item) = lab.quiz_item(&q.item) else {
            continue;
        };
        let answer = match rng {
            Some(rng) => ask(item, rng, input, out),
            None => ask_as_written(item, input, out),
        };
        let Some(answer) = answer else {
            return Ok(());
        };
        runner::record_answers(vl, &BTreeMap::from([(item.id.clone(), answer.clone())]))?;
        progress.answered(&lab.id, &item.id, &answer);
        verdict(item, &answer, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> QuizItem {
        let t = |s: &str| Text {
            zh: format!("{s}中"),
            en: s.to_string(),
        };
        QuizItem {
            id: "q".into(),
            objective: "o".into(),
            question: t("Q?"),
            choices: vec![t("zero"), t("one"), t("two"), t("three")],
            answer: "c".into(),
            explanation: t("because"),
        }
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn out() -> (Out, Buf) {
        let b = Buf::default();
        (Arc::new(Mutex::new(Box::new(b.clone()))), b)
    }

    fn text(b: &Buf) -> String {
        String::from_utf8(b.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_shuffle_is_a_permutation_and_maps_shown_letters_back() {
        let q = item();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let s = Shuffled::new(&q, &mut rng);
            let mut sorted = s.order.clone();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2, 3]);
            assert_eq!(s.letters(), ["a", "b", "c", "d"]);
            for (k, l) in s.letters().iter().enumerate() {
                assert_eq!(s.canonical(l), Some(letter(s.order[k])));
                assert!(s.lines(&q)[k].starts_with(&format!("  {l}) ")));
            }
            assert_eq!(s.canonical("e"), None);
            assert_eq!(s.canonical(""), None);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_orders_and_the_right_answer_moves() {
        let q = item();
        let orders = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..20)
                .map(|_| Shuffled::new(&q, &mut rng).order)
                .collect::<Vec<_>>()
        };
        assert_eq!(orders(3), orders(3));
        assert_ne!(orders(3), orders(4));
        // Where the right choice (canonical c = index 2) is shown: every position, over 20 tries.
        let positions: std::collections::BTreeSet<usize> = orders(3)
            .iter()
            .map(|o| o.iter().position(|&i| i == 2).unwrap())
            .collect();
        assert_eq!(positions.len(), 4, "{positions:?}");
    }

    #[test]
    fn the_student_answers_by_shown_letter_and_the_canonical_one_is_returned() {
        let q = item();
        let shown = Shuffled::new(&q, &mut StdRng::seed_from_u64(11));
        let k = shown.order.iter().position(|&i| i == 2).unwrap();
        // A wrong letter first, then the shown letter of the right choice.
        let input = format!("z\n{}\n", letter(k).to_uppercase());
        let (o, b) = out();
        let a = ask(
            &q,
            &mut StdRng::seed_from_u64(11),
            &mut input.as_bytes(),
            &o,
        );
        assert_eq!(a.as_deref(), Some("c"));
        let t = text(&b);
        assert!(t.contains("Q?中\nQ?"), "{t}");
        assert_eq!(t.matches("answer (a/b/c/d):").count(), 2, "{t}");
        let lines: Vec<&str> = t.lines().filter(|l| l.starts_with("  ")).collect();
        assert_eq!(lines, shown.lines(&q), "{t}");
        assert_eq!(lines[k], "  ".to_string() + &letter(k) + ") two中 / two");
        // End of input: no answer.
        let (o, _) = out();
        assert_eq!(
            ask(&q, &mut StdRng::seed_from_u64(1), &mut "".as_bytes(), &o),
            None
        );
    }

    #[test]
    fn the_explanation_follows_a_right_answer_only() {
        let q = item();
        let (o, b) = out();
        verdict(&q, "c", &o);
        assert_eq!(text(&b), "✔ right\nbecause中\nbecause\n");
        let (o, b) = out();
        verdict(&q, "a", &o);
        let t = text(&b);
        assert!(
            t.starts_with("✘ not right") && !t.contains("because"),
            "{t}"
        );
    }

    #[test]
    fn a_numeric_seed_fixes_the_shuffles() {
        let a = Shuffled::new(&item(), &mut seeded(Some("42")));
        assert_eq!(a, Shuffled::new(&item(), &mut seeded(Some(" 42\n"))));
        assert_eq!(a, Shuffled::new(&item(), &mut StdRng::seed_from_u64(42)));
        // No seed, or not a number: from the OS (some of 20 draws differ).
        let r: Vec<_> = (0..20)
            .map(|_| Shuffled::new(&item(), &mut seeded(Some("x"))))
            .collect();
        assert!(r.iter().any(|s| s != &r[0]));
        seeded(None);
    }
}
