//! `berth runtime`: runc's command-line contract.
//!
//! ```text
//! berth runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND …
//!   create [--bundle|-b DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID
//!   start ID | state ID | kill [--all|-a] ID [SIGNAL] | delete [--force|-f] ID
//!   run [--bundle|-b DIR] [--detach|-d] [--pid-file F] [--console-socket S] ID
//!   exec [--process|-p FILE] [--detach|-d] [--pid-file F] [--console-socket S] [--tty|-t]
//!        [--cwd DIR] [--env|-e K=V]… [--user|-u UID[:GID]] [--additional-gids|-g GID]…
//!        [--cap|-c CAP]… [--no-new-privs] [--preserve-fds N] ID [COMMAND ARGS…]
//!   list [--quiet|-q] [--format table|json]
//! ```
//! Errors are one line on stderr (`berth runtime: …`), also appended to `--log` (runc's JSON
//! log format with `--log-format json`, which containerd-style callers read back).

mod args;
mod create;
mod delete;
mod exec;
mod kill;
mod list;
mod run;
mod start;
mod state;

use args::Parsed;
use std::path::PathBuf;

/// Global options.
pub struct Globals {
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_json: bool,
}

pub type CmdResult = Result<i32, String>;

const USAGE: &str = "usage: berth runtime [--root DIR] COMMAND [OPTIONS] ID
commands: create, start, state, kill, delete, run, exec, list";

/// Runs the runtime CLI with `args` (everything after `runtime`) and returns the exit code.
pub fn main(argv: &[String]) -> i32 {
    let mut globals = Globals { root: PathBuf::from(crate::state::DEFAULT_ROOT), log: None, log_json: false };
    let result = dispatch(argv, &mut globals);
    match result {
        Ok(code) => code,
        Err(msg) => {
            report(&globals, &msg);
            1
        }
    }
}

fn dispatch(argv: &[String], g: &mut Globals) -> CmdResult {
    let mut i = 0;
    while i < argv.len() && argv[i].starts_with('-') {
        let (flag, inline) = match argv[i].split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (argv[i].clone(), None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            argv.get(i).cloned().ok_or_else(|| format!("flag needs an argument: {flag}"))
        };
        match flag.as_str() {
            "--root" => g.root = PathBuf::from(value()?),
            "--log" => g.log = Some(PathBuf::from(value()?)),
            "--log-format" => g.log_json = value()? == "json",
            "--criu" | "--rootless" => {
                value()?;
            }
            "--debug" | "--no-pivot" => {}
            "--systemd-cgroup" => return Err("--systemd-cgroup: berth has no systemd cgroup driver (cgroupfs only)".into()),
            "--version" | "-v" => {
                println!("berth runtime version {}\nspec: 1.0.2", env!("CARGO_PKG_VERSION"));
                return Ok(0);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(0);
            }
            other => return Err(format!("unknown global flag {other}\n{USAGE}")),
        }
        i += 1;
    }
    let Some(verb) = argv.get(i) else { return Err(USAGE.into()) };
    let rest = &argv[i + 1..];
    match verb.as_str() {
        "create" => create::run(g, rest),
        "start" => start::run(g, rest),
        "state" => state::run(g, rest),
        "kill" => kill::run(g, rest),
        "delete" => delete::run(g, rest),
        "run" => run::run(g, rest),
        "exec" => exec::run(g, rest),
        "list" => list::run(g, rest),
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }
}

fn report(g: &Globals, msg: &str) {
    let line = msg.replace('\n', " ");
    eprintln!("berth runtime: {msg}");
    if let Some(path) = &g.log {
        let time = crate::state::now_rfc3339();
        let entry = if g.log_json {
            serde_json::json!({"level": "error", "msg": line, "time": time}).to_string()
        } else {
            format!("time=\"{time}\" level=error msg={line:?}")
        };
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{entry}");
        }
    }
}

/// The single ID argument every verb takes.
fn one_id(p: &Parsed, verb: &str) -> Result<String, String> {
    match p.positional.as_slice() {
        [id] => Ok(id.clone()),
        [] => Err(format!("{verb}: container id cannot be empty")),
        _ => Err(format!("{verb}: expected exactly one container id, got {:?}", p.positional)),
    }
}

fn load(g: &Globals, id: &str) -> Result<crate::state::State, String> {
    crate::state::State::load(&g.root, id).map_err(|e| match e {
        crate::state::StateError::NotExist => format!("container {id} does not exist"),
        e => e.to_string(),
    })
}
