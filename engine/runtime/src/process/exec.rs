//! `exec`: a new process in a running container. A helper forked from the caller joins the
//! container's cgroups and every namespace of its init (`/proc/<pid>/ns/*`, user first, mount
//! last — setns into the mount namespace also moves root and cwd to the container's root), then
//! forks the process, which takes on the identity and execve's. Errors before execve come back
//! over the sync channel; its close-on-exec end closing means the process is running.

use super::channel::{self, ChannelError, Message};
use super::{command, console, fail, identity, io, write_atomic, ProcessError};
use crate::cgroups::CgroupManager;
use crate::namespaces::Plan;
use crate::spec::{Namespace, Process, Spec};
use crate::state::{State, Status};
use crate::syscall::{linux::LinuxSyscall, Syscall};
use std::os::fd::{IntoRawFd, RawFd};
use std::path::PathBuf;

pub struct ExecOptions {
    pub root: PathBuf,
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// As in CreateOptions: a foreground terminal proxied by the caller.
    pub console_fd: Option<RawFd>,
}

/// The container's spec (for its namespaces and default process settings) and state.
pub fn target(root: &std::path::Path, id: &str) -> Result<(State, Spec), ProcessError> {
    let st = State::load(root, id)?;
    if st.status(root) == Status::Stopped {
        return Err(ProcessError::Init("cannot exec in a stopped container".into()));
    }
    let spec = Spec::load(&st.bundle)?;
    Ok((st, spec))
}

/// Starts the process; returns its pid once it has been exec'd.
pub fn exec(opts: &ExecOptions, st: &State, spec: &Spec) -> Result<i32, ProcessError> {
    if opts.process.args.is_empty() {
        return Err(ProcessError::Invalid { field: "process.args", msg: "must contain at least one argument".into() });
    }
    let joins: Vec<Namespace> = spec
        .linux()
        .namespaces
        .iter()
        .map(|n| Namespace { typ: n.typ, path: Some(format!("/proc/{}/ns/{}", st.pid, n.typ.proc_name()).into()) })
        .collect();
    let plan = Plan::new(&joins)?;
    if opts.process.terminal && opts.console_socket.is_none() && opts.console_fd.is_none() {
        return Err(ProcessError::Invalid {
            field: "process.terminal",
            msg: "a terminal needs --console-socket when the process is detached".into(),
        });
    }
    let console_fd = match (&opts.console_socket, opts.console_fd) {
        (_, Some(fd)) => Some(fd),
        (Some(path), None) if opts.process.terminal => Some(
            std::os::unix::net::UnixStream::connect(path)
                .map_err(io(format!("--console-socket {}", path.display())))?
                .into_raw_fd(),
        ),
        _ => None,
    };
    let (parent_ch, child_ch) = channel::pair()?;
    // SAFETY: single-threaded caller; children leave through execve or _exit.
    let helper = match unsafe { nix::unistd::fork() } {
        Err(e) => return Err(ProcessError::Io { what: "fork".into(), source: e.into() }),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(parent_ch);
            helper(&plan, &opts.process, console_fd, opts.preserve_fds, &child_ch)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => child.as_raw(),
    };
    drop(child_ch);
    if let (Some(fd), None) = (console_fd, opts.console_fd) {
        unsafe { libc::close(fd) };
    }
    let result = (|| -> Result<i32, ProcessError> {
        if let Some(cg) = &st.cgroup {
            cg.add_task(helper)?;
        }
        parent_ch.send(&Message::Go)?;
        let mut pid = None;
        loop {
            match parent_ch.recv()? {
                Some(Message::InitPid(p)) => pid = Some(p),
                Some(Message::Error(e)) => return Err(ProcessError::Init(e)),
                Some(other) => return Err(ChannelError::Unexpected { expected: "InitPid", got: other }.into()),
                None => break,
            }
        }
        pid.ok_or_else(|| ProcessError::Init("exec helper exited early".into()))
    })();
    unsafe { libc::waitpid(helper, std::ptr::null_mut(), 0) };
    if result.is_err() {
        unsafe { libc::kill(helper, libc::SIGKILL) };
    }
    let pid = result?;
    if let Some(pf) = &opts.pid_file {
        write_atomic(pf, &pid.to_string()).map_err(io(format!("--pid-file {}", pf.display())))?;
    }
    Ok(pid)
}

fn helper(plan: &Plan, process: &Process, console_fd: Option<RawFd>, preserve_fds: i32, ch: &channel::Channel) -> ! {
    let sys = LinuxSyscall;
    if let Err(e) = ch.expect(Message::Go, "Go") {
        fail(ch, e.to_string());
    }
    if let Err(e) = plan.join_all(&sys) {
        fail(ch, e.to_string());
    }
    // SAFETY: single-threaded child.
    match unsafe { nix::unistd::fork() } {
        Err(e) => fail(ch, format!("fork: {e}")),
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            let _ = ch.send(&Message::InitPid(child.as_raw()));
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Child) => {
            let r = (|| -> Result<command::Exec, String> {
                unsafe {
                    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                    libc::setsid();
                }
                if let Some(sock) = console_fd {
                    let (master, slave, name) = console::open_pty().map_err(|e| format!("terminal: {e}"))?;
                    console::send_fd(sock, master, &name).map_err(|e| format!("terminal: {e}"))?;
                    unsafe {
                        libc::close(master);
                        libc::close(sock);
                    }
                    console::attach_slave(slave, &name, false).map_err(|e| format!("terminal: {e}"))?;
                }
                if let Some(adj) = process.oom_score_adj {
                    sys.write_file(std::path::Path::new("/proc/self/oom_score_adj"), &adj.to_string())
                        .map_err(|e| format!("process.oomScoreAdj: {e}"))?;
                }
                identity::apply(&sys, process, crate::capabilities::last_cap(), identity::setgroups_allowed())?;
                command::prepare(process, preserve_fds)
            })();
            match r {
                Ok(exec) => exec.run(process.user.umask),
                Err(e) => fail(ch, e),
            }
        }
    }
}

/// Reads an OCI process JSON (`exec --process FILE`); errors name the field.
pub fn load_process(path: &std::path::Path) -> Result<Process, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let p: Process = serde_path_to_error::deserialize(de).map_err(|e| {
        let msg = e.inner().to_string();
        let msg = msg.rfind(" at line ").map_or(msg.clone(), |i| msg[..i].to_string());
        format!("{}: {}: {msg}", path.display(), e.path())
    })?;
    if let Some(caps) = &p.capabilities {
        for (set, names) in caps.sets() {
            if let Some(bad) = names.iter().find(|n| crate::capabilities::cap_number(n).is_none()) {
                return Err(format!("{}: capabilities.{set}: unknown capability {bad:?}", path.display()));
            }
        }
    }
    Ok(p)
}
