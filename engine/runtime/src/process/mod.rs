//! Turning a bundle into a created container: the parent side of `create` (validation, state
//! claim, cgroups, fork, id maps, waiting for the init to be ready) and the children
//! (`stage1`: namespaces; `init`: the container process, blocked before execve until `start`).

pub mod channel;
mod command;
pub mod exec;
pub mod console;
pub mod identity;
mod init;
mod stage1;
mod user;

use crate::cgroups::{AnyManager, CgroupError, CgroupManager};
use crate::namespaces::{NamespaceError, Plan};
use crate::rootfs::{CgroupMounts, MountContext};
use crate::spec::{NamespaceType, Spec, SpecError};
use crate::state::{self, State, StateError};
use channel::{Channel, ChannelError, Message};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("config.json: {field}: {msg}")]
    Invalid { field: &'static str, msg: String },
    #[error("{0}")]
    Init(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ProcessError {
    let what = what.into();
    move |source| ProcessError::Io { what, source }
}

pub struct CreateOptions {
    pub id: String,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// `run` in the foreground with a terminal and no console socket: the caller proxies the pty
    /// itself and passes one end of a socketpair here.
    pub console_fd: Option<RawFd>,
}

/// Everything the children need, built before fork (children only read it).
pub(crate) struct InitArgs {
    pub spec: Spec,
    pub rootfs: PathBuf,
    pub plan: Plan,
    pub fifo_fd: RawFd,
    pub console_fd: Option<RawFd>,
    pub mounts: MountContext,
    pub preserve_fds: i32,
}

/// Undoes a half-done create: kills what was started, removes cgroups it made and the state dir.
struct Cleanup {
    dir: Option<PathBuf>,
    cgroup: Option<(AnyManager, Vec<PathBuf>)>,
    pids: Vec<i32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in &self.pids {
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        for pid in &self.pids {
            // Only our direct child (stage1) can be reaped; init is reparented.
            unsafe { libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG) };
        }
        if let Some((cg, made)) = &self.cgroup {
            kill_all(cg);
            let _ = cg.remove();
            for d in made.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// SIGKILLs every process in the container's cgroup and waits (briefly) until it is empty.
pub fn kill_all(cg: &AnyManager) {
    for _ in 0..200 {
        let pids = cg.pids().unwrap_or_default();
        if pids.is_empty() {
            return;
        }
        for p in pids {
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn validate(spec: &Spec) -> Result<(), ProcessError> {
    if spec.hostname.as_deref().is_some_and(|h| !h.is_empty()) && !spec.has_namespace(NamespaceType::Uts) {
        return Err(ProcessError::Invalid { field: "hostname", msg: "setting the hostname needs a uts namespace".into() });
    }
    // A sysctl outside the container's own namespaces would change the host.
    for key in spec.linux().sysctl.keys() {
        match crate::rootfs::sysctl_namespace(key) {
            Some(ns) if spec.has_namespace(ns) => {}
            Some(ns) => {
                return Err(ProcessError::Invalid {
                    field: "linux.sysctl",
                    msg: format!("{key:?} needs a {} namespace, which the spec does not have", ns.name()),
                })
            }
            None => {
                return Err(ProcessError::Invalid {
                    field: "linux.sysctl",
                    msg: format!("{key:?} is not in a separate kernel namespace"),
                })
            }
        }
    }
    Ok(())
}

fn rootfs_of(spec: &Spec, bundle: &Path) -> Result<PathBuf, ProcessError> {
    let p = &spec.root.as_ref().expect("validated").path;
    let full = if p.is_absolute() { p.clone() } else { bundle.join(p) };
    match std::fs::metadata(&full) {
        Ok(m) if m.is_dir() => Ok(full.canonicalize().unwrap_or(full)),
        Ok(_) => Err(ProcessError::Invalid { field: "root.path", msg: format!("{} is not a directory", full.display()) }),
        Err(e) => Err(ProcessError::Invalid { field: "root.path", msg: format!("{}: {e}", full.display()) }),
    }
}

fn cgroup_mounts(cg: &AnyManager, spec: &Spec) -> CgroupMounts {
    match cg {
        AnyManager::V1(m) => CgroupMounts::V1 {
            hierarchies: m
                .hierarchies
                .iter()
                .map(|h| {
                    let name = h.mountpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    (name, h.mountpoint.join(&m.path))
                })
                .collect(),
            cgroupns: spec.has_namespace(NamespaceType::Cgroup),
        },
        AnyManager::V2(m) => CgroupMounts::V2 { host_dir: m.dir(), cgroupns: spec.has_namespace(NamespaceType::Cgroup) },
    }
}

/// `create`: returns once the container init is blocked before execve.
pub fn create(opts: &CreateOptions) -> Result<State, ProcessError> {
    state::validate_id(&opts.id)?;
    let spec = Spec::load(&opts.bundle)?;
    validate(&spec)?;
    let rootfs = rootfs_of(&spec, &opts.bundle)?;
    let linux = spec.linux();
    let plan = Plan::new(&linux.namespaces)?;
    if spec.process().terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(ProcessError::Invalid {
            field: "process.terminal",
            msg: "a terminal needs --console-socket when the container is detached".into(),
        });
    }
    let cg_path = linux.cgroups_path.clone().unwrap_or_else(|| format!("/{}", opts.id));
    let cgroup = AnyManager::for_host(&cg_path)?;
    let resources = linux.resources.clone().unwrap_or_default();
    cgroup.validate(&resources)?;
    if state::State::load(&opts.root, &opts.id).is_ok() || state::container_dir(&opts.root, &opts.id).exists() {
        return Err(StateError::Exists(opts.id.clone()).into());
    }
    let console_fd = match (&opts.console_socket, opts.console_fd) {
        (_, Some(fd)) => Some(fd),
        (Some(path), None) if spec.process().terminal => Some(
            std::os::unix::net::UnixStream::connect(path)
                .map_err(io(format!("--console-socket {}", path.display())))?
                .into_raw_fd(),
        ),
        _ => None,
    };

    let dir = state::claim(&opts.root, &opts.id)?;
    let mut guard = Cleanup { dir: Some(dir.clone()), cgroup: None, pids: Vec::new() };
    let made = cgroup.create()?;
    guard.cgroup = Some((cgroup.clone(), made));
    cgroup.apply(&resources)?;

    let fifo = dir.join(state::EXEC_FIFO);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| ProcessError::Io { what: format!("mkfifo {}", fifo.display()), source: e.into() })?;
    // O_RDWR never blocks and keeps a reader alive, so `start` can open it non-blocking.
    let fifo_file = std::fs::OpenOptions::new().read(true).write(true).open(&fifo).map_err(io(format!("open {}", fifo.display())))?;

    let (parent_ch, child_ch) = channel::pair()?;
    let args = InitArgs {
        mounts: MountContext { userns: plan.in_user_namespace(), cgroups: cgroup_mounts(&cgroup, &spec) },
        spec,
        rootfs: rootfs.clone(),
        plan,
        fifo_fd: fifo_file.as_raw_fd(),
        console_fd,
        preserve_fds: opts.preserve_fds,
    };
    // SAFETY: berth's runtime is single-threaded here; the child only runs setup code and
    // leaves with execve or _exit.
    let stage1_pid = match unsafe { nix::unistd::fork() } {
        Err(e) => return Err(ProcessError::Io { what: "fork".into(), source: e.into() }),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(parent_ch);
            stage1::run(&args, &child_ch)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => child.as_raw(),
    };
    drop(child_ch);
    drop(fifo_file);
    if let Some(fd) = console_fd {
        if opts.console_fd.is_none() {
            unsafe { libc::close(fd) };
        }
    }
    guard.pids.push(stage1_pid);
    let init_pid = sync_with_children(&parent_ch, &args, stage1_pid, &mut guard);
    unsafe { libc::waitpid(stage1_pid, std::ptr::null_mut(), 0) };
    guard.pids.retain(|p| *p != stage1_pid);
    let init_pid = init_pid?;

    let start_time = state::proc_stat(init_pid).map(|s| s.1).ok_or_else(|| ProcessError::Init("container init exited during setup".into()))?;
    let st = State {
        oci_version: args.spec.oci_version.clone(),
        id: opts.id.clone(),
        pid: init_pid,
        start_time,
        bundle: opts.bundle.clone(),
        rootfs,
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: args.spec.annotations.clone(),
        cgroup: Some(cgroup),
    };
    st.save(&opts.root)?;
    if let Some(pf) = &opts.pid_file {
        write_atomic(pf, &init_pid.to_string()).map_err(io(format!("--pid-file {}", pf.display())))?;
    }
    // Success: nothing to undo.
    guard.pids.clear();
    guard.cgroup = None;
    guard.dir = None;
    Ok(st)
}

fn sync_with_children(ch: &Channel, args: &InitArgs, stage1: i32, guard: &mut Cleanup) -> Result<i32, ProcessError> {
    let (cg, _) = guard.cgroup.as_ref().expect("cgroup created");
    cg.add_task(stage1)?;
    ch.send(&Message::Go)?;
    let mut init_pid = None;
    loop {
        match ch.recv()? {
            Some(Message::MapIds) => {
                write_id_maps(stage1, &args.spec)?;
                ch.send(&Message::IdsMapped)?;
            }
            Some(Message::InitPid(p)) => {
                init_pid = Some(p);
                guard.pids.push(p);
            }
            Some(Message::Ready) => break,
            Some(Message::Error(e)) => return Err(ProcessError::Init(e)),
            Some(other) => return Err(ChannelError::Unexpected { expected: "Ready", got: other }.into()),
            None => return Err(ProcessError::Init("container init exited during setup".into())),
        }
    }
    init_pid.ok_or_else(|| ProcessError::Init("container init pid never arrived".into()))
}

fn write_id_maps(pid: i32, spec: &Spec) -> Result<(), ProcessError> {
    let linux = spec.linux();
    for (file, maps) in [("uid_map", &linux.uid_mappings), ("gid_map", &linux.gid_mappings)] {
        let text: String = maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect();
        if text.is_empty() {
            continue;
        }
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(io(format!("write {path}")))?;
    }
    Ok(())
}

pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Reports a setup failure to the parent and leaves the child without running destructors.
pub(crate) fn fail(ch: &Channel, msg: String) -> ! {
    let _ = ch.send(&Message::Error(msg));
    unsafe { libc::_exit(1) }
}
