//! `cargo xtask …`: the one entry point for people (students, instructors, CI).

mod bench;
mod ci;
mod fixtures;
mod lab;

use anyhow::{bail, Result};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("fixtures") => fixtures::build_all().map(|_| ()),
        Some("lab") => lab::run(&args[1..]),
        Some("help") | Some("--help") | Some("-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

const USAGE: &str = "\
usage: cargo xtask COMMAND

commands:
  ci          install the Debian packages the tests need, build fixtures, run the whole test suite
  bench WHAT  run a benchmark (runtime, run, images, pull)
  lab …       the labs: list, ID [--solve|--check|--report json|junit], shell ID [HOST], reset [ID]
  fixtures    build the offline fixtures (busybox root filesystem, images) into target/fixtures
";

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}
