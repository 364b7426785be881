//! `cargo xtask lab …`: students, instructors and CI drive the lab platform (berth-grader).
//!
//! Before anything is provisioned, the command makes sure the machine has what labs need
//! (`deps.rs`: Debian packages installed with apt-get; `docker_cli.rs`: a docker CLI), builds
//! berth's binaries (cargo's own progress) and the fixture images, and shows each provisioning
//! phase and each step live with its time.

use crate::progress::{secs, Phases};
use anyhow::{bail, Context, Result};
use berth_grader::catalog::{Catalog, Lab, Step};
use berth_grader::hosts::{self, Config, VirtualLab};
use berth_grader::progress::Progress;
use berth_grader::report;
use berth_grader::runner::{self, Observer, StepResult};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_value_name = "ID|COMMAND")]
#[command(after_help = "Without --solve or --check, ID opens the guided mode: a shell on the lab's first host, \
hints, live checks and a quiz (type `help` there).\n\nExamples:\n  cargo xtask lab list\n  cargo xtask lab 8-overlay2\n  \
cargo xtask lab 8-overlay2 --solve --report html --out report.html\n  cargo xtask lab shell 5-images vm2\n  cargo xtask lab reset")]
pub struct LabArgs {
    #[command(subcommand)]
    pub cmd: Option<LabCmd>,
    /// The lab to run (`cargo xtask lab list` shows them)
    pub id: Option<String>,
    /// Replay the reference solution and check every step
    #[arg(long, conflicts_with = "check")]
    pub solve: bool,
    /// Check the running lab's current state (started in another terminal)
    #[arg(long)]
    pub check: bool,
    /// Also write a machine-readable report (implies --check without --solve)
    #[arg(long, value_name = "FORMAT", value_parser = ["json", "junit", "csv", "html"])]
    pub report: Option<String>,
    /// Write the report to FILE instead of standard output
    #[arg(long, value_name = "FILE", requires = "report")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug)]
pub struct Common {
    /// The objective checklist file
    #[arg(long, global = true, value_name = "FILE", env = "BERTH_LAB_PROGRESS", hide_env_values = true)]
    pub progress: Option<PathBuf>,
    /// Where running labs keep their state
    #[arg(long, global = true, value_name = "DIR", env = "BERTH_LAB_STATE", hide_env_values = true)]
    pub state: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum LabCmd {
    /// The catalog, the objective checklist, and which labs and steps prove each objective
    List,
    /// Another shell on a running lab's host
    Shell {
        /// The running lab
        id: String,
        /// The host (default: the lab's first host)
        host: Option<String>,
    },
    /// Remove every trace of one lab, or of all labs
    Reset {
        /// The lab (default: all)
        id: Option<String>,
    },
}

impl Common {
    fn progress(&self) -> PathBuf {
        self.progress.clone().unwrap_or_else(|| crate::workspace_root().join("target/lab-progress.json"))
    }
    fn state(&self) -> PathBuf {
        self.state.clone().unwrap_or_else(|| crate::workspace_root().join("target/labs"))
    }
}

/// The catalog, plus the platform self-test lab (loadable by id, not listed as a course lab).
pub(crate) fn catalog() -> Result<(Catalog, Vec<Lab>)> {
    let root = crate::workspace_root();
    // `$BERTH_LABS`: another catalog (a lab being written, with a scratch copy of labs/).
    let labs = std::env::var_os("BERTH_LABS").map(PathBuf::from).unwrap_or_else(|| root.join("labs"));
    let catalog = Catalog::load(&labs).map_err(|e| anyhow::anyhow!("{e}"))?;
    let selftest = root.join("grader/tests/fixtures/selftest/lab.toml");
    let extra = match Lab::load(&selftest, &catalog.objectives) {
        Ok(l) => vec![l],
        Err(e) => bail!("{e}"),
    };
    Ok((catalog, extra))
}

fn find<'a>(catalog: &'a Catalog, extra: &'a [Lab], id: &str) -> Result<&'a Lab> {
    if let Some(l) = catalog.lab(id).or_else(|| extra.iter().find(|l| l.id == id)) {
        return Ok(l);
    }
    let all = catalog.labs.iter().chain(extra).map(|l| l.id.as_str());
    let close = berth_grader::catalog::close_matches(all, id);
    let hint = if close.is_empty() { String::new() } else { format!("; did you mean {}?", close.join(", ")) };
    let ids: Vec<&str> = catalog.labs.iter().map(|l| l.id.as_str()).collect();
    bail!("there is no lab {id:?}{hint}\nthe labs: {}", ids.join(", "))
}

/// A progress file that does not parse is moved aside (`<file>.corrupt-<time>`) with a message,
/// so one bad write never locks a student out of the labs; the checklist starts anew.
fn load_progress(path: &std::path::Path) -> Result<Progress> {
    match Progress::load(path) {
        Ok(p) => Ok(p),
        Err(e @ berth_grader::progress::ProgressError::Corrupt { .. }) => {
            let aside = path.with_extension(format!("json.corrupt-{}", chrono_stamp()));
            std::fs::rename(path, &aside).with_context(|| format!("moving {} aside", path.display()))?;
            eprintln!("xtask: {e}\nxtask: moved it aside to {}; your checklist starts anew", aside.display());
            Ok(Progress::default())
        }
        Err(e) => Err(e.into()),
    }
}

fn chrono_stamp() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Builds what a lab host runs (fast when up to date, with cargo's own progress otherwise): the
/// berth-lab-host helper, berthd and the berth CLI, all shown to hosts from the same directory;
/// returns the helper's path.
fn helper() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_LAB_HOST") {
        return Ok(p.into());
    }
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let bins = ["berth-lab-host", "berthd", "berth"];
    let target = crate::target_dir();
    let fresh = !bins.iter().all(|b| target.join("debug").join(b).is_file());
    if fresh {
        eprintln!("building berth (berthd, the berth CLI and the lab host helper; the first build takes a few minutes)…");
    }
    // The same build as `cargo xtask ci`'s (`--workspace --bins`): building only these packages
    // unifies dependency features differently, and the two builds would keep undoing each other
    // (a minute of recompiling berth at every switch).
    let st = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--workspace", "--bins"])
        // Up to date: cargo says one line; otherwise its progress bar is the progress.
        .args(if fresh { &[][..] } else { &["--quiet"][..] })
        .status()
        .context("building berth-lab-host, berthd and berth")?;
    if !st.success() {
        bail!("building berth-lab-host, berthd and berth failed ({st})");
    }
    Ok(target.join("debug/berth-lab-host"))
}

fn need_root() -> Result<()> {
    if !nix_is_root() {
        bail!("labs need root (they create namespaces, mounts and cgroups): run as root");
    }
    Ok(())
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Everything a lab run needs on the machine, in order: Debian packages, berth's binaries, the
/// docker CLI beside them, and the fixture images (only the lab's, or all when it has a hub).
/// Up-to-date fixtures are not re-checked (that takes seconds).
pub(crate) fn prepare(common: &Common, lab: Option<&Lab>, provision: Option<&str>) -> Result<Config> {
    crate::deps::ensure(&crate::deps::for_need(crate::deps::Need::Labs))?;
    let helper = helper()?;
    if std::env::var_os("BERTH_LAB_HOST").is_none() {
        crate::docker_cli::ensure(&crate::target_dir().join("debug"))?;
    }
    let mut c = Config::new(common.state(), helper);
    let dir = crate::fixtures::fixtures_dir().join("images");
    if let Some(lab) = lab {
        // A lab hub serves every fixture image: then all of them are needed.
        let recipes: Vec<String> = if lab.hub_host().is_some() {
            std::fs::read_dir(crate::fixtures::recipes::recipes_dir())
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".toml").map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            vec![]
        };
        let missing = std::iter::once("busybox")
            .chain(lab.hosts.iter().flat_map(|h| h.images.iter().map(String::as_str)))
            .chain(recipes.iter().map(String::as_str))
            .any(|i| !dir.join(format!("{i}.tar")).is_file())
            // The hub also serves the package repository.
            || (lab.hub_host().is_some()
                && crate::fixtures::apt_repo::spec_path().is_file()
                && !crate::fixtures::apt_repo::dir(&crate::fixtures::fixtures_dir()).is_dir());
        if missing {
            let p = Phases::new("fixtures");
            p.phase("building the fixture images from Debian packages (once)");
            match crate::fixtures::build_all() {
                Ok(_) => p.done(),
                Err(e) => {
                    p.failed();
                    return Err(e);
                }
            }
        }
    }
    c.images_dir = Some(dir);
    if let Some(heading) = provision {
        // Created on the first phase, so nothing spins before provisioning starts.
        let heading = heading.to_string();
        let phases: std::sync::Mutex<Option<Phases>> = std::sync::Mutex::new(None);
        c.progress = hosts::Progress::new(move |what| {
            let mut p = phases.lock().unwrap_or_else(|e| e.into_inner());
            match what {
                Some(w) => p.get_or_insert_with(|| Phases::new(&heading)).phase(w),
                None => {
                    if let Some(p) = p.take() {
                        p.done()
                    }
                }
            }
        });
    }
    Ok(c)
}

/// Prints each step as it ends, with its checks and its time (the terminal report, live);
/// shows the running step on a spinner meanwhile.
struct Live {
    phases: Phases,
    /// Full check lines on stdout (terminal report), or one line per step on stderr.
    verbose: bool,
}

impl Observer for Live {
    fn step_started(&self, step: &Step) {
        self.phases.phase(&format!("step {}: {}", step.id, step.title.en));
    }
    fn step_finished(&self, r: &StepResult, took: Duration) {
        // The step's own line replaces the phase's generic one.
        self.phases.clear_current();
        if self.verbose {
            let text = report::terminal::step(r);
            let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
            self.phases.out(&format!("{head} ({})\n{rest}", secs(took)));
        } else {
            self.phases.line(&format!("{} step {} ({})", if r.passed { "✔" } else { "✘" }, r.step, secs(took)));
        }
    }
}

pub fn run(a: LabArgs) -> Result<()> {
    let progress_file = a.common.progress();
    match (&a.cmd, &a.id) {
        (None, None) => {
            use clap::CommandFactory;
            let mut c = crate::Cli::command();
            c.find_subcommand_mut("lab").expect("lab").print_help()?;
            Ok(())
        }
        (Some(LabCmd::List), _) => list(&progress_file),
        (Some(LabCmd::Reset { id }), _) => {
            need_root()?;
            let cfg = Config::new(a.common.state(), PathBuf::new());
            match id {
                Some(id) => {
                    hosts::reset(&cfg, id)?;
                    println!("lab {id}: reset (no process, mount, network namespace or cgroup left)");
                }
                None => {
                    let ids = hosts::reset_all(&cfg)?;
                    for what in hosts::reset_orphans(&cfg) {
                        println!("removed {what}");
                    }
                    let names = if ids.is_empty() { String::new() } else { format!(": {}", ids.join(", ")) };
                    println!("reset {} lab(s){names}", ids.len());
                }
            }
            Ok(())
        }
        (Some(LabCmd::Shell { id, host }), _) => {
            need_root()?;
            let (catalog, extra) = catalog()?;
            let lab = find(&catalog, &extra, id)?;
            let vl = VirtualLab::attach(&prepare(&a.common, None, None)?, id)?;
            let host = host.clone().unwrap_or_else(|| lab.hosts[0].name.clone());
            let code = vl.shell(&host)?;
            std::process::exit(code);
        }
        (None, Some(id)) => {
            let (catalog, extra) = catalog()?;
            let lab = find(&catalog, &extra, id)?;
            need_root()?;
            load_progress(&progress_file)?;
            if a.solve || a.check || a.report.is_some() {
                return solve_or_check(&a, lab, &catalog, &progress_file);
            }
            let cfg = prepare(&a.common, Some(lab), Some(&format!("provisioning {id}:")))?;
            let opts = berth_grader::interactive::Options {
                progress_path: progress_file.clone(),
                allow_shell: true,
                poll_interval: Duration::from_secs(1),
                shuffle_quiz: true,
            };
            let out: berth_grader::interactive::Out = std::sync::Arc::new(std::sync::Mutex::new(Box::new(std::io::stdout())));
            let stdin = std::io::stdin();
            berth_grader::interactive::run(lab, &catalog.objectives, &cfg, &opts, &mut stdin.lock(), out)?;
            Ok(())
        }
    }
}

fn solve_or_check(a: &LabArgs, lab: &Lab, catalog: &Catalog, progress_file: &std::path::Path) -> Result<()> {
    let t0 = std::time::Instant::now();
    // With a report on stdout, live progress goes to stderr, one line a step.
    let verbose = a.report.is_none() || a.out.is_some();
    let r = if a.solve {
        let cfg = prepare(&a.common, Some(lab), Some(&format!("provisioning {}:", lab.id)))?;
        let vl = VirtualLab::provision(lab, &cfg)?;
        let live = Live { phases: Phases::new(&format!("solving {}:", lab.id)), verbose };
        let r = runner::solve_on_observed(&vl, lab, &catalog.objectives, &live);
        live.phases.clear_current();
        live.phases.phase("teardown (processes, mounts, namespaces, cgroups)");
        let td = vl.teardown();
        live.phases.done();
        td?;
        r
    } else {
        // --check attaches to a running lab: nothing to build or load.
        let cfg = prepare(&a.common, None, None)?;
        let vl = VirtualLab::attach(&cfg, &lab.id)?;
        let live = Live { phases: Phases::new(&format!("checking {}:", lab.id)), verbose };
        let r = runner::check_on_observed(&vl, lab, &catalog.objectives, Duration::from_secs(2), &live);
        live.phases.done();
        let mut p = load_progress(progress_file)?;
        p.record(&r);
        p.save(progress_file)?;
        r
    };
    if verbose {
        // The steps were printed live; the summary follows.
        let full = report::terminal::lab(&r);
        let summary = full.find("objectives:\n").map(|i| &full[i..]).unwrap_or("");
        println!("lab {} ({}): {} in {}", r.lab, r.mode, if r.passed { "passed" } else { "FAILED" }, secs(t0.elapsed()));
        print!("{summary}");
    }
    if let Some(format) = &a.report {
        let text = report::render(format, &r).with_context(|| format!("unknown report format {format}"))?;
        match &a.out {
            Some(f) => {
                std::fs::write(f, text).with_context(|| format!("writing {}", f.display()))?;
                println!("{format} report written to {}", f.display());
            }
            None => print!("{text}"),
        }
    }
    if !r.passed {
        std::process::exit(1);
    }
    Ok(())
}

fn list(progress_file: &std::path::Path) -> Result<()> {
    let (catalog, extra) = catalog()?;
    let progress = load_progress(progress_file)?;
    print!("{}", render_list(&catalog, &extra, &progress, progress_file));
    Ok(())
}

/// `lab list`'s text (a function of the catalog and the progress, snapshot-tested).
fn render_list(catalog: &Catalog, extra: &[Lab], progress: &Progress, progress_file: &std::path::Path) -> String {
    let mut s = String::from("labs:\n");
    for l in &catalog.labs {
        let done = progress.labs.get(&l.id).map(|p| p.completed).unwrap_or(false);
        s += &format!("  {} {:<24} {} / {}\n", if done { "☑" } else { "☐" }, l.id, l.title.zh, l.title.en);
    }
    if catalog.labs.is_empty() {
        s += "  (none yet: the course labs arrive with the engine)\n";
    }
    for l in extra {
        s += &format!("  platform: {:<24} {}\n", l.id, l.title.en);
    }
    s += &format!("\nobjectives ({}):\n", progress_file.display());
    s += &progress.checklist(&catalog.objectives, true);
    s += "\nwhere each objective is proven (lab: steps whose checks count toward it):\n";
    let provers = catalog.provers();
    for o in &catalog.objectives.list {
        let by = provers.get(&o.id).map(Vec::as_slice).unwrap_or_default();
        s += &format!("  {}\n", o.id);
        if by.is_empty() {
            s += "      (no lab yet)\n";
        }
        let mut labs: Vec<(&str, Vec<&str>)> = vec![];
        for (lab, step) in by {
            match labs.last_mut() {
                Some((l, steps)) if l == lab => steps.push(step),
                _ => labs.push((lab, vec![step])),
            }
        }
        for (lab, steps) in labs {
            s += &format!("      {lab}: {}\n", steps.join(", "));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a student reads from `cargo xtask lab list` on a fresh checkout.
    #[test]
    fn list_snapshot() {
        let (catalog, extra) = catalog().unwrap();
        let text = render_list(&catalog, &extra, &Progress::default(), std::path::Path::new("target/lab-progress.json"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn unknown_lab_lists_the_ids() {
        let (catalog, extra) = catalog().unwrap();
        let e = find(&catalog, &extra, "8-overlay").unwrap_err().to_string();
        assert!(e.starts_with("there is no lab \"8-overlay\"; did you mean 8-overlay2?"), "{e}");
        assert!(e.contains("the labs: 1-containers-vs-vms, 2-kernel"), "{e}");
    }

    #[test]
    fn corrupt_progress_is_moved_aside() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("p.json");
        std::fs::write(&f, b"{ not json").unwrap();
        let p = load_progress(&f).unwrap();
        assert_eq!(p, Progress::default());
        assert!(!f.exists());
        let aside: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        assert!(aside.len() == 1 && aside[0].starts_with("p.json.corrupt-"), "{aside:?}");
    }
}
