//! `docker exec`: exec instances, each run by its own shim (`runtime exec --detach`).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::DaemonError;
use super::lifecycle::spawn_shim;
use super::state::Daemon;
use crate::shim::proto::{self, Request};
use crate::shim::{Process, ShimConfig};
use crate::util::ids;

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub user: String,
    pub privileged: bool,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stderr: bool,
    pub attach_stdout: bool,
    pub detach: bool,
    pub detach_keys: String,
    pub env: Option<Vec<String>>,
    pub working_dir: String,
    #[serde(deserialize_with = "crate::container::config::str_slice")]
    pub cmd: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    pub started: bool,
    pub exit_code: Option<i64>,
    pub pid: i64,
}

impl Daemon {
    fn exec_dir(&self, exec_id: &str) -> std::path::PathBuf {
        self.config.exec_root.join("exec").join(exec_id)
    }

    pub fn exec_create(&self, r: &str, cfg: ExecConfig) -> Result<String, DaemonError> {
        let cid = self.resolve(r)?;
        let c = self.get(&cid)?;
        if !c.record.state.running || c.record.state.restarting {
            return Err(DaemonError::Conflict(format!("Container {cid} is not running")));
        }
        if c.record.state.paused {
            return Err(DaemonError::Conflict(format!("Container {cid} is paused, unpause the container before exec")));
        }
        if cfg.cmd.as_ref().map(|c| c.is_empty()).unwrap_or(true) {
            return Err(DaemonError::InvalidParameter("No exec command specified".into()));
        }
        // As moby's ContainerExecCreate: a plain error (500), worded "escape" there.
        if !cfg.detach_keys.is_empty() {
            crate::api::attach::escape::daemon_keys(&cfg.detach_keys, "escape").map_err(DaemonError::System)?;
        }
        let id = ids::generate_id();
        self.execs.lock().unwrap().insert(
            id.clone(),
            Exec { id: id.clone(), container_id: cid.clone(), config: cfg, running: false, started: false, exit_code: None, pid: 0 },
        );
        let _ = self.update(&cid, |c| c.record.exec_ids.push(id.clone()));
        let cmdline = self.execs.lock().unwrap()[&id].config.cmd.clone().unwrap_or_default().join(" ");
        self.container_event(&c, &format!("exec_create: {cmdline}"), &[("execID", id.clone())]);
        Ok(id)
    }

    pub fn exec_get(&self, id: &str) -> Result<Exec, DaemonError> {
        self.execs
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| DaemonError::NotFound(format!("No such exec instance: {id}")))
    }

    /// Start an exec. With `attach`, returns the shim attach stream (connected before start).
    pub async fn exec_start(self: &Arc<Self>, id: &str, attach: bool) -> Result<Option<std::os::unix::net::UnixStream>, DaemonError> {
        let e = self.exec_get(id)?;
        if e.started {
            return Err(DaemonError::Conflict(format!("Error: Exec command {id} has already run")));
        }
        let c = self.get(&e.container_id)?;
        if !c.record.state.running {
            return Err(DaemonError::Conflict(format!("Container {} is not running", e.container_id)));
        }
        if let Some(x) = self.execs.lock().unwrap().get_mut(id) {
            x.started = true;
        }
        let cmdline = e.config.cmd.clone().unwrap_or_default().join(" ");
        self.container_event(&c, &format!("exec_start: {cmdline}"), &[("execID", id.to_string())]);
        let d = self.clone();
        let id2 = id.to_string();
        let res = tokio::task::spawn_blocking(move || d.exec_start_blocking(&id2, &e, attach)).await.expect("exec start panicked");
        match res {
            Ok((pid, stream)) => {
                if let Some(x) = self.execs.lock().unwrap().get_mut(id) {
                    x.running = true;
                    x.pid = pid;
                }
                let d = self.clone();
                let id = id.to_string();
                let e_cid = c.id().to_string();
                tokio::spawn(async move {
                    let dir = d.exec_dir(&id);
                    let sock = crate::shim::socket_path(&dir);
                    let r = tokio::task::spawn_blocking(move || proto::call(&sock, &Request::Wait, None)).await;
                    let code = match r {
                        Ok(Ok(resp)) => resp.exit.map(|e| e.exit_code),
                        _ => None,
                    }
                    .or_else(|| proto::read_exit_file(&dir).map(|e| e.exit_code))
                    .unwrap_or(126);
                    if let Some(x) = d.execs.lock().unwrap().get_mut(&id) {
                        x.running = false;
                        x.exit_code = Some(code);
                    }
                    d.container_event_ref(&e_cid, "exec_die", &[("execID", id.clone()), ("exitCode", code.to_string())]);
                    d.notify();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let _ = std::fs::remove_dir_all(&dir);
                });
                Ok(stream)
            }
            Err(err) => {
                if let Some(x) = self.execs.lock().unwrap().get_mut(id) {
                    x.exit_code = Some(if err.to_string().contains("executable file not found") { 127 } else { 126 });
                }
                Err(err)
            }
        }
    }

    fn exec_start_blocking(&self, id: &str, e: &Exec, attach: bool) -> Result<(i64, Option<std::os::unix::net::UnixStream>), DaemonError> {
        let dir = self.exec_dir(id);
        std::fs::create_dir_all(&dir).map_err(|err| DaemonError::System(format!("{}: {err}", dir.display())))?;
        let bundle = self.state_dir(&e.container_id);
        let base: serde_json::Value = std::fs::read(bundle.join("config.json"))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .ok_or_else(|| DaemonError::System(format!("container {} has no runtime spec", e.container_id)))?;
        let rootfs = std::path::PathBuf::from(base["root"]["path"].as_str().unwrap_or("/"));
        let user = if e.config.user.is_empty() {
            None
        } else {
            Some(crate::container::spec::resolve_user(&rootfs, &e.config.user)?)
        };
        let args = e.config.cmd.clone().unwrap_or_default();
        let process = crate::container::spec::exec_process(
            &base,
            &args,
            e.config.env.as_deref().unwrap_or(&[]),
            e.config.tty,
            user,
            &e.config.working_dir,
            e.config.privileged,
        );
        let pfile = dir.join("process.json");
        crate::util::fs::write_atomic_volatile(&pfile, &serde_json::to_vec(&process).expect("json"), 0o600)
            .map_err(|err| DaemonError::System(format!("process.json: {err}")))?;
        let shim = ShimConfig {
            id: id.to_string(),
            process: Process::Exec { container_id: e.container_id.clone(), process_file: pfile },
            runtime: self.runtime.clone(),
            log_path: None,
            tty: e.config.tty,
            open_stdin: e.config.attach_stdin,
            stdin_once: true,
            cgroup_path: None,
        };
        shim.save(&dir).map_err(|err| DaemonError::System(format!("shim.json: {err}")))?;
        spawn_shim(&self.berth_binary, &dir)?;
        let sock = crate::shim::socket_path(&dir);
        let stream = if attach {
            let req = Request::Attach { stdin: e.config.attach_stdin, stdout: e.config.attach_stdout, stderr: e.config.attach_stderr };
            let (_, r) = proto::call_keep(&sock, &req, Some(Duration::from_secs(5))).map_err(|err| DaemonError::System(err.to_string()))?;
            Some(r.into_inner())
        } else {
            None
        };
        match proto::call(&sock, &Request::Start, Some(Duration::from_secs(60))) {
            Ok(r) => Ok((r.pid, stream)),
            Err(proto::ProtoError::Remote(m)) => {
                let class = if m.contains("executable file not found") || m.contains("no such file") || m.contains("permission denied") {
                    DaemonError::InvalidParameter
                } else {
                    DaemonError::System
                };
                Err(class(m))
            }
            Err(err) => Err(DaemonError::System(err.to_string())),
        }
    }

    pub fn exec_resize(&self, id: &str, h: u16, w: u16) -> Result<(), DaemonError> {
        let _ = self.exec_get(id)?;
        let sock = crate::shim::socket_path(&self.exec_dir(id));
        proto::call(&sock, &Request::Resize { height: h, width: w }, Some(Duration::from_secs(5)))
            .map(|_| ())
            .map_err(|e| DaemonError::System(e.to_string()))
    }
}
