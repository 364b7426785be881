//! The helper holding a lab host's namespaces (see `berth_grader::hosts::init`), and `guide`:
//! the guided mode of one lab.toml on this terminal (what `cargo xtask lab ID` runs), so it can
//! be driven through a pty by tests without cargo.
use berth_grader::catalog::{Lab, Objectives};
use berth_grader::hosts::Config;
use berth_grader::interactive;
use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("guide") {
        std::process::exit(match guide(&args[2..]) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("berth-lab-host guide: {e}");
                1
            }
        });
    }
    std::process::exit(berth_grader::hosts::init::main(args));
}

/// `guide --lab labs/<id>/lab.toml --state DIR --progress FILE [--images DIR] [--poll-ms N]`
fn guide(args: &[String]) -> Result<(), String> {
    let get = |k: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let need = |k: &str| get(k).ok_or_else(|| format!("missing {k}"));
    let lab_file = PathBuf::from(need("--lab")?);
    let catalog_dir = lab_file
        .parent()
        .and_then(|d| d.parent())
        .ok_or("--lab must be labs/<id>/lab.toml")?;
    let objectives =
        Objectives::load(&catalog_dir.join("objectives.toml")).map_err(|e| e.to_string())?;
    let lab = Lab::load(&lab_file, &objectives).map_err(|e| e.to_string())?;
    let helper = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut config = Config::new(need("--state")?, helper);
    if let Some(d) = get("--images") {
        config.images_dir = Some(d.into());
    }
    let poll_ms: u64 = get("--poll-ms")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let opts = interactive::Options {
        progress_path: need("--progress")?.into(),
        allow_shell: true,
        poll_interval: Duration::from_millis(poll_ms),
        shuffle_quiz: true,
    };
    let out: interactive::Out =
        std::sync::Arc::new(std::sync::Mutex::new(Box::new(std::io::stdout())));
    let stdin = std::io::stdin();
    interactive::run(&lab, &objectives, &config, &opts, &mut stdin.lock(), out)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
