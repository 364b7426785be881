//! `cargo xtask lab …`: students, instructors and CI drive the lab platform (berth-grader).
//!
//!   lab list                      the catalog and the objective checklist
//!   lab ID                        guided mode (hosts, shell, hints, checks, quiz)
//!   lab ID --solve                replay the reference solution, check every step
//!   lab ID --check                check the running lab's current state
//!   lab ID --report json|junit    machine-readable results (with --check or --solve)
//!   lab shell ID [HOST]           another shell on a running lab's host
//!   lab reset [ID]                remove every trace of one lab, or of all
//!
//! Options: --progress FILE (default target/lab-progress.json, or $BERTH_LAB_PROGRESS),
//! --state DIR (default target/labs, or $BERTH_LAB_STATE).

use anyhow::{bail, Context, Result};
use berth_grader::catalog::{Catalog, Lab};
use berth_grader::hosts::{self, Config, VirtualLab};
use berth_grader::progress::Progress;
use berth_grader::report;
use berth_grader::runner;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

struct Opts {
    positional: Vec<String>,
    solve: bool,
    check: bool,
    report: Option<String>,
    progress: PathBuf,
    state: PathBuf,
}

fn parse(args: &[String]) -> Result<Opts> {
    let root = crate::workspace_root();
    let mut o = Opts {
        positional: vec![],
        solve: false,
        check: false,
        report: None,
        progress: std::env::var_os("BERTH_LAB_PROGRESS")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/lab-progress.json")),
        state: std::env::var_os("BERTH_LAB_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/labs")),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--solve" => o.solve = true,
            "--check" => o.check = true,
            "--report" => {
                o.report = Some(it.next().context("--report needs json or junit")?.clone())
            }
            "--progress" => o.progress = it.next().context("--progress needs a file")?.into(),
            "--state" => o.state = it.next().context("--state needs a directory")?.into(),
            s if s.starts_with("--") => bail!("unknown option {s}\n{USAGE}"),
            s => o.positional.push(s.to_string()),
        }
    }
    if let Some(r) = &o.report {
        if r != "json" && r != "junit" {
            bail!("--report takes json or junit, not {r:?}");
        }
    }
    Ok(o)
}

pub const USAGE: &str = "\
usage: cargo xtask lab list | ID [--solve|--check] [--report json|junit] | shell ID [HOST] | reset [ID]
       options: --progress FILE  --state DIR
";

/// The catalog, plus the platform self-test lab (loadable by id, not listed as a course lab).
fn catalog() -> Result<(Catalog, Vec<Lab>)> {
    let root = crate::workspace_root();
    let catalog = Catalog::load(&root.join("labs")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let selftest = root.join("grader/tests/fixtures/selftest/lab.toml");
    let extra = match Lab::load(&selftest, &catalog.objectives) {
        Ok(l) => vec![l],
        Err(e) => bail!("{e}"),
    };
    Ok((catalog, extra))
}

fn find<'a>(catalog: &'a Catalog, extra: &'a [Lab], id: &str) -> Result<&'a Lab> {
    if let Some(l) = catalog
        .lab(id)
        .or_else(|| extra.iter().find(|l| l.id == id))
    {
        return Ok(l);
    }
    let all = catalog.labs.iter().chain(extra).map(|l| l.id.as_str());
    let close = berth_grader::catalog::close_matches(all, id);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    };
    bail!("there is no lab {id:?}{hint} (`cargo xtask lab list` shows them all)")
}

/// Builds what a lab host runs (fast when up to date): the berth-lab-host helper, berthd and
/// the berth CLI, all shown to hosts from the same directory; returns the helper's path.
fn helper() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_LAB_HOST") {
        return Ok(p.into());
    }
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "-q",
            "-p",
            "berth-grader",
            "-p",
            "berth",
            "--bin",
            "berth-lab-host",
            "--bin",
            "berthd",
            "--bin",
            "berth",
        ])
        .status()
        .context("building berth-lab-host, berthd and berth")?;
    if !st.success() {
        bail!("building berth-lab-host, berthd and berth failed ({st})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug/berth-lab-host"))
}

fn need_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        bail!("labs need root (they create namespaces, mounts and cgroups): run as root");
    }
    Ok(())
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// The fixture images, built when the lab needs one that is missing (a clean checkout): the
/// images its hosts load, busybox, which labs may ask the student to `docker load` from
/// /run/berth-lab/images, and every image when the lab has a hub (it serves them all; its
/// registry storage is built once per fixture set in target/hub). Up-to-date fixtures are not
/// re-checked (that takes seconds).
fn config(o: &Opts, lab: Option<&Lab>) -> Result<Config> {
    let mut c = Config::new(&o.state, helper()?);
    let dir = crate::fixtures::fixtures_dir().join("images");
    if let Some(lab) = lab {
        // A lab hub serves every fixture image: then all of them are needed.
        let recipes: Vec<String> = if lab.hub_host().is_some() {
            std::fs::read_dir(crate::workspace_root().join("fixtures"))
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|e| {
                            let n = e.file_name().to_string_lossy().into_owned();
                            n.strip_suffix(".toml").map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default()
        } else {
            vec![]
        };
        let missing = std::iter::once("busybox")
            .chain(
                lab.hosts
                    .iter()
                    .flat_map(|h| h.images.iter().map(String::as_str)),
            )
            .chain(recipes.iter().map(String::as_str))
            .any(|i| !dir.join(format!("{i}.tar")).is_file());
        if missing {
            eprintln!("building the fixture images (once)…");
            crate::fixtures::build_all()?;
        }
    }
    c.images_dir = Some(dir);
    Ok(c)
}

pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    match o.positional.first().map(String::as_str) {
        None | Some("help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some("list") => list(&o),
        Some("reset") => {
            need_root()?;
            let cfg = Config::new(&o.state, PathBuf::new());
            match o.positional.get(1) {
                Some(id) => {
                    hosts::reset(&cfg, id)?;
                    println!(
                        "lab {id}: reset (no process, mount, network namespace or cgroup left)"
                    );
                }
                None => {
                    let ids = hosts::reset_all(&cfg)?;
                    for what in hosts::reset_orphans(&cfg) {
                        println!("removed {what}");
                    }
                    println!(
                        "reset {} lab(s){}",
                        ids.len(),
                        if ids.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", ids.join(", "))
                        }
                    );
                }
            }
            Ok(())
        }
        Some("shell") => {
            need_root()?;
            let id = o
                .positional
                .get(1)
                .context("usage: cargo xtask lab shell ID [HOST]")?;
            let (catalog, extra) = catalog()?;
            let lab = find(&catalog, &extra, id)?;
            let vl = VirtualLab::attach(&config(&o, None)?, id)?;
            let host = o
                .positional
                .get(2)
                .cloned()
                .unwrap_or_else(|| lab.hosts[0].name.clone());
            let code = vl.shell(&host)?;
            std::process::exit(code);
        }
        Some(id) => {
            need_root()?;
            let (catalog, extra) = catalog()?;
            let lab = find(&catalog, &extra, id)?;
            // --check attaches to a running lab: nothing to build or load.
            let cfg = if o.solve || !(o.check || o.report.is_some()) {
                config(&o, Some(lab))?
            } else {
                config(&o, None)?
            };
            if o.solve || o.check || o.report.is_some() {
                let r = if o.solve {
                    runner::solve(lab, &catalog.objectives, &cfg)?
                } else {
                    let vl = VirtualLab::attach(&cfg, id)?;
                    let r = runner::check_on(&vl, lab, &catalog.objectives, Duration::from_secs(2));
                    let mut p = Progress::load(&o.progress)?;
                    p.record(&r);
                    p.save(&o.progress)?;
                    r
                };
                match o.report.as_deref() {
                    Some("json") => println!("{}", report::json::render(&r)),
                    Some("junit") => print!("{}", report::junit::render(&r)),
                    _ => print!("{}", report::terminal::lab(&r)),
                }
                if !r.passed {
                    std::process::exit(1);
                }
                return Ok(());
            }
            let opts = berth_grader::interactive::Options {
                progress_path: o.progress.clone(),
                allow_shell: true,
                poll_interval: Duration::from_secs(1),
            };
            let out: berth_grader::interactive::Out =
                std::sync::Arc::new(std::sync::Mutex::new(Box::new(std::io::stdout())));
            let stdin = std::io::stdin();
            berth_grader::interactive::run(
                lab,
                &catalog.objectives,
                &cfg,
                &opts,
                &mut stdin.lock(),
                out,
            )?;
            Ok(())
        }
    }
}

fn list(o: &Opts) -> Result<()> {
    let (catalog, extra) = catalog()?;
    let progress = Progress::load(&o.progress)?;
    println!("labs:");
    for l in &catalog.labs {
        let done = progress
            .labs
            .get(&l.id)
            .map(|p| p.completed)
            .unwrap_or(false);
        println!(
            "  {} {:<24} {} / {}",
            if done { "☑" } else { "☐" },
            l.id,
            l.title.zh,
            l.title.en
        );
    }
    if catalog.labs.is_empty() {
        println!("  (none yet: the course labs arrive with the engine)");
    }
    for l in &extra {
        println!("  platform: {:<24} {}", l.id, l.title.en);
    }
    println!("\nobjectives ({}):", o.progress.display());
    print!("{}", progress.checklist(&catalog.objectives, true));
    Ok(())
}
