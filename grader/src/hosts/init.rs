//! The `berth-lab-host` helper: the processes that hold a lab's namespaces, and a hand-written
//! nsenter. Runs single-threaded (unshare of mount namespaces and setns into pid namespaces
//! need that), and daemonizes by forking so the grader never leaves zombies behind.
//!
//! - `lan --tag T --address A/P`: a process in a fresh network namespace holding bridge `br0`
//!   (the lab LAN) with address A; prints `pid N` and `ready`.
//! - `host --tag T --name vm1 --hostname vm1 --dir D --lan-pid N --address A/P [--procs F]…`:
//!   fresh net/mount/uts/ipc namespaces, a veth into the LAN, the host's private directories
//!   mounted, then a fresh pid namespace whose init (pid 1) reaps orphans until killed.
//! - `exec --tag T --pid N [--procs F]… [--cwd DIR] -- CMD…`: joins the ipc, uts, net, pid and
//!   mount namespaces of N (and its cgroups), runs CMD as a child and exits with its status.
//!
//! Every network command runs only after checking that the process really is in a network
//! namespace other than the one it started in: the machine's root namespace is never touched.

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::Command;

type R<T> = Result<T, String>;

/// Where a host sees the directory holding berth's binaries (first on its PATH).
pub const BIN_DIR: &str = "/run/berth-lab/bin";
/// Where a host sees the lab's folder ($BERTH_LAB_DIR).
pub const LAB_DIR: &str = "/run/berth-lab/lab";
/// Where a host sees the fixture image archives (`docker load -i /run/berth-lab/images/busybox.tar`).
pub const IMAGES_DIR: &str = "/run/berth-lab/images";

static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Entry point of the binary; returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let r = match args.get(1).map(String::as_str) {
        Some("lan") => lan(&Args::parse(&args[2..])),
        Some("host") => host(&Args::parse(&args[2..])),
        Some("fake-engine") => fake_engine(&Args::parse(&args[2..])),
        Some("token-server") => crate::token_server::Config::from_args(&args[2..])
            .and_then(crate::token_server::serve)
            .map_err(|e| e.to_string()),
        Some("exec") => {
            return exec(&args[2..]).unwrap_or_else(|e| {
                eprintln!("berth-lab-host exec: {e}");
                126
            })
        }
        _ => Err("usage: berth-lab-host lan|host|exec|token-server …".into()),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth-lab-host: {e}");
            1
        }
    }
}

struct Args(Vec<(String, String)>);

impl Args {
    fn parse(a: &[String]) -> Args {
        Args(
            a.chunks(2)
                .filter_map(|c| {
                    Some((c[0].trim_start_matches("--").to_string(), c.get(1)?.clone()))
                })
                .collect(),
        )
    }
    fn get(&self, k: &str) -> R<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("missing --{k}"))
    }
    fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn netns_inode(path: &str) -> R<u64> {
    let t = std::fs::read_link(path).map_err(|e| format!("{path}: {e}"))?;
    let t = t.to_string_lossy();
    t.rsplit_once('[')
        .and_then(|(_, n)| n.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("{path}: {t}"))
}

/// Runs `ip ARGS` after proving we are not in the network namespace `forbidden`.
fn ip(forbidden: u64, args: &[&str]) -> R<()> {
    let cur = netns_inode("/proc/self/ns/net")?;
    if cur == forbidden {
        return Err("refusing to run ip in the machine's network namespace".into());
    }
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

fn say(line: &str) {
    let mut o = std::io::stdout();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

/// Detaches the daemon child from the grader's terminal and pipes.
fn detach(log: Option<File>) {
    let _ = nix::unistd::setsid();
    if let Ok(null) = File::open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
    }
    if let Some(f) = log.or_else(|| File::options().write(true).open("/dev/null").ok()) {
        let _ = nix::unistd::dup2(f.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(f.as_raw_fd(), 2);
    }
}

fn lan(a: &Args) -> R<()> {
    let _tag = a.get("tag")?;
    let address = a.get("address")?;
    let outer = netns_inode("/proc/self/ns/net")?;
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(net): {e}"))?;
    ip(outer, &["link", "set", "lo", "up"])?;
    ip(outer, &["link", "add", "br0", "type", "bridge"])?;
    ip(outer, &["addr", "add", address, "dev", "br0"])?;
    ip(outer, &["link", "set", "br0", "up"])?;
    // SAFETY: single-threaded process; the child only calls async-signal-safe functions
    // and pause() in a loop.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => {
            say(&format!("pid {child}"));
            say("ready");
            Ok(())
        }
        ForkResult::Child => {
            detach(None);
            loop {
                nix::unistd::pause();
            }
        }
    }
}

fn open_dir(p: &str) -> R<File> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {p}: {e}"))?;
    File::open(p).map_err(|e| format!("open {p}: {e}"))
}

fn bind(src: &File, target: &str) -> R<()> {
    let s = format!("/proc/self/fd/{}", src.as_raw_fd());
    mount(
        Some(s.as_str()),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("bind mount onto {target}: {e}"))
}

fn overlay(dir: &str, target: &str, name: &str) -> R<()> {
    let base = format!("{dir}/{name}");
    let try_mount = || -> R<()> {
        let (upper, work) = (format!("{base}/upper"), format!("{base}/work"));
        std::fs::create_dir_all(&upper).map_err(|e| format!("mkdir {upper}: {e}"))?;
        std::fs::create_dir_all(&work).map_err(|e| format!("mkdir {work}: {e}"))?;
        let opts = format!("lowerdir={target},upperdir={upper},workdir={work}");
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_str()),
        )
        .map_err(|e| format!("overlay on {target}: {e}"))
    };
    try_mount().or_else(|first| {
        // The state dir's filesystem cannot hold an upper dir (e.g. it is itself an overlay):
        // use a tmpfs, mounted in the host's private mount namespace, so it dies with the host.
        std::fs::create_dir_all(&base).map_err(|e| format!("mkdir {base}: {e}"))?;
        mount(
            Some("tmpfs"),
            base.as_str(),
            Some("tmpfs"),
            MsFlags::empty(),
            Some("mode=0755"),
        )
        .map_err(|e| format!("{first}; tmpfs fallback on {base}: {e}"))?;
        try_mount().map_err(|e| format!("{first}; on tmpfs too: {e}"))
    })
}

/// The host's own writable places: everything else in its mount namespace is the machine's
/// filesystem, made read-only so that a student's `mkdir /docker_www` fails with EROFS instead
/// of writing to the real machine. /proc, /sys (cgroupfs) and /dev stay writable: berthd needs
/// them, and they hold no files of the machine's disk.
const WRITABLE: &[(&str, bool)] = &[
    ("/var/lib/berth", false),
    ("/var/lib", false),
    ("/etc", false),
    ("/run", false),
    ("/root", false),
    ("/tmp", false),
    ("/proc", true),
    ("/sys", true),
    ("/dev", true),
];

/// `struct mount_attr` of mount_setattr(2) (not wrapped by nix 0.29).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn mount_setattr(path: &str, recursive: bool, set: u64, clr: u64) -> R<()> {
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let c = std::ffi::CString::new(path).map_err(|e| e.to_string())?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: valid C string and a mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(format!(
            "mount_setattr {path}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Makes every mount of the host's (private) mount namespace read-only, then gives write access
/// back to the host's own directories. Only this namespace's copies of the mounts change: the
/// machine keeps its writable mounts (the namespace was made private before).
fn read_only_machine() -> R<()> {
    const RDONLY: u64 = 0x1; // MOUNT_ATTR_RDONLY
    mount_setattr("/", true, RDONLY, 0)?;
    for (p, recursive) in WRITABLE {
        if std::path::Path::new(p).exists() {
            mount_setattr(p, *recursive, 0, RDONLY)?;
        }
    }
    Ok(())
}

fn host(a: &Args) -> R<()> {
    let (_tag, name, hostname, dir) = (
        a.get("tag")?,
        a.get("name")?,
        a.get("hostname")?,
        a.get("dir")?,
    );
    let (lan_pid, address) = (a.get("lan-pid")?, a.get("address")?);
    let outer = netns_inode("/proc/self/ns/net")?;
    let lan_path = format!("/proc/{lan_pid}/ns/net");
    let lan_ino = netns_inode(&lan_path)?;
    if lan_ino == outer {
        return Err("the LAN holder is in the machine's network namespace".into());
    }
    let lan_fd = File::open(&lan_path).map_err(|e| format!("{lan_path}: {e}"))?;
    let hosts_file =
        std::fs::read_to_string(format!("{dir}/hosts")).map_err(|e| format!("{dir}/hosts: {e}"))?;
    for p in a.all("procs") {
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| format!("joining cgroup {p}: {e}"))?;
    }

    // The init's log, opened on the machine's mount (before the new mount namespace): a file
    // open for writing on one of the namespace's mounts would keep it from turning read-only,
    // and the private /tmp may hide the state dir later.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{dir}/init.log"))
        .map_err(|e| format!("{dir}/init.log: {e}"))?;
    let flags = CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    unshare(flags).map_err(|e| format!("unshare: {e}"))?;
    let mine = netns_inode("/proc/self/ns/net")?;
    let host_fd = File::open("/proc/self/ns/net").map_err(|e| e.to_string())?;
    ip(outer, &["link", "set", "lo", "up"])?;
    // The LAN end is created directly in the LAN namespace: no veth ever exists in the root one.
    ip(
        outer,
        &[
            "link", "add", "eth0", "type", "veth", "peer", "name", name, "netns", lan_pid,
        ],
    )?;
    ip(outer, &["addr", "add", address, "dev", "eth0"])?;
    ip(outer, &["link", "set", "eth0", "up"])?;
    setns(&lan_fd, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns(lan): {e}"))?;
    let r = (|| {
        if netns_inode("/proc/self/ns/net")? != lan_ino {
            return Err("setns into the LAN did not take".to_string());
        }
        ip(outer, &["link", "set", name, "master", "br0"])?;
        ip(outer, &["link", "set", name, "up"])
    })();
    setns(&host_fd, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns(host): {e}"))?;
    r?;
    if netns_inode("/proc/self/ns/net")? != mine {
        return Err("could not return to the host's network namespace".into());
    }
    nix::unistd::sethostname(hostname).map_err(|e| format!("sethostname: {e}"))?;

    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making / private: {e}"))?;
    // Sources of the private directories, opened in the new mount namespace (a bind source must
    // belong to it) but before any mount changes what their paths mean (the state dir may well
    // live below /tmp or /run).
    let srcs: Vec<(File, &str)> = [
        ("var-lib-berth", "/var/lib/berth"),
        ("root", "/root"),
        ("run", "/run"),
        ("tmp", "/tmp"),
    ]
    .iter()
    .map(|(d, t)| Ok((open_dir(&format!("{dir}/{d}"))?, *t)))
    .collect::<R<_>>()?;
    // The grader's binaries and the lab's files, shown read-only at fixed places inside the
    // host (their real paths may be hidden by the private /tmp or /run).
    let shared: Vec<(File, &str)> = [
        ("bin-dir", BIN_DIR),
        ("lab-dir", LAB_DIR),
        ("images-dir", IMAGES_DIR),
        ("hub-dir", super::hub::STORAGE_DIR),
        ("apt-dir", super::hub::APT_DIR),
    ]
    .iter()
    .filter_map(|(k, t)| a.get(k).ok().map(|p| (p, *t)))
    .map(|(p, t)| Ok((File::open(p).map_err(|e| format!("{p}: {e}"))?, t)))
    .collect::<R<_>>()?;
    overlay(dir, "/etc", "etc")?;
    overlay(dir, "/var/lib", "var-lib")?;
    std::fs::create_dir_all("/var/lib/berth").map_err(|e| format!("mkdir /var/lib/berth: {e}"))?;
    std::fs::create_dir_all("/etc/berth").map_err(|e| format!("mkdir /etc/berth: {e}"))?;
    std::fs::write("/etc/hostname", format!("{hostname}\n"))
        .map_err(|e| format!("/etc/hostname: {e}"))?;
    std::fs::write("/etc/hosts", hosts_file).map_err(|e| format!("/etc/hosts: {e}"))?;
    for (src, target) in &srcs {
        bind(src, target)?;
    }
    drop(srcs);
    for (src, target) in &shared {
        std::fs::create_dir_all(target).map_err(|e| format!("mkdir {target}: {e}"))?;
        bind(src, target)?;
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(None::<&str>, *target, None::<&str>, ro, None::<&str>)
            .map_err(|e| format!("read-only {target}: {e}"))?;
    }
    drop(shared);
    read_only_machine()?;

    unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare(pid): {e}"))?;
    // SAFETY: single-threaded; the child becomes the pid namespace's init.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { child } => {
            say(&format!("pid {child}"));
            Ok(())
        }
        ForkResult::Child => {
            let r = mount(
                Some("proc"),
                "/proc",
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None::<&str>,
            );
            if let Err(e) = r {
                eprintln!("berth-lab-host: mounting /proc: {e}");
                std::process::exit(1);
            }
            say("ready");
            detach(Some(log));
            reap_forever()
        }
    }
}

/// pid 1 of a host: adopt and reap orphans; SIGTERM ends the host (the kernel then kills every
/// process of the namespace). Signals are taken with sigwait: an ignored SIGCHLD would never
/// wake a pause(), and zombies would pile up.
fn reap_forever() -> ! {
    use nix::sys::signal::SigSet;
    use nix::sys::wait::WaitPidFlag;
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.add(Signal::SIGTERM);
    let _ = set.thread_block();
    loop {
        while let Ok(st) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            if st == WaitStatus::StillAlive {
                break;
            }
        }
        if let Ok(Signal::SIGTERM) = set.wait() {
            std::process::exit(0);
        }
    }
}

fn exec(args: &[String]) -> R<i32> {
    let sep = args
        .iter()
        .position(|a| a == "--")
        .ok_or("missing -- before the command")?;
    let a = Args::parse(&args[..sep]);
    let cmd = &args[sep + 1..];
    if cmd.is_empty() {
        return Err("no command".into());
    }
    let pid = a.get("pid")?;
    let cwd = a.get("cwd").unwrap_or("/root");
    let _tag = a.get("tag")?;
    let mut fds = Vec::new();
    for (ns, flag) in [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ] {
        let p = format!("/proc/{pid}/ns/{ns}");
        fds.push((
            File::open(&p).map_err(|e| format!("{p}: {e} (is the host running?)"))?,
            flag,
            p,
        ));
    }
    for p in a.all("procs") {
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| format!("joining cgroup {p}: {e}"))?;
    }
    for (fd, flag, p) in &fds {
        setns(fd, *flag).map_err(|e| format!("setns {p}: {e}"))?;
    }
    let _ = std::env::set_current_dir(cwd).or_else(|_| std::env::set_current_dir("/"));
    // SAFETY: single-threaded; the child execs right away.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            use std::os::unix::process::CommandExt;
            let e = Command::new(&cmd[0]).args(&cmd[1..]).exec();
            eprintln!("berth-lab-host exec: {}: {e}", cmd[0]);
            std::process::exit(127);
        }
        ForkResult::Parent { child } => {
            CHILD.store(child.as_raw(), std::sync::atomic::Ordering::SeqCst);
            extern "C" fn on_term(_: libc::c_int) {
                let c = CHILD.load(std::sync::atomic::Ordering::SeqCst);
                // SAFETY: kill is async-signal-safe.
                unsafe { libc::kill(c, libc::SIGKILL) };
            }
            // The terminal's ^C belongs to the command, not to us; SIGTERM (a timeout) kills
            // the command inside the host too.
            // SAFETY: SIG_IGN, and a handler that only calls kill.
            unsafe {
                let _ = signal(Signal::SIGINT, SigHandler::SigIgn);
                let _ = signal(Signal::SIGQUIT, SigHandler::SigIgn);
                let _ = signal(Signal::SIGTERM, SigHandler::Handler(on_term));
            }
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, c)) => return Ok(c),
                    Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
                    Ok(_) => continue,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(format!("waitpid: {e}")),
                }
            }
        }
    }
}

/// A stand-in for berthd's API until the engine exists: serves `GET /containers/json` and
/// `GET /images/json` over a unix socket from JSON files re-read on every request (`--dir D`:
/// D/containers.json, D/images.json). Used by the platform self-test lab's `services` hook.
fn fake_engine(a: &Args) -> R<()> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;
    let (socket, dir) = (a.get("socket")?, a.get("dir")?);
    let _ = std::fs::remove_file(socket);
    let l = UnixListener::bind(socket).map_err(|e| format!("{socket}: {e}"))?;
    for s in l.incoming().flatten() {
        let mut line = String::new();
        let mut r = BufReader::new(&s);
        if r.read_line(&mut line).is_err() {
            continue;
        }
        // Drain the rest of the request head so closing does not reset the connection.
        let mut h = String::new();
        while r.read_line(&mut h).map(|n| n > 0).unwrap_or(false) && h != "\r\n" {
            h.clear();
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let file = match path.split('?').next() {
            Some("/containers/json") => "containers.json",
            Some("/images/json") => "images.json",
            _ => "",
        };
        let body = std::fs::read_to_string(format!("{dir}/{file}")).unwrap_or_else(|_| "[]".into());
        let (status, body) = if file.is_empty() {
            (
                "404 Not Found",
                "{\"message\":\"page not found\"}".to_string(),
            )
        } else {
            ("200 OK", body)
        };
        let mut w = &s;
        let _ = write!(w, "HTTP/1.0 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    }
    Ok(())
}
