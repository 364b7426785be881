//! The shim: one small process per container process (init or exec), like containerd-shim.
//! It runs the OCI runtime, owns the process' stdio or pty, writes the json-file log, serves
//! attach/resize/kill/wait on a unix socket, reaps the process and records its exit status in
//! `exit.json`, so berthd can die and come back without losing anything.
//!
//! berthd writes `<state-dir>/shim.json` (a [`ShimConfig`]) and runs `berth shim <state-dir>`.

pub mod console;
pub mod log;
pub mod proto;
pub mod runtime;
mod server;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use server::run;

/// What the shim runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Process {
    /// The container's init: `runtime create --bundle` then `runtime start`.
    Init { bundle: PathBuf },
    /// `runtime exec --process <file> --detach` in a running container.
    Exec { container_id: String, process_file: PathBuf },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShimConfig {
    /// Runtime id for init (the container id); for exec, the exec id (used in names only).
    pub id: String,
    pub process: Process,
    pub runtime: runtime::Runtime,
    /// json-file log, if any (exec output is not logged, as in Docker).
    pub log_path: Option<PathBuf>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    /// Container cgroup path (OCI `cgroupsPath`), to detect OOM kills.
    pub cgroup_path: Option<String>,
}

impl ShimConfig {
    pub const FILE: &'static str = "shim.json";

    pub fn load(state_dir: &Path) -> std::io::Result<Self> {
        let data = std::fs::read(state_dir.join(Self::FILE))?;
        serde_json::from_slice(&data).map_err(std::io::Error::other)
    }

    pub fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::util::fs::write_atomic_volatile(&state_dir.join(Self::FILE), &data, 0o600)
    }
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("shim.sock")
}

/// Entry point of `berth shim <state-dir>`.
pub fn main(args: &[String]) -> i32 {
    let Some(dir) = args.first() else {
        eprintln!("usage: berth shim STATE_DIR");
        return 2;
    };
    match run(Path::new(dir)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth shim: {e}");
            1
        }
    }
}
