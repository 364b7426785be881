//! Invoking the OCI runtime with runc's command-line contract (runc itself, or
//! `berth runtime`): global `--root`/`--log`/`--log-format`, then the subcommand.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// How to run the runtime: program, leading args (e.g. `["runtime"]` for berth), state root.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Runtime {
    /// `runc` or `berth`: what Docker calls the runtime name.
    pub name: String,
    pub program: PathBuf,
    pub pre_args: Vec<String>,
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{name} {op} failed: {msg}")]
    Failed { name: String, op: String, msg: String },
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
}

impl Runtime {
    /// Resolve the configured runtime name (daemon.json `default-runtime`).
    pub fn resolve(name: &str, berth_binary: &Path, exec_root: &Path) -> Runtime {
        match name {
            "berth" => Runtime {
                name: "berth".into(),
                program: berth_binary.to_path_buf(),
                pre_args: vec!["runtime".into()],
                root: exec_root.join("runtime-berth"),
            },
            _ => Runtime {
                name: "runc".into(),
                program: which("runc").unwrap_or_else(|| PathBuf::from("/usr/sbin/runc")),
                pre_args: vec![],
                root: exec_root.join("runtime-runc"),
            },
        }
    }

    /// A command with the global flags set; `log` receives the runtime's JSON log.
    pub fn command(&self, log: Option<&Path>) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.pre_args);
        c.arg("--root").arg(&self.root);
        if let Some(l) = log {
            c.arg("--log").arg(l).arg("--log-format").arg("json");
        }
        c
    }

    /// Run a simple subcommand (`kill`, `delete`, `pause`, `resume`, `start`) to completion.
    pub fn simple(&self, args: &[&str]) -> Result<(), RuntimeError> {
        let op = args.first().copied().unwrap_or("").to_string();
        let out = self
            .command(None)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| RuntimeError::Spawn { program: self.program.display().to_string(), source })?;
        if out.status.success() {
            return Ok(());
        }
        Err(RuntimeError::Failed { name: self.name.clone(), op, msg: last_error(&String::from_utf8_lossy(&out.stderr)) })
    }
}

fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// The most useful error line of a runtime's log/stderr: the last JSON `msg` at level error,
/// a logrus `msg="…"` field, or the last non-empty line.
pub fn last_error(text: &str) -> String {
    let mut best: Option<String> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
            if let Some(m) = v.get("msg").and_then(|m| m.as_str()) {
                let lvl = v.get("level").and_then(|l| l.as_str()).unwrap_or("error");
                if lvl == "error" || lvl == "fatal" || best.is_none() {
                    best = Some(m.to_string());
                }
                continue;
            }
        }
        if let Some(i) = line.find("msg=\"") {
            let rest = &line[i + 5..];
            let end = rest.rfind('"').unwrap_or(rest.len());
            best = Some(rest[..end].replace("\\\"", "\""));
            continue;
        }
        best = Some(line.strip_prefix("ERRO[0000] ").unwrap_or(line).to_string());
    }
    best.unwrap_or_else(|| "unknown error".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_from_runc_json_log() {
        let log = r#"{"level":"warning","msg":"something","time":"x"}
{"level":"error","msg":"runc create failed: unable to start container process: exec: \"sleep\": executable file not found in $PATH","time":"x"}"#;
        assert_eq!(last_error(log), "runc create failed: unable to start container process: exec: \"sleep\": executable file not found in $PATH");
        assert_eq!(last_error("time=\"x\" level=error msg=\"boom \\\"q\\\"\"\n"), "boom \"q\"");
        assert_eq!(last_error("plain failure\n"), "plain failure");
    }

    #[test]
    fn berth_runtime_resolves_to_subcommand() {
        let r = Runtime::resolve("berth", Path::new("/x/berth"), Path::new("/run/b"));
        let c = r.command(None);
        let args: Vec<_> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, vec!["runtime", "--root", "/run/b/runtime-berth"]);
    }
}
