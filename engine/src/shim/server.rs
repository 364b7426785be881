//! The shim process itself: socket server, stdio pumps, reaper, exit recording.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::log::{LineSplitter, LogWriter};
use super::proto::{self, ExitStatus, Request, Response};
use super::{console, Process, ShimConfig};

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Ready,
    Starting,
    Running(i32),
    Exited(ExitStatus),
    Failed(String),
}

struct Client {
    stream: UnixStream,
    stdout: bool,
    stderr: bool,
}

struct Inner {
    phase: Phase,
    clients: Vec<Client>,
    next_client: u64,
    /// Write side of the process' stdin (pipe, or a dup of the pty master).
    stdin: Option<File>,
    master: Option<OwnedFd>,
    /// Stdin that arrived before the process existed (the CLI attaches, writes and may even
    /// half-close before `start`); flushed into the process' stdin once it exists.
    early_stdin: Vec<u8>,
    /// A StdinOnce client hung up before the process existed: close stdin right after the flush.
    early_eof: bool,
}

struct Shim {
    cfg: ShimConfig,
    dir: PathBuf,
    inner: Mutex<Inner>,
    cond: Condvar,
    log: Mutex<Option<LogWriter>>,
}

pub fn run(dir: &Path) -> std::io::Result<()> {
    let cfg = ShimConfig::load(dir)?;
    // Orphaned container processes (runtime create exits, leaving init behind) become ours to reap.
    // SAFETY: plain prctl with integer args.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // Bind relative to our state dir: its absolute path may exceed sun_path.
    std::env::set_current_dir(dir)?;
    let sock = super::socket_path(dir);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind("shim.sock")?;
    {
        use std::os::unix::fs::MetadataExt;
        SOCKET_INODE.store(std::fs::metadata(&sock)?.ino(), std::sync::atomic::Ordering::SeqCst);
    }
    std::fs::write(dir.join("shim.pid"), std::process::id().to_string())?;
    let log = match &cfg.log_path {
        Some(p) => Some(LogWriter::open(p)?),
        None => None,
    };
    let shim = Arc::new(Shim {
        cfg,
        dir: dir.to_path_buf(),
        inner: Mutex::new(Inner { phase: Phase::Ready, clients: vec![], next_client: 0, stdin: None, master: None, early_stdin: vec![], early_eof: false }),
        cond: Condvar::new(),
        log: Mutex::new(log),
    });
    // A shim whose process never gets started (berthd died in between) must not live forever.
    let s2 = shim.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(120));
        if matches!(s2.inner.lock().unwrap().phase, Phase::Ready) {
            std::process::exit(1);
        }
    });
    notify_ready();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let s = shim.clone();
        std::thread::spawn(move || s.handle(conn));
    }
    Ok(())
}

/// Tell whoever started us that the socket accepts connections: one line on stdout (a
/// pipe berthd waits on, instead of polling the socket), then stdout goes to /dev/null so
/// that nothing later can block on, or die of, a pipe nobody reads.
fn notify_ready() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"ready\n").and_then(|_| out.flush());
    drop(out);
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto our own stdout.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}

/// Inode of the socket we bound: a successor shim (container restarted) may already have
/// bound a new socket at the same path, which we must not remove on our way out.
static SOCKET_INODE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn remove_own_socket(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let sock = super::socket_path(dir);
    if std::fs::metadata(&sock).map(|m| m.ino()).ok() == Some(SOCKET_INODE.load(std::sync::atomic::Ordering::SeqCst)) {
        let _ = std::fs::remove_file(&sock);
    }
}

fn write_nonblocking(f: &File, data: &[u8]) -> std::io::Result<()> {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl flag juggling on an fd we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    let mut w: &File = f;
    let r = w.write_all(data);
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    r
}

fn reply(w: &mut UnixStream, r: &Response) {
    let mut line = serde_json::to_vec(r).expect("response serializes");
    line.push(b'\n');
    let _ = w.write_all(&line);
}

fn err(msg: impl Into<String>) -> Response {
    Response { error: Some(msg.into()), ..Default::default() }
}

impl Shim {
    fn handle(self: Arc<Self>, conn: UnixStream) {
        let mut reader = BufReader::new(match conn.try_clone() {
            Ok(c) => c,
            Err(_) => return,
        });
        let mut w = conn;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => return reply(&mut w, &err(format!("bad request: {e}"))),
        };
        match req {
            Request::Status => {
                let r = self.status();
                reply(&mut w, &r);
            }
            Request::Start => {
                let r = self.start();
                reply(&mut w, &r);
            }
            Request::Wait => {
                let mut g = self.inner.lock().unwrap();
                loop {
                    match &g.phase {
                        Phase::Exited(_) | Phase::Failed(_) => break,
                        _ => g = self.cond.wait(g).unwrap(),
                    }
                }
                drop(g);
                let r = self.status();
                reply(&mut w, &r);
            }
            Request::Kill { signal } => {
                let g = self.inner.lock().unwrap();
                if let Phase::Running(pid) = g.phase {
                    // SAFETY: kill(2) on the process we reap; it cannot have been reused before we reap it.
                    let rc = unsafe { libc::kill(pid, signal) };
                    drop(g);
                    if rc != 0 {
                        return reply(&mut w, &err(format!("kill: {}", std::io::Error::last_os_error())));
                    }
                }
                let r = self.status();
                reply(&mut w, &r);
            }
            Request::Resize { height, width } => {
                let g = self.inner.lock().unwrap();
                let r = match &g.master {
                    Some(m) => match console::resize(m.as_raw_fd(), height, width) {
                        Ok(()) => Response::default(),
                        Err(e) => err(format!("resize: {e}")),
                    },
                    None => Response::default(),
                };
                drop(g);
                reply(&mut w, &r);
            }
            Request::Attach { stdin, stdout, stderr } => self.attach(w, reader, stdin, stdout, stderr),
        }
    }

    fn status(&self) -> Response {
        let g = self.inner.lock().unwrap();
        match &g.phase {
            Phase::Running(pid) => Response { pid: *pid as i64, running: true, ..Default::default() },
            Phase::Exited(e) => Response { exit: Some(e.clone()), ..Default::default() },
            Phase::Failed(e) => err(e.clone()),
            Phase::Ready | Phase::Starting => Response::default(),
        }
    }

    fn attach(self: Arc<Self>, mut w: UnixStream, mut reader: BufReader<UnixStream>, stdin: bool, stdout: bool, stderr: bool) {
        let id = {
            let mut g = self.inner.lock().unwrap();
            if matches!(g.phase, Phase::Exited(_) | Phase::Failed(_)) {
                drop(g);
                reply(&mut w, &Response::default());
                return;
            }
            let id = g.next_client;
            g.next_client += 1;
            if let Ok(s) = w.try_clone() {
                let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
                g.clients.push(Client { stream: s, stdout, stderr });
            }
            id
        };
        reply(&mut w, &Response::default());
        // Read stdin from the client until it half-closes or goes away.
        let mut buf = [0u8; 32 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !stdin {
                continue;
            }
            let mut g = self.inner.lock().unwrap();
            if matches!(g.phase, Phase::Ready | Phase::Starting) && g.stdin.is_none() {
                g.early_stdin.extend_from_slice(&buf[..n]);
                continue;
            }
            if let Some(f) = g.stdin.as_mut() {
                if f.write_all(&buf[..n]).is_err() {
                    g.stdin = None;
                }
            }
        }
        // EOF here is usually a half-close (the CLI's CloseWrite once stdin is done): keep
        // sending output; a client that is really gone is dropped when a write fails.
        let _ = id;
        let mut g = self.inner.lock().unwrap();
        if stdin && self.cfg.stdin_once && !self.cfg.tty {
            // `StdinOnce`: the first attached client's EOF closes the process' stdin.
            if matches!(g.phase, Phase::Ready | Phase::Starting) && g.stdin.is_none() {
                g.early_eof = true;
            }
            g.stdin = None;
        }
    }

    fn broadcast(&self, stream: u8, data: &[u8]) {
        let frame = proto::frame(stream, data);
        let mut g = self.inner.lock().unwrap();
        g.clients.retain_mut(|c| {
            let wanted = if stream == proto::STDERR { c.stderr } else { c.stdout };
            !wanted || c.stream.write_all(&frame).is_ok()
        });
    }

    fn start(self: &Arc<Self>) -> Response {
        {
            let mut g = self.inner.lock().unwrap();
            if g.phase != Phase::Ready {
                return err("process already started");
            }
            g.phase = Phase::Starting;
        }
        match self.spawn_process() {
            Ok(pid) => Response { pid: pid as i64, running: true, ..Default::default() },
            Err(e) => {
                let mut g = self.inner.lock().unwrap();
                g.phase = Phase::Failed(e.clone());
                self.cond.notify_all();
                drop(g);
                // Let the reply go out, then leave.
                let d = self.dir.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    remove_own_socket(&d);
                    std::process::exit(0);
                });
                err(e)
            }
        }
    }

    fn spawn_process(self: &Arc<Self>) -> Result<i32, String> {
        let cfg = &self.cfg;
        let pid_file = self.dir.join("process.pid");
        let runtime_log = self.dir.join("runtime.log");
        let _ = std::fs::remove_file(&pid_file);
        let _ = std::fs::remove_file(&runtime_log);
        let mut cmd = cfg.runtime.command(Some(&runtime_log));
        cmd.current_dir(&self.dir);
        let (op, what) = match &cfg.process {
            // `run --detach` is create + start in one runtime invocation: one process
            // start-up (a Go runtime for runc) less on every `docker run`. The output pipes
            // and the console socket exist before it, so nothing is lost.
            Process::Init { bundle } => {
                cmd.arg("run").arg("--detach").arg("--bundle").arg(bundle);
                ("create", "OCI runtime create failed")
            }
            Process::Exec { process_file, .. } => {
                cmd.arg("exec").arg("--process").arg(process_file).arg("--detach");
                ("exec", "OCI runtime exec failed")
            }
        };
        cmd.arg("--pid-file").arg(&pid_file);
        let mut pumps = Vec::new();
        let mut console_listener = None;
        if cfg.tty {
            let cs = self.dir.join("console.sock");
            let _ = std::fs::remove_file(&cs);
            let l = UnixListener::bind("console.sock").map_err(|e| format!("console socket: {e}"))?;
            // Relative to the runtime's cwd (our state dir), for the same sun_path reason.
            cmd.arg("--console-socket").arg("console.sock");
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            console_listener = Some(l);
        } else {
            let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
            let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
            if cfg.open_stdin {
                let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
                cmd.stdin(Stdio::from(in_r));
                self.set_stdin(File::from(in_w));
            } else {
                cmd.stdin(Stdio::null());
            }
            cmd.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
            pumps.push((File::from(out_r), proto::STDOUT));
            pumps.push((File::from(err_r), proto::STDERR));
        }
        match &cfg.process {
            Process::Init { .. } => cmd.arg(&cfg.id),
            Process::Exec { container_id, .. } => cmd.arg(container_id),
        };
        let receiver = console_listener.map(|l| std::thread::spawn(move || console::receive_master(&l)));
        let status = cmd.status().map_err(|e| format!("{what}: cannot run {}: {e}", cfg.runtime.program.display()));
        drop(cmd); // closes our copies of the child's stdio ends, so pumps see EOF later
        let status = status?;
        if !status.success() {
            let log = std::fs::read_to_string(&runtime_log).unwrap_or_default();
            // Unblock the console receiver if the runtime never connected.
            let _ = crate::util::sock::connect(&self.dir.join("console.sock"));
            let msg = super::runtime::last_error(&log);
            // Docker's text names the create step (containerd creates, then starts).
            let run_prefix = format!("{} run failed", cfg.runtime.name);
            let msg = match msg.strip_prefix(&run_prefix) {
                Some(rest) => format!("{} create failed{rest}", cfg.runtime.name),
                None => msg,
            };
            let msg = if msg.starts_with(&format!("{} {op}", cfg.runtime.name)) || msg.contains(" failed: ") {
                msg
            } else {
                format!("{} {op} failed: {msg}", cfg.runtime.name)
            };
            return Err(format!("{what}: {msg}: unknown"));
        }
        if let Some(r) = receiver {
            let master = r.join().map_err(|_| "console receiver panicked".to_string())?.map_err(|e| format!("console: {e}"))?;
            let rd = master.try_clone().map_err(|e| format!("dup: {e}"))?;
            let wr = master.try_clone().map_err(|e| format!("dup: {e}"))?;
            self.inner.lock().unwrap().master = Some(master);
            self.set_stdin(File::from(wr));
            pumps.push((File::from(rd), proto::STDOUT));
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("{what}: runtime wrote no pid file"))?;
        let handles: Vec<_> = pumps
            .into_iter()
            .map(|(f, stream)| {
                let s = self.clone();
                std::thread::spawn(move || s.pump(f, stream))
            })
            .collect();
        self.inner.lock().unwrap().phase = Phase::Running(pid);
        let s = self.clone();
        std::thread::spawn(move || s.reap(pid, handles));
        Ok(pid)
    }

    /// Install the process' stdin, first writing what clients sent before it existed.
    fn set_stdin(&self, f: File) {
        let mut g = self.inner.lock().unwrap();
        let early = std::mem::take(&mut g.early_stdin);
        // A pipe holds 64 KiB; more early input than that is cut rather than blocking start.
        let _ = write_nonblocking(&f, &early);
        if !(g.early_eof && !self.cfg.tty) {
            g.stdin = Some(f);
        }
    }

    fn pump(&self, mut f: File, stream: u8) {
        let name = if stream == proto::STDERR { "stderr" } else { "stdout" };
        let mut split = LineSplitter::default();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break, // EIO on a pty master once the slave side is gone
            };
            self.broadcast(stream, &buf[..n]);
            let msgs = split.push(&buf[..n]);
            if let Some(l) = self.log.lock().unwrap().as_mut() {
                for m in msgs {
                    let _ = l.write(&m, name);
                }
            }
        }
        if let (Some(rest), Some(l)) = (split.finish(), self.log.lock().unwrap().as_mut()) {
            let _ = l.write(&rest, name);
        }
    }

    fn reap(self: Arc<Self>, pid: i32, pumps: Vec<std::thread::JoinHandle<()>>) {
        let code = loop {
            let mut st = 0;
            // SAFETY: waitpid on our (adopted) child.
            let r = unsafe { libc::waitpid(pid, &mut st, 0) };
            if r == pid {
                if libc::WIFEXITED(st) {
                    break libc::WEXITSTATUS(st) as i64;
                }
                if libc::WIFSIGNALED(st) {
                    break 128 + libc::WTERMSIG(st) as i64;
                }
                continue;
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            // Not our child (should not happen): poll for its disappearance instead.
            // SAFETY: signal 0 only checks existence.
            while unsafe { libc::kill(pid, 0) } == 0 {
                std::thread::sleep(Duration::from_millis(50));
            }
            break 255;
        };
        // Drain the output, but don't hang on a grandchild that kept the pipe open.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for h in pumps {
                let _ = h.join();
            }
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(Duration::from_secs(2));
        let oom_killed = code == 137 && self.oom_killed();
        let exit = ExitStatus { exit_code: code, oom_killed, finished_at: crate::util::time::now() };
        if let Ok(data) = serde_json::to_vec(&exit) {
            let _ = crate::util::fs::write_atomic_volatile(&self.dir.join("exit.json"), &data, 0o600);
        }
        let mut g = self.inner.lock().unwrap();
        g.phase = Phase::Exited(exit);
        g.stdin = None;
        for c in g.clients.drain(..) {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        self.cond.notify_all();
        drop(g);
        // Runtime cleanup (state dir, cgroup) after the waiters know: it is not on the
        // critical path of `run --rm`.
        if let Process::Init { .. } = self.cfg.process {
            let _ = self.cfg.runtime.simple(&["delete", "--force", &self.cfg.id]);
        }
        // Give pending `wait` replies a moment to go out, then leave; exit.json stays for berthd.
        std::thread::sleep(Duration::from_millis(300));
        remove_own_socket(&self.dir);
        std::process::exit(0);
    }

    fn oom_killed(&self) -> bool {
        let Some(cg) = &self.cfg.cgroup_path else { return false };
        let cg = cg.trim_start_matches('/');
        for f in [format!("/sys/fs/cgroup/memory/{cg}/memory.oom_control"), format!("/sys/fs/cgroup/{cg}/memory.events")] {
            if let Ok(s) = std::fs::read_to_string(&f) {
                return s.lines().any(|l| l.strip_prefix("oom_kill ").and_then(|n| n.trim().parse::<u64>().ok()).unwrap_or(0) > 0);
            }
        }
        false
    }
}
