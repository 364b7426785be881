//! `cargo xtask …`: the one entry point for people (students, instructors, CI).

mod bench;
mod ci;
mod deps;
mod docker_cli;
mod docker_oracle;
mod fixtures;
mod fresh;
mod lab;
mod progress;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// berth's tasks: run a lab, run the tests, build fixtures, benchmark.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Install the Debian packages the tests need, build fixtures, run the whole test suite
    Ci {
        /// Passed to `cargo test --workspace` (e.g. `-- --test-threads 1`)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a benchmark: runtime, run, images, pull, net, labs
    Bench {
        /// The benchmark and its options
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Build the offline fixtures (busybox root filesystem, images, the hub's package repository) into target/fixtures
    Fixtures {
        /// Also print each fixture's size and rebuild time, and the lab hub's provisioning times
        #[arg(long)]
        stats: bool,
    },
    /// The labs: list, run one (guided, --solve, --check), shell, reset
    Lab(lab::LabArgs),
    /// Unpack Docker 20.10 (dockerd, containerd, runc) from Debian for the tests' oracle; print its dir
    DockerOracle,
    /// Run a lab's --solve on a debootstrapped Debian 12 root that has none of berth's packages
    FreshMachine {
        /// The lab
        #[arg(default_value = "8-overlay2")]
        lab: String,
        /// No package registry reachable: the command must fail cleanly and install nothing
        #[arg(long, conflicts_with = "no_apt")]
        offline: bool,
        /// No apt-get: the command must say what to install by hand
        #[arg(long)]
        no_apt: bool,
    },
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Err(e) = run(cli) {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Ci { args } => ci::run(&args),
        Cmd::Bench { args } => bench::run(&args),
        Cmd::Fixtures { stats: false } => fixtures::build_all().map(|_| ()),
        Cmd::Fixtures { stats: true } => fixtures::stats::run(),
        Cmd::Lab(a) => lab::run(a),
        Cmd::DockerOracle => docker_oracle::ensure().map(|bin| println!("{}", bin.display())),
        Cmd::FreshMachine { lab, offline, no_apt } => fresh::run(
            &lab,
            match (offline, no_apt) {
                (true, _) => fresh::Mode::Offline,
                (_, true) => fresh::Mode::NoApt,
                _ => fresh::Mode::Online,
            },
        ),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}

/// Cargo's target dir: `$CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

#[cfg(test)]
mod cli_tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--help` of the top level and of `lab`, as a student reads them.
    #[test]
    fn help_snapshots() {
        let mut top = Cli::command().term_width(100);
        insta::assert_snapshot!("help_top", top.render_help().to_string());
        let mut lab = Cli::command().term_width(100);
        let lab = lab.find_subcommand_mut("lab").expect("lab subcommand");
        insta::assert_snapshot!("help_lab", lab.render_help().to_string());
    }

    #[test]
    fn report_flag_forms() {
        for argv in [
            &["cargo xtask", "lab", "8-overlay2", "--check", "--report=json"][..],
            &["cargo xtask", "lab", "8-overlay2", "--check", "--report", "json"][..],
        ] {
            let Cmd::Lab(a) = Cli::try_parse_from(argv).unwrap().cmd else { panic!() };
            assert_eq!(a.report.as_deref(), Some("json"));
            assert_eq!(a.id.as_deref(), Some("8-overlay2"));
        }
        let e = Cli::try_parse_from(["cargo xtask", "lab", "x", "--report", "yaml"]).unwrap_err();
        assert!(e.to_string().contains("possible values: json, junit, csv, html"), "{e}");
        let Cmd::Lab(a) = Cli::try_parse_from(["cargo xtask", "lab", "shell", "7-containers", "vm2"]).unwrap().cmd else { panic!() };
        assert!(matches!(a.cmd, Some(lab::LabCmd::Shell { ref id, host: Some(ref h) }) if id == "7-containers" && h == "vm2"));
        assert!(Cli::try_parse_from(["cargo xtask", "lab", "x", "--solve", "--check"]).is_err());
    }
}
