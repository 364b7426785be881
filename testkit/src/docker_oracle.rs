//! Docker 20.10 as a differential oracle: a real `dockerd` (Debian bookworm's docker.io with its
//! containerd, runc and tini, unpacked by `cargo xtask docker-oracle` into
//! `target/docker-oracle/bin`, or `$BERTH_DOCKER_ORACLE`) that a test drives with the same docker
//! CLI it drives berthd with, to compare answers.
//!
//! ```no_run
//! # use berth_testkit::docker_oracle::DockerOracle;
//! let Some(docker) = DockerOracle::start().unwrap() else { return }; // "skipped: …" printed
//! docker.load_fixture("busybox").unwrap();
//! assert_eq!(docker.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
//! // docker.docker() is a Command for the CLI; docker.socket() the API socket.
//! ```
//!
//! **The sandbox.** dockerd never runs on the machine itself. [`DockerOracle::start`] runs
//! `unshare --mount --net --pid --fork --mount-proc --kill-child sh -c <script>`, whose script,
//! before it execs anything of Docker:
//! - makes every mount private (`mount --make-rprivate /`): no mount made inside reaches the
//!   machine, and all of them vanish with the namespace;
//! - brings up `lo` in the new network namespace, so docker0, its veths and addresses live only
//!   there (dockerd runs with `--iptables=false --ip-masq=false`: no firewall rule anywhere);
//! - bind-mounts the oracle's temp dir onto itself (it stays writable) and puts the daemon's
//!   whole state there: `--data-root`, `--exec-root`, `--pidfile`, `-H unix://<dir>/docker.sock`,
//!   `--config-file` (never /etc/docker/daemon.json), the trust key (`deprecated-key-path`,
//!   never /etc/docker/key.json), `TMPDIR`;
//! - picks the storage driver by trying an overlay mount: overlay2 on the temp dir's filesystem
//!   (on disk, like the test launcher's berthd), else overlay2 on a tmpfs mounted (in the
//!   sandbox only) over `<dir>/data` (when /tmp is itself overlayfs), else vfs
//!   ([`DockerOracle::storage_driver`] and [`DockerOracle::data_on_tmpfs`] tell which);
//! - mounts a fresh tmpfs on `/run` (containerd puts its shims' sockets in /run/containerd/s
//!   and dockerd its plugin dir in /run/docker whatever their config says, and dockerd would
//!   find a machine's /run/containerd socket and use that containerd instead of its own), makes `/proc/sys` read-only except `/proc/sys/net`
//!   (dockerd raises global sysctls such as kernel.keys.root_maxkeys when it can; net sysctls
//!   are per network namespace), and remounts `/` read-only (a per-mount flag of the sandbox's
//!   copy, not of the filesystem): whatever else Docker would write on the machine fails instead
//!   (containerd's `/opt/containerd` plugin does, harmlessly);
//! - `exec`s docker-init (tini) as the PID namespace's init, which runs dockerd with the unpacked
//!   bin dir first on a PATH without sbin dirs (so dockerd finds its containerd, runc and
//!   docker-init, and no `modprobe`), `--exec-opt native.cgroupdriver=cgroupfs` (never the
//!   machine's systemd) and a unique `--cgroup-parent /berth-oracle-<pid>-…`.
//!
//! **Why it is safe.** Every process Docker starts — containerd, shims, containers — is in the
//! sandbox's PID namespace, so killing its init (by PID, checked to be our unshare's child) makes
//! the kernel kill all of them; the namespace's mounts and network go with its last process.
//! What is left on the machine is the temp dir, removed only after checking that no mount is
//! under it, and the cgroups runc made under the unique parent, removed (empty) on drop. Drop
//! runs when a test panics too; if the test process itself dies, `unshare` (spawned with
//! `PR_SET_PDEATHSIG`) is killed by the kernel and `--kill-child` takes the sandbox with it;
//! the temp dir and the empty cgroups it then leaves are named after the dead test process's
//! PID, and the next `start` removes them.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::paths::{docker_cli, fixtures_dir, workspace_root};
use crate::run::Run;

/// What `bin/` must hold (see xtask's docker_oracle.rs).
const BINARIES: &[&str] = &["dockerd", "containerd", "containerd-shim-runc-v2", "runc", "docker-init"];

/// Names of the temp dirs and cgroup parents: `berth-oracle-<test process PID>-<random>`.
const PREFIX: &str = "berth-oracle-";

/// The sandbox's init script: `$1` the temp dir, `$2` the bin dir, `$3` the cgroup parent.
const SANDBOX: &str = r#"set -eu
dir="$1"; bin="$2"; parent="$3"
mount --make-rprivate /
ip link set lo up
mount --bind "$dir" "$dir"
mkdir -p "$dir/data" "$dir/exec" "$dir/tmp"
probe() {
  p="$dir/data/.overlay-probe"
  mkdir -p "$p/l" "$p/u" "$p/w" "$p/m"
  ok=1
  if mount -t overlay -o "lowerdir=$p/l,upperdir=$p/u,workdir=$p/w" overlay "$p/m" 2>/dev/null; then umount "$p/m"; ok=0; fi
  rm -rf "$p"
  return $ok
}
driver=vfs data=disk
if probe; then driver=overlay2
elif mount -t tmpfs -o mode=0711 tmpfs "$dir/data" && data=tmpfs && probe; then driver=overlay2
fi
echo "$driver $data" >"$dir/storage"
mount -t tmpfs -o mode=0755 tmpfs /run
mount --bind /proc/sys /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,ro /proc/sys
mount -o remount,bind,ro /
export PATH="$bin:/usr/bin:/bin" TMPDIR="$dir/tmp"
exec "$bin/docker-init" -- "$bin/dockerd" --config-file "$dir/daemon.json" \
  --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
  -H "unix://$dir/docker.sock" --storage-driver "$driver" --iptables=false --ip-masq=false \
  --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$parent"
"#;

/// A Docker 20.10 daemon in a sandbox of its own; dropping it ends the sandbox and removes
/// everything it left (see the module comment).
pub struct DockerOracle {
    dir: PathBuf,
    sock: PathBuf,
    cli: PathBuf,
    unshare: Option<Child>,
    /// Host PID of the sandbox's init (docker-init), once seen.
    init: Option<i32>,
    /// `/proc/<init>/ns/pid` of the sandbox: which processes are the oracle's.
    pidns: Option<PathBuf>,
    cgroup_parent: String,
    driver: String,
    data_on_tmpfs: bool,
    started_in: Duration,
}

/// The oracle's bin dir: `$BERTH_DOCKER_ORACLE` (`cargo xtask ci` sets it), else
/// `target/docker-oracle/bin` when `cargo xtask docker-oracle` has filled it.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BERTH_DOCKER_ORACLE") {
        return Some(PathBuf::from(p));
    }
    Some(workspace_root().join("target/docker-oracle/bin")).filter(|p| p.join("dockerd").is_file())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

impl DockerOracle {
    /// Starts dockerd in its sandbox and waits for `/_ping`. `Ok(None)` (after printing
    /// "skipped: …") when the binaries or the docker CLI are absent outside CI; in CI (`$CI`
    /// set) their absence is an error.
    pub fn start() -> Result<Option<DockerOracle>> {
        let absent = |why: String| -> Result<Option<DockerOracle>> {
            if in_ci() {
                bail!("Docker 20.10 oracle: {why} (CI is set, so this is an error)");
            }
            eprintln!("skipped: Docker 20.10 oracle: {why}");
            Ok(None)
        };
        let Some(bin) = bin_dir() else {
            return absent("no dockerd (run `cargo xtask docker-oracle`, or set BERTH_DOCKER_ORACLE)".into());
        };
        if let Some(m) = BINARIES.iter().find(|b| !bin.join(b).is_file()) {
            return absent(format!("{} has no {m} (run `cargo xtask docker-oracle`)", bin.display()));
        }
        let Some(cli) = docker_cli() else {
            return absent("no docker CLI (set BERTH_DOCKER_CLI, or run `cargo xtask ci`, which fetches one)".into());
        };
        let t0 = Instant::now();
        sweep_dead_runs();
        let prefix = format!("{PREFIX}{}-", std::process::id());
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir().context("creating the oracle's temp dir")?.keep();
        let rand = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
        let mut oracle = DockerOracle {
            sock: dir.join("docker.sock"),
            dir,
            cli,
            unshare: None,
            init: None,
            pidns: None,
            cgroup_parent: format!("/{prefix}{:x}", rand & 0xffff_ffff_ffff),
            driver: String::new(),
            data_on_tmpfs: false,
            started_in: Duration::ZERO,
        };
        // From here on an error drops `oracle`, which cleans up whatever was started.
        let key = oracle.dir.join("key.json");
        std::fs::write(oracle.dir.join("daemon.json"), serde_json::json!({ "deprecated-key-path": key }).to_string())?;
        let log = std::fs::File::create(oracle.log_path())?;
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", SANDBOX, "sh"])
            .arg(&oracle.dir)
            .arg(&bin)
            .arg(&oracle.cgroup_parent)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &oracle.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let unshare = spawn_tied(cmd).context("running unshare (util-linux)")?;
        let unshare_pid = unshare.id() as i32;
        oracle.unshare = Some(unshare);
        oracle.wait_ready(unshare_pid, t0 + Duration::from_secs(90))?;
        let storage = std::fs::read_to_string(oracle.dir.join("storage"))?;
        let (driver, data) = storage.trim().split_once(' ').unwrap_or((storage.trim(), ""));
        (oracle.driver, oracle.data_on_tmpfs) = (driver.to_string(), data == "tmpfs");
        oracle.started_in = t0.elapsed();
        eprintln!(
            "docker oracle: dockerd 20.10 up in {:.2?} (storage driver {}, data root on {}) on {}",
            oracle.started_in,
            oracle.driver,
            if oracle.data_on_tmpfs { "a tmpfs" } else { "disk" },
            oracle.sock.display()
        );
        Ok(Some(oracle))
    }

    /// Waits for the sandbox's init (`unshare`'s child) to appear and for dockerd to answer
    /// `/_ping`.
    fn wait_ready(&mut self, unshare_pid: i32, deadline: Instant) -> Result<()> {
        let own_ns = std::fs::read_link("/proc/self/ns/pid")?;
        loop {
            if self.init.is_none() {
                for child in children(unshare_pid) {
                    // Born in the new PID namespace (unshare forks after unsharing it).
                    if let Some(ns) = std::fs::read_link(format!("/proc/{child}/ns/pid")).ok().filter(|ns| *ns != own_ns) {
                        self.pidns = Some(ns);
                        self.init = Some(child);
                    }
                }
            }
            if self.init.is_some() && ping(&self.sock) {
                return Ok(());
            }
            if let Some(st) = self.unshare.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("the Docker oracle's sandbox exited ({st}) before dockerd answered:\n{}", self.log());
            }
            if Instant::now() > deadline {
                bail!("dockerd did not answer /_ping on {} in time:\n{}", self.sock.display(), self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The API socket (`unix://` + this is the daemon's `-H`).
    pub fn socket(&self) -> &Path {
        &self.sock
    }

    /// `unix://<socket>`, for DOCKER_HOST or docker-py.
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// The docker CLI the tests use (see [`docker_cli`]) aimed at this daemon, with a config
    /// dir of its own.
    pub fn docker(&self) -> Command {
        let cfg = self.dir.join("docker-config");
        let _ = std::fs::create_dir_all(&cfg);
        let mut c = Command::new(&self.cli);
        c.env("DOCKER_HOST", self.host()).env("DOCKER_CONFIG", &cfg).env_remove("DOCKER_API_VERSION").env_remove("DOCKER_CONTEXT");
        c
    }

    /// `docker …` (stdin empty, at most 120 s).
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut cmd = self.docker();
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("running {}: {e}", self.cli.display()));
        let pid = child.id() as i32;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(out) => out.expect("docker CLI output").into(),
            Err(_) => {
                // SAFETY: the CLI process this call started, by PID.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("docker {args:?} hung for 120 s\n--- dockerd log:\n{}", self.log());
            }
        }
    }

    /// `docker …` that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.cli(args);
        assert_eq!(r.code, 0, "docker {args:?} failed against the Docker oracle: {r:?}\n--- dockerd log:\n{}", self.log());
        r.stdout
    }

    /// `docker load -i <fixtures>/images/<name>.tar` (`cargo xtask fixtures` builds them; e.g.
    /// "busybox" loads busybox:latest). Returns the CLI's output ("Loaded image: …").
    pub fn load_fixture(&self, name: &str) -> Result<String> {
        let tar = fixtures_dir().join("images").join(format!("{name}.tar"));
        if !tar.is_file() {
            bail!("fixture image {} is missing: run cargo xtask fixtures", tar.display());
        }
        let r = self.cli(&["load", "-i", &tar.to_string_lossy()]);
        if r.code != 0 {
            bail!("docker load -i {} failed: {r:?}\n--- dockerd log:\n{}", tar.display(), self.log());
        }
        Ok(r.stdout)
    }

    /// dockerd's (and the sandbox script's) output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    /// The temp dir holding the socket, config, log and (unless on a tmpfs) the data root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `overlay2` or `vfs`: what the sandbox found to work.
    pub fn storage_driver(&self) -> &str {
        &self.driver
    }

    /// Whether the data root is on a tmpfs of the sandbox (in memory: overlay did not work on
    /// the temp dir's filesystem) rather than on that filesystem.
    pub fn data_on_tmpfs(&self) -> bool {
        self.data_on_tmpfs
    }

    /// The daemon's `--cgroup-parent` (containers' cgroups are `<hierarchy>/<parent>/<id>`).
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// How long `start` took, up to dockerd's first `/_ping`.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Host PIDs of every process in the sandbox now: its init and all that descends from it
    /// (dockerd, containerd, shims, and the containers, whose PID namespaces nest in the
    /// sandbox's).
    pub fn pids(&self) -> Vec<i32> {
        let Some(init) = self.init.filter(|_| self.unshare.is_some()) else { return vec![] };
        let all = processes();
        let mut out = vec![init];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i];
            out.extend(all.iter().filter(|&&(_, pp)| pp == parent).map(|&(p, _)| p));
            i += 1;
        }
        out
    }

    /// Ends the sandbox: kills its init (the kernel then kills every process of the PID
    /// namespace), reaps unshare and waits until no process of the namespace is left.
    fn kill_sandbox(&mut self) -> Vec<i32> {
        let before: Vec<(i32, String)> = self.pids().into_iter().filter_map(|p| Some((p, start_time(p)?))).collect();
        let Some(mut unshare) = self.unshare.take() else { return vec![] };
        let unshare_pid = unshare.id() as i32;
        // The init is killed by PID only while it is still unshare's child (unshare is ours and
        // not reaped yet, so its PID and its child's parentage are not stale).
        match self.init {
            Some(init) if ppid(init) == Some(unshare_pid) => {
                // SAFETY: the sandbox's init, our unshare's child, by PID.
                unsafe { libc::kill(init, libc::SIGKILL) };
            }
            // No init seen (or already gone): --kill-child makes unshare's death kill it.
            _ => {
                let _ = unshare.kill();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while unshare.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = unshare.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = unshare.wait();
        // Killing a PID namespace's init kills the namespaces nested in it too, and its exit
        // waits for them; this only confirms it, for each process seen before (by PID and
        // start time, so a reused PID does not count).
        let left = || {
            let mut left: Vec<i32> = before.iter().filter(|(p, t)| start_time(*p).as_ref() == Some(t)).map(|(p, _)| *p).collect();
            left.extend(self.pidns.as_deref().map(processes_in).unwrap_or_default());
            left.sort_unstable();
            left.dedup();
            left
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !left().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        left()
    }
}

impl Drop for DockerOracle {
    fn drop(&mut self) {
        let left = self.kill_sandbox();
        if !left.is_empty() {
            eprintln!("docker oracle: processes {left:?} of the sandbox outlived it; leaving {} in place", self.dir.display());
            return;
        }
        remove_cgroups(&self.cgroup_parent, Duration::from_secs(5));
        let mounted = mounts_under(&self.dir);
        if mounted.is_empty() {
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                eprintln!("docker oracle: removing {}: {e}", self.dir.display());
            }
        } else {
            eprintln!("docker oracle: not removing {}: mounts under it: {mounted:?}", self.dir.display());
        }
    }
}

/// Spawns `cmd` from a thread that lives as long as the process, with `PR_SET_PDEATHSIG`
/// SIGKILL: the kernel kills the child when the test process ends in any way (the death
/// signal follows the spawning thread, hence not the test's own, short-lived thread).
fn spawn_tied(mut cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("docker-oracle-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawning the oracle's spawner thread");
        Mutex::new(tx)
    });
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    tx.lock().unwrap_or_else(|e| e.into_inner()).send((cmd, reply)).expect("the spawner thread is gone");
    answer.recv().expect("the spawner thread is gone")
}

/// Whether dockerd answers `GET /_ping` with 200 OK on `sock`.
fn ping(sock: &Path) -> bool {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200")
}

/// `(pid, ppid)` of every process, from `/proc/<pid>/stat`.
fn processes() -> Vec<(i32, i32)> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if let Some(pp) = ppid(pid) {
            out.push((pid, pp));
        }
    }
    out
}

/// Field `n` (1-based, as in proc(5)) of `/proc/<pid>/stat`, for n > 2.
fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(n - 3).map(str::to_string)
}

fn ppid(pid: i32) -> Option<i32> {
    stat_field(pid, 4)?.parse().ok()
}

/// The process's start time (clock ticks after boot): with the PID, tells it from a later
/// process that reuses the PID.
pub fn start_time(pid: i32) -> Option<String> {
    stat_field(pid, 22)
}

fn children(pid: i32) -> Vec<i32> {
    processes().into_iter().filter(|&(_, pp)| pp == pid).map(|(p, _)| p).collect()
}

/// Host PIDs of the processes whose PID namespace is `ns` (a `/proc/<pid>/ns/pid` link text).
fn processes_in(ns: &Path) -> Vec<i32> {
    processes()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_deref() == Some(ns))
        .collect()
}

/// Mount points (of this process's mount namespace) at or under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| m.replace("\\040", " "))
        .filter(|m| m == &dir || m.starts_with(&format!("{dir}/")))
        .collect()
}

/// Directories of `parent` in every cgroup hierarchy (v1 controllers, the unified one, or the
/// v2 root): where runc put the oracle's containers.
pub fn cgroup_dirs(parent: &str) -> Vec<PathBuf> {
    let name = parent.trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    let mut bases = vec![root.join(name)];
    bases.extend(std::fs::read_dir(root).into_iter().flatten().flatten().map(|e| e.path().join(name)));
    bases.into_iter().filter(|p| p.is_dir()).collect()
}

/// What oracles of test processes that were killed outright (no Drop) left: their temp dirs
/// (when no mount is under them) and their empty cgroups, found by the PID in their names
/// being no live process. A cgroup still in use is never removed (rmdir refuses).
fn sweep_dead_runs() {
    let dead = |name: &str| -> bool {
        let pid = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()).and_then(|p| p.parse::<i32>().ok());
        pid.is_some_and(|p| p != std::process::id() as i32 && !Path::new(&format!("/proc/{p}")).exists())
    };
    for e in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if dead(&name) && mounts_under(&e.path()).is_empty() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let root = Path::new("/sys/fs/cgroup");
    let hierarchies = std::iter::once(root.to_path_buf()).chain(std::fs::read_dir(root).into_iter().flatten().flatten().map(|e| e.path()));
    for h in hierarchies {
        for e in std::fs::read_dir(&h).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead(&name) {
                remove_cgroups(&name, Duration::ZERO);
            }
        }
    }
}

/// Removes the (empty, their processes gone) cgroups under `parent`, deepest first, trying
/// each for up to `patience` (the kernel frees a cgroup a moment after its last process).
fn remove_cgroups(parent: &str, patience: Duration) {
    let remove = |dir: &Path| {
        let deadline = Instant::now() + patience;
        while let Err(e) = std::fs::remove_dir(dir) {
            if Instant::now() > deadline {
                eprintln!("docker oracle: removing cgroup {}: {e}", dir.display());
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    fn depth_first(dir: &Path, remove: &dyn Fn(&Path)) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                depth_first(&e.path(), remove);
            }
        }
        remove(dir);
    }
    for base in cgroup_dirs(parent) {
        depth_first(&base, &remove);
    }
}
