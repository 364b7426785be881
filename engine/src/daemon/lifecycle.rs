//! Container lifecycle: start (via a shim), stop, kill, restart, remove, wait, pause; the
//! monitor that learns about exits; restart policies; recovery after a daemon restart.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use super::error::DaemonError;
use super::state::{Daemon, PendingAttach};
use crate::container::config::Restart;
use crate::container::spec;
use crate::shim::proto::{self, ExitStatus, Request};
use crate::shim::{Process, ShimConfig};
use crate::util::time;

/// Wait conditions of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<Self, DaemonError> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            o => Err(DaemonError::InvalidParameter(format!("invalid condition: \"{o}\""))),
        }
    }
}

/// Start a process shim in its own session so it outlives berthd; wait until it serves.
pub fn spawn_shim(berth: &Path, dir: &Path) -> Result<(), DaemonError> {
    let sock = crate::shim::socket_path(dir);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(dir.join("exit.json"));
    let log = std::fs::File::create(dir.join("shim.log")).map_err(|e| DaemonError::System(format!("shim log: {e}")))?;
    // The shim says "ready" on this pipe once its socket listens: no polling on the start path.
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| DaemonError::System(format!("pipe: {e}")))?;
    let mut cmd = std::process::Command::new(berth);
    cmd.arg("shim").arg(dir).stdin(Stdio::null()).stdout(Stdio::from(ready_w)).stderr(Stdio::from(log));
    // SAFETY: setsid is async-signal-safe; it detaches the shim from berthd's session.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| DaemonError::System(format!("cannot start shim {}: {e}", berth.display())))?;
    // Our copy of the write end must go, or EOF (the shim died) never comes.
    drop(cmd);
    // Reap the shim if it exits while we are alive.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    if wait_ready(ready_r, Duration::from_secs(10)) && sock.exists() {
        return Ok(());
    }
    let log = std::fs::read_to_string(dir.join("shim.log")).unwrap_or_default();
    Err(DaemonError::System(format!("shim did not come up: {}", log.trim())))
}

/// Wait for a line on the shim's readiness pipe; false on EOF (it died) or timeout.
fn wait_ready(fd: std::os::fd::OwnedFd, timeout: Duration) -> bool {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: poll on one valid fd we own.
    let n = loop {
        let n = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        break n;
    };
    if n <= 0 {
        return false;
    }
    let mut b = [0u8; 6];
    matches!(std::fs::File::from(fd).read(&mut b), Ok(n) if n > 0)
}

/// Stop a shim whose process will never be started (the network setup beside it failed):
/// it would otherwise wait for a start request until its own timeout.
fn discard_shim(dir: &Path) {
    let pid = std::fs::read_to_string(dir.join("shim.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok());
    if let Some(pid) = pid.filter(|p| *p > 0) {
        // SAFETY: a signal to the shim we spawned (its pid file is in our state dir).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = std::fs::remove_file(crate::shim::socket_path(dir));
}

fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> impl std::future::Future<Output = T> {
    async move { tokio::task::spawn_blocking(f).await.expect("blocking task panicked") }
}

impl Daemon {
    /// `POST /containers/{id}/start`.
    pub async fn start(self: &Arc<Self>, r: &str) -> Result<(), DaemonError> {
        self.start_as(r, false).await
    }

    /// `by_restart_policy`: the restart manager bringing back a container it shows as
    /// restarting (running + restarting, as moby keeps it until the process is back; a user's
    /// start of such a container is "already running").
    async fn start_as(self: &Arc<Self>, r: &str, by_restart_policy: bool) -> Result<(), DaemonError> {
        let id = self.resolve(r)?;
        {
            let mut g = self.inner.lock().unwrap();
            // Looked up again: a removal may have taken it since `resolve` released the lock
            // (indexing here panicked with the lock held, poisoning it for every request).
            let Some(c) = g.containers.get(&id) else { return Err(DaemonError::no_such_container(r)) };
            if c.record.state.running && !(by_restart_policy && c.record.state.restarting) {
                return Err(DaemonError::NotModified);
            }
            if c.record.state.removal_in_progress {
                return Err(DaemonError::Conflict(format!("container is marked for removal and cannot be started")));
            }
            let live = g.live.entry(id.clone()).or_default();
            if live.starting {
                return Err(DaemonError::NotModified);
            }
            live.starting = true;
        }
        let d = self.clone();
        let id2 = id.clone();
        // A panic in the start (a bug) is this start's error: `starting` is reset below
        // instead of staying set and making every later start "already started".
        let res = tokio::task::spawn_blocking(move || d.start_blocking(&id2))
            .await
            .unwrap_or_else(|e| Err(DaemonError::System(format!("starting the container failed: {e}"))));
        {
            let mut g = self.inner.lock().unwrap();
            if let Some(l) = g.live.get_mut(&id) {
                l.starting = false;
                // Clients that attached for this start get EOF.
                l.pending_attach.clear();
            }
        }
        // A removal waiting for this start goes on.
        self.notify();
        match res {
            Ok(()) => {
                self.container_event_ref(&id, "start", &[]);
                self.spawn_monitor(&id);
                Ok(())
            }
            Err(e) => {
                // As moby's containerStart cleanup: a failed --rm container is removed, which
                // also releases `wait?condition=removed` (docker run --rm waits on it).
                if self.get(&id).map(|c| c.host_config.auto_remove).unwrap_or(false) {
                    match self.remove(&id, true, false).await {
                        Ok(()) | Err(DaemonError::NotFound(_)) => {}
                        Err(e) => tracing::error!(container = %id, error = %e, "can't remove the --rm container after its failed start"),
                    }
                }
                Err(e)
            }
        }
    }

    fn start_blocking(self: &Arc<Self>, id: &str) -> Result<(), DaemonError> {
        let r = self.start_prepared(id);
        if r.is_err() {
            self.net_teardown(id);
        }
        r
    }

    fn start_prepared(self: &Arc<Self>, id: &str) -> Result<(), DaemonError> {
        let c = self.get(id)?;
        let dir = self.state_dir(id);
        std::fs::create_dir_all(&dir).map_err(|e| DaemonError::System(format!("{}: {e}", dir.display())))?;
        // The network (a new namespace, veth, addresses: mostly waiting on the kernel) does not
        // depend on the rootfs, the spec or the shim, so it is set up beside them.
        let (net, bundle) = std::thread::scope(|s| {
            let net = s.spawn(|| self.net_start(&c));
            let bundle = self.prepare_bundle(id, &c, &dir);
            (net.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), bundle)
        });
        let mut oci = bundle?;
        let fail = |e: DaemonError| {
            discard_shim(&dir);
            let _ = self.images.unmount_rootfs(id);
            e
        };
        net.map_err(fail)?.apply(&mut oci);
        let data = serde_json::to_vec_pretty(&oci).expect("spec serializes");
        crate::util::fs::write_atomic_volatile(&dir.join("config.json"), &data, 0o600)
            .map_err(|e| fail(DaemonError::System(format!("config.json: {e}"))))?;
        let sock = crate::shim::socket_path(&dir);
        // Connect every client that attached before start, so no output is lost.
        let pending: Vec<PendingAttach> = {
            let mut g = self.inner.lock().unwrap();
            g.live.get_mut(id).map(|l| std::mem::take(&mut l.pending_attach)).unwrap_or_default()
        };
        for p in pending {
            let req = Request::Attach { stdin: p.stdin, stdout: p.stdout, stderr: p.stderr };
            if let Ok((_, r)) = proto::call_keep(&sock, &req, Some(Duration::from_secs(5))) {
                let _ = p.tx.send(r.into_inner());
            }
        }
        match proto::call(&sock, &Request::Start, Some(Duration::from_secs(60))) {
            Ok(resp) => {
                self.update(id, |c| {
                    let s = &mut c.record.state;
                    s.running = true;
                    s.paused = false;
                    s.restarting = false;
                    s.oom_killed = false;
                    s.dead = false;
                    s.pid = resp.pid;
                    s.exit_code = 0;
                    s.error.clear();
                    s.started_at = time::now();
                    s.finished_at = time::ZERO_TIME.into();
                    c.record.has_been_started_before = true;
                    c.record.has_been_manually_stopped = false;
                })?;
                Ok(())
            }
            Err(e) => {
                let msg = match e {
                    proto::ProtoError::Remote(m) => m,
                    other => other.to_string(),
                };
                let _ = self.images.unmount_rootfs(id);
                let (code, class): (i64, fn(String) -> DaemonError) =
                    if msg.contains("executable file not found") || msg.contains("no such file or directory") {
                        (127, DaemonError::InvalidParameter)
                    } else if msg.contains("permission denied") || msg.contains("is a directory") {
                        (126, DaemonError::InvalidParameter)
                    } else {
                        (128, DaemonError::System)
                    };
                let full = format!("failed to create shim task: {msg}");
                let _ = self.update(id, |c| {
                    c.record.state.exit_code = code;
                    c.record.state.error = full.clone();
                });
                Err(class(full))
            }
        }
    }

    /// Everything but the network: the rootfs mounted, the OCI spec (returned, to be
    /// completed with the network plan), the shim started and waiting. On error the rootfs is
    /// unmounted again.
    fn prepare_bundle(&self, id: &str, c: &crate::container::record::Container, dir: &Path) -> Result<serde_json::Value, DaemonError> {
        let rootfs = self.images.mount_rootfs(id)?;
        let fail = |e: DaemonError| {
            let _ = self.images.unmount_rootfs(id);
            e
        };
        self.copy_up_volumes(c, &rootfs).map_err(fail)?;
        let mut args = c.record.config.entrypoint.clone().unwrap_or_default();
        args.extend(c.record.config.cmd.clone().unwrap_or_default());
        let container_dir = self.store.dir(id);
        let mut oci = spec::build(&spec::SpecInput {
            container: c,
            rootfs: &rootfs,
            image_env: &[],
            container_dir: &container_dir,
            volumes_root: &self.volumes_root(),
            cgroup_parent: &self.config.cgroup_parent,
            args,
        })
        .map_err(|e| fail(e.into()))?;
        if c.host_config.init.unwrap_or(self.config.init) {
            let init = super::init::resolve(self.config.init_path.as_deref()).map_err(fail)?;
            super::init::apply(&mut oci, &init);
        }
        let cfg = &c.record.config;
        let shim = ShimConfig {
            id: id.to_string(),
            process: Process::Init { bundle: dir.to_path_buf() },
            runtime: self.runtime.clone(),
            log_path: Some(c.record.log_path.clone().into()),
            tty: cfg.tty,
            open_stdin: cfg.open_stdin,
            stdin_once: cfg.stdin_once,
            cgroup_path: oci["linux"]["cgroupsPath"].as_str().map(String::from),
        };
        shim.save(dir).map_err(|e| fail(DaemonError::System(format!("shim.json: {e}"))))?;
        spawn_shim(&self.berth_binary, dir).map_err(fail)?;
        Ok(oci)
    }

    /// Copy-up into the container's volumes (named `-v name:/path` binds without `nocopy`, and
    /// anonymous volumes) from the mounted rootfs; `copyup::populate` skips non-empty ones.
    fn copy_up_volumes(&self, c: &crate::container::record::Container, rootfs: &Path) -> Result<(), DaemonError> {
        let root = self.volumes_root();
        let mut todo: Vec<(PathBuf, String)> = vec![];
        for b in c.host_config.binds.iter().flatten() {
            let b = spec::parse_bind(b, &root).map_err(DaemonError::from)?;
            if b.volume.is_some() && !b.no_copy {
                todo.push((b.source, b.destination));
            }
        }
        for mp in c.record.mount_points.values() {
            if let (Some("volume"), Some(src), Some(dst)) = (mp["Type"].as_str(), mp["Source"].as_str(), mp["Destination"].as_str()) {
                todo.push((src.into(), dst.to_string()));
            }
        }
        for (data, dst) in todo {
            super::copyup::populate(rootfs, &dst, &data).map_err(|e| DaemonError::System(e.to_string()))?;
        }
        Ok(())
    }

    /// Watch the shim until the process exits, then record it and apply the restart policy.
    pub fn spawn_monitor(self: &Arc<Self>, id: &str) {
        {
            let mut g = self.inner.lock().unwrap();
            let l = g.live.entry(id.to_string()).or_default();
            if l.monitored {
                return;
            }
            l.monitored = true;
        }
        let d = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let dir = d.state_dir(&id);
            let sock = crate::shim::socket_path(&dir);
            let res = blocking(move || proto::call(&sock, &Request::Wait, None)).await;
            let exit = match res {
                Ok(r) if r.exit.is_some() => r.exit.unwrap(),
                _ => match proto::read_exit_file(&dir) {
                    Some(e) => e,
                    None => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        proto::read_exit_file(&dir).unwrap_or(ExitStatus {
                            exit_code: 255,
                            oom_killed: false,
                            finished_at: time::now(),
                        })
                    }
                },
            };
            if let Some(l) = d.inner.lock().unwrap().live.get_mut(&id) {
                l.monitored = false;
            }
            d.handle_exit(&id, exit).await;
        });
    }

    async fn handle_exit(self: &Arc<Self>, id: &str, exit: ExitStatus) {
        // Independent kernel work, each mostly waiting (the veth's unregistration waits for
        // RCU grace periods, the overlay unmount for its sync): side by side, not in a row.
        let (d, id2) = (self.clone(), id.to_string());
        let net = tokio::task::spawn_blocking(move || d.net_teardown(&id2));
        let (d, id2) = (self.clone(), id.to_string());
        if let Err(e) = blocking(move || d.images.unmount_rootfs(&id2)).await {
            tracing::warn!(container = %id, error = %e, "can't unmount the container's rootfs");
        }
        let _ = net.await;
        let record_exit = |c: &mut crate::container::record::Container| {
            let s = &mut c.record.state;
            s.running = false;
            s.paused = false;
            s.pid = 0;
            s.exit_code = exit.exit_code;
            s.oom_killed = exit.oom_killed;
            s.finished_at = exit.finished_at.clone();
            (c.host_config.auto_remove, c.host_config.restart_policy.clone(), c.record.has_been_manually_stopped, c.record.restart_count)
        };
        // An `--rm` container is deleted right below: persisting its exit first costs two
        // fsyncs on every `run --rm`. If berthd dies in between, recovery finds it running
        // with its shim gone, reads exit.json and removes it: the same end state.
        let auto_remove = self.get(id).map(|c| c.host_config.auto_remove).unwrap_or(false);
        let res = if auto_remove {
            let mut g = self.inner.lock().unwrap();
            let r = g.containers.get_mut(id).map(record_exit).ok_or_else(|| DaemonError::no_such_container(id));
            drop(g);
            self.notify();
            r
        } else {
            self.update(id, record_exit)
        };
        {
            let mut g = self.inner.lock().unwrap();
            if let Some(l) = g.live.get_mut(id) {
                l.exit_seq += 1;
            }
        }
        if let Ok(c) = self.get(id) {
            if exit.oom_killed {
                self.container_event(&c, "oom", &[]);
            }
            self.container_event(&c, "die", &[("exitCode", exit.exit_code.to_string())]);
        }
        self.notify();
        let Ok((auto_remove, policy, manual, count)) = res else { return };
        if auto_remove {
            // Gone already (a concurrent `rm -f`) is fine.
            match self.remove(id, true, true).await {
                Ok(()) | Err(DaemonError::NotFound(_)) => {}
                Err(e) => tracing::error!(container = %id, error = %e, "can't remove the --rm container after its exit"),
            }
            return;
        }
        let restart = match Restart::from_policy(&policy).unwrap_or(Restart::No) {
            _ if manual => false,
            Restart::No => false,
            Restart::Always | Restart::UnlessStopped => true,
            Restart::OnFailure(max) => exit.exit_code != 0 && (max == 0 || count < max),
        };
        if !restart {
            return;
        }
        // moby's restart manager: 100ms doubling backoff (reset after 10s of running).
        let delay = Duration::from_millis((100u64 << count.min(10)).min(60_000));
        let _ = self.update(id, |c| {
            c.record.restart_count += 1;
            c.record.state.restarting = true;
            c.record.state.running = true;
        });
        let d = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let still = d.get(&id).map(|c| c.record.state.restarting && !c.record.has_been_manually_stopped).unwrap_or(false);
            if !still {
                return;
            }
            // Straight from restarting to running: a pass through "not running" showed the
            // container as exited, with its old exit code, while the new process started.
            if let Err(e) = d.start_as(&id, true).await {
                tracing::error!(container = %id, error = %e, "restart failed");
                let _ = d.update(&id, |c| {
                    c.record.state.restarting = false;
                    c.record.state.running = false;
                    c.record.state.error = e.to_string();
                });
            }
        });
    }

    fn shim_call(&self, id: &str, req: Request) -> Result<proto::Response, DaemonError> {
        let sock = crate::shim::socket_path(&self.state_dir(id));
        proto::call(&sock, &req, Some(Duration::from_secs(10))).map_err(|e| DaemonError::System(e.to_string()))
    }

    /// Wait until the container's exit count passes `seq` or the timeout elapses.
    async fn wait_exit_after(&self, id: &str, seq: u64, timeout: Option<Duration>) -> bool {
        let mut rx = self.changed.subscribe();
        let fut = async {
            loop {
                {
                    let g = self.inner.lock().unwrap();
                    let done = match (g.live.get(id), g.containers.get(id)) {
                        (Some(l), Some(c)) => l.exit_seq > seq || !c.record.state.running,
                        _ => true,
                    };
                    if done {
                        return;
                    }
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, fut).await.is_ok(),
            None => {
                fut.await;
                true
            }
        }
    }

    fn exit_seq(&self, id: &str) -> u64 {
        self.inner.lock().unwrap().live.get(id).map(|l| l.exit_seq).unwrap_or(0)
    }

    /// `POST /containers/{id}/stop?t=N`: stop signal, wait, SIGKILL.
    pub async fn stop(self: &Arc<Self>, r: &str, t: Option<i64>) -> Result<(), DaemonError> {
        let id = self.resolve(r)?;
        let c = self.get(&id)?;
        if c.record.state.restarting {
            // Cancel a pending restart.
            self.update(&id, |c| {
                c.record.has_been_manually_stopped = true;
                c.record.state.restarting = false;
                c.record.state.running = false;
            })?;
            return Ok(());
        }
        if !c.record.state.running {
            return Err(DaemonError::NotModified);
        }
        self.update(&id, |c| c.record.has_been_manually_stopped = true)?;
        let seq = self.exit_seq(&id);
        let sig = c.record.config.stop_signal.as_deref().and_then(parse_signal).unwrap_or(libc::SIGTERM);
        let timeout = t.or(c.record.config.stop_timeout).unwrap_or(10);
        if c.record.state.paused {
            let _ = self.runtime.simple(&["resume", &id]);
        }
        self.container_event(&c, "kill", &[("signal", sig.to_string())]);
        let _ = self.shim_call(&id, Request::Kill { signal: sig });
        let wait = if timeout < 0 { None } else { Some(Duration::from_secs(timeout as u64)) };
        if !self.wait_exit_after(&id, seq, wait).await {
            self.container_event(&c, "kill", &[("signal", libc::SIGKILL.to_string())]);
            let _ = self.shim_call(&id, Request::Kill { signal: libc::SIGKILL });
            if !self.wait_exit_after(&id, seq, Some(Duration::from_secs(30))).await {
                return Err(DaemonError::System(format!("tried to kill container, but did not receive an exit event")));
            }
        }
        self.container_event(&c, "stop", &[]);
        Ok(())
    }

    /// `POST /containers/{id}/kill?signal=S`.
    pub async fn kill(self: &Arc<Self>, r: &str, signal: Option<&str>) -> Result<(), DaemonError> {
        let id = self.resolve(r)?;
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s).ok_or_else(|| DaemonError::InvalidParameter(format!("Invalid signal: {s}")))?,
            None => libc::SIGKILL,
        };
        let c = self.get(&id)?;
        if !c.record.state.running || c.record.state.restarting {
            return Err(DaemonError::Conflict(format!("Cannot kill container: {r}: Container {id} is not running")));
        }
        if sig == libc::SIGKILL || sig == libc::SIGTERM || sig == libc::SIGINT {
            self.update(&id, |c| c.record.has_been_manually_stopped = true)?;
        }
        let seq = self.exit_seq(&id);
        self.container_event(&c, "kill", &[("signal", sig.to_string())]);
        self.shim_call(&id, Request::Kill { signal: sig })?;
        if sig == libc::SIGKILL {
            self.wait_exit_after(&id, seq, Some(Duration::from_secs(10))).await;
        }
        Ok(())
    }

    pub async fn restart(self: &Arc<Self>, r: &str, t: Option<i64>) -> Result<(), DaemonError> {
        match self.stop(r, t).await {
            Ok(()) | Err(DaemonError::NotModified) => {}
            Err(e) => return Err(e),
        }
        match self.start(r).await {
            Ok(()) | Err(DaemonError::NotModified) => {
                self.container_event_ref(r, "restart", &[]);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /containers/{id}?force=&v=`.
    pub async fn remove(self: &Arc<Self>, r: &str, force: bool, volumes: bool) -> Result<(), DaemonError> {
        let id = self.resolve(r)?;
        let mut changed = self.changed.subscribe();
        let c = loop {
            let c = self.get(&id)?;
            let was_running = c.record.state.running && !c.record.state.restarting;
            if was_running {
                if !force {
                    let what = if c.record.state.paused { "paused" } else { "running" };
                    return Err(DaemonError::Conflict(format!(
                        "You cannot remove a {what} container {id}. Stop the container before attempting removal or force remove"
                    )));
                }
                self.update(&id, |c| c.record.has_been_manually_stopped = true)?;
                let seq = self.exit_seq(&id);
                if c.record.state.paused {
                    let _ = self.runtime.simple(&["resume", &id]);
                }
                let _ = self.shim_call(&id, Request::Kill { signal: libc::SIGKILL });
                self.wait_exit_after(&id, seq, Some(Duration::from_secs(30))).await;
            }
            // A start in progress (or one that finished since the check above) would write into
            // what is removed below, or leave its process without a record: refused, or with
            // force waited for and killed. Once marked, no start begins (`start_as`).
            let wait_for_start = {
                let mut g = self.inner.lock().unwrap();
                let starting = g.live.get(&id).is_some_and(|l| l.starting);
                let Some(cur) = g.containers.get_mut(&id) else { return Ok(()) };
                if cur.record.state.removal_in_progress {
                    return Ok(());
                }
                let now_running = cur.record.state.running && !cur.record.state.restarting;
                if !starting && !(now_running && !was_running) {
                    cur.record.state.removal_in_progress = true;
                    break c;
                }
                if !force {
                    return Err(DaemonError::Conflict(format!(
                        "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
                    )));
                }
                starting
            };
            if wait_for_start && changed.changed().await.is_err() {
                return Err(DaemonError::System("daemon shutting down".into()));
            }
        };
        // The network and the storage are released side by side (see handle_exit).
        let (d, id2) = (self.clone(), id.clone());
        let net = tokio::task::spawn_blocking(move || d.net_teardown(&id2));
        let (d, id2) = (self.clone(), id.clone());
        let (rm, stored) = blocking(move || {
            if let Err(e) = d.images.unmount_rootfs(&id2) {
                // remove_rootfs unmounts again and says so if it matters.
                tracing::debug!(container = %id2, error = %e, "unmount before removal");
            }
            let rm = d.images.remove_rootfs(&id2);
            let _ = std::fs::remove_dir_all(d.state_dir(&id2));
            (rm, d.store.remove(&id2))
        })
        .await;
        let _ = net.await;
        stored?;
        if volumes || c.host_config.auto_remove {
            // `rm -v` and `--rm` remove the container's anonymous volumes (named ones stay).
            for mp in c.record.mount_points.values() {
                if mp["Anonymous"] == serde_json::json!(true) {
                    if let Some(n) = mp["Name"].as_str() {
                        let _ = std::fs::remove_dir_all(self.volumes_root().join(n));
                    }
                }
            }
        }
        {
            let mut g = self.inner.lock().unwrap();
            let code = g.containers.remove(&id).map(|c| c.record.state.exit_code).unwrap_or(0);
            g.live.remove(&id);
            g.removed.insert(id.clone(), code);
        }
        self.container_event(&c, "destroy", &[]);
        self.notify();
        rm.map_err(DaemonError::from)
    }

    /// `POST /containers/{id}/wait?condition=`; returns the exit code.
    pub async fn wait(self: &Arc<Self>, id: &str, cond: WaitCondition) -> Result<i64, DaemonError> {
        let mut rx = self.changed.subscribe();
        let seq = self.exit_seq(id);
        loop {
            {
                let g = self.inner.lock().unwrap();
                match g.containers.get(id) {
                    None => {
                        return g.removed.get(id).copied().ok_or_else(|| DaemonError::no_such_container(id));
                    }
                    Some(c) => {
                        let s = &c.record.state;
                        let seq_now = g.live.get(id).map(|l| l.exit_seq).unwrap_or(0);
                        match cond {
                            WaitCondition::NotRunning if !s.running => return Ok(s.exit_code),
                            WaitCondition::NextExit if seq_now > seq => return Ok(s.exit_code),
                            _ => {}
                        }
                    }
                }
            }
            if rx.changed().await.is_err() {
                return Err(DaemonError::System("daemon shutting down".into()));
            }
        }
    }

    pub async fn pause(self: &Arc<Self>, r: &str, pause: bool) -> Result<(), DaemonError> {
        let id = self.resolve(r)?;
        let c = self.get(&id)?;
        if !c.record.state.running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        if pause && c.record.state.paused {
            return Err(DaemonError::Conflict(format!("Container {id} is already paused")));
        }
        if !pause && !c.record.state.paused {
            return Err(DaemonError::Conflict(format!("Container {id} is not paused")));
        }
        let rt = self.runtime.clone();
        let id2 = id.clone();
        blocking(move || rt.simple(&[if pause { "pause" } else { "resume" }, &id2]))
            .await
            .map_err(|e| DaemonError::System(e.to_string()))?;
        self.update(&id, |c| c.record.state.paused = pause)?;
        self.container_event(&c, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    pub fn resize(&self, r: &str, h: u16, w: u16) -> Result<(), DaemonError> {
        let id = self.resolve(r)?;
        let c = self.get(&id)?;
        if !c.record.state.running {
            return Err(DaemonError::Conflict(format!("Container {id} is not running")));
        }
        self.shim_call(&id, Request::Resize { height: h, width: w }).map(|_| ())
    }

    /// After a (possibly unclean) daemon start: reconnect to live shims, record exits that
    /// happened while we were away, and apply restart policies.
    pub async fn recover(self: &Arc<Self>) {
        let d = self.clone();
        blocking(move || d.net_reconcile()).await;
        let all: Vec<_> = self.inner.lock().unwrap().containers.values().cloned().collect();
        for c in all {
            let id = c.id().to_string();
            let s = &c.record.state;
            if s.running && !s.restarting {
                let dir = self.state_dir(&id);
                let sock = crate::shim::socket_path(&dir);
                let alive = proto::call(&sock, &Request::Status, Some(Duration::from_secs(2)));
                match alive {
                    Ok(r) if r.running => {
                        // Re-take the rootfs reference the previous daemon held (the overlay
                        // is still mounted), so export/commit don't unmount it under us.
                        if let Err(e) = self.images.mount_rootfs(&id) {
                            tracing::warn!(container = %id, error = %e, "can't re-take the running container's rootfs");
                        }
                        tracing::debug!(container = %id, pid = s.pid, "re-attached to a running container");
                        self.net_recover(&id, s.pid);
                        self.spawn_monitor(&id);
                        continue;
                    }
                    _ => {
                        let exit = proto::read_exit_file(&dir).unwrap_or(ExitStatus {
                            exit_code: 255,
                            oom_killed: false,
                            finished_at: time::now(),
                        });
                        self.handle_exit(&id, exit).await;
                        continue;
                    }
                }
            }
            let policy = Restart::from_policy(&c.host_config.restart_policy).unwrap_or(Restart::No);
            let should = s.restarting
                || match policy {
                    Restart::Always => c.record.has_been_started_before && !c.record.has_been_manually_stopped,
                    Restart::UnlessStopped => c.record.has_been_started_before && !c.record.has_been_manually_stopped,
                    _ => false,
                };
            if should {
                let _ = self.update(&id, |c| {
                    c.record.state.restarting = false;
                    c.record.state.running = false;
                });
                if let Err(e) = self.start(&id).await {
                    tracing::error!(container = %id, error = %e, "failed to restart container");
                }
            }
        }
    }
}

/// `SIGTERM`, `TERM`, `15` → 15.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (n > 0 && n < 65).then_some(n);
    }
    let u = s.to_ascii_uppercase();
    let name = u.strip_prefix("SIG").unwrap_or(&u);
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "WINCH" => libc::SIGWINCH,
        "ALRM" => libc::SIGALRM,
        "PIPE" => libc::SIGPIPE,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("kill"), Some(9));
        assert_eq!(parse_signal("2"), Some(2));
        assert_eq!(parse_signal("NOPE"), None);
        assert!(WaitCondition::parse(Some("bogus")).is_err());
    }
}
