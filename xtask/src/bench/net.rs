//! `cargo xtask bench net [--runs N] [--secs S] [--reps R] [--diagnose] [--debug]`: what berth's
//! bridge networking costs.
//! - TCP throughput and connect latency container↔container over the default bridge, and
//!   host→published port (DNAT on 127.0.0.1), each as a ratio to the same traffic over a bare
//!   veth pair (two `--network none` containers, and the host and a container, wired by hand);
//! - `berth run --rm busybox true` latency on the default bridge vs `--network none`.
//!
//! Goals (issue 6): bridge throughput within 5 % of bare veth; a bridge container starts within
//! 5 ms of a none container. Needs root. berthd runs in its own mount + network namespace
//! (`unshare`), so the traffic generator joins namespaces on threads (setns) and the host's
//! root namespace is never touched; everything is removed afterwards.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn opt(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

struct Scratch {
    dir: PathBuf,
    cgroup_parent: String,
    daemon: Option<Child>,
    berth: PathBuf,
    host: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Containers first (their shims outlive berthd), then the daemon and its namespaces.
        if let Ok(o) = self.berth_cmd(&["ps", "-aq"]).output() {
            for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = self.berth_cmd(&["rm", "-f", id]).output();
            }
        }
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        for h in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let _ = std::fs::remove_dir(h.path().join(&self.cgroup_parent));
        }
    }
}

impl Scratch {
    fn berth_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.berth);
        c.args(args).env("BERTH_HOST", &self.host).stdin(Stdio::null());
        c
    }
    fn ok(&self, args: &[&str]) -> Result<String> {
        let o = self.berth_cmd(args).output().with_context(|| format!("berth {args:?}"))?;
        if !o.status.success() {
            bail!("berth {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }
    fn pid_of(&self, name: &str) -> Result<i32> {
        Ok(self.ok(&["inspect", "-f", "{{.State.Pid}}", name])?.parse()?)
    }
    /// `ip …` inside berthd's namespaces (the sandbox's "host").
    fn ip(&self, args: &[&str]) -> Result<()> {
        let pid = self.daemon.as_ref().map(|d| d.id()).unwrap_or(0).to_string();
        let st = Command::new("nsenter").args(["-t", &pid, "-n", "ip"]).args(args).status()?;
        if !st.success() {
            bail!("ip {args:?} failed");
        }
        Ok(())
    }
}

/// Run `f` on a thread that joined the network namespace of `pid` (never this thread).
fn in_netns<T: Send + 'static>(pid: i32, f: impl FnOnce() -> T + Send + 'static) -> Result<std::thread::JoinHandle<T>> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).with_context(|| format!("netns of {pid}"))?;
    Ok(std::thread::spawn(move || {
        // SAFETY: setns on a valid fd; only this short-lived thread changes namespace.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    }))
}

/// A sink (throughput) and an echo-one-byte (latency) server in `pid`'s namespace, on
/// ports 5001 and 5002 of every address. They run until the process exits.
fn serve(pid: i32) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    in_netns(pid, move || {
        let sink = TcpListener::bind("0.0.0.0:5001").expect("bind 5001");
        let echo = TcpListener::bind("0.0.0.0:5002").expect("bind 5002");
        tx.send(()).unwrap();
        std::thread::spawn(move || {
            for s in echo.incoming().flatten() {
                let mut s = s;
                let mut b = [0u8; 1];
                if s.read_exact(&mut b).is_ok() {
                    let _ = s.write_all(&b);
                }
            }
        });
        for s in sink.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = vec![0u8; 1 << 16];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    })?;
    rx.recv_timeout(Duration::from_secs(5)).context("server did not start")?;
    Ok(())
}

/// MiB/s of one TCP stream from `pid`'s namespace to `to` for `dur`: the clock stops when the
/// sink has read everything (it closes after EOF), so both paths are timed the same way.
fn throughput(pid: i32, to: SocketAddr, dur: Duration) -> Result<f64> {
    let h = in_netns(pid, move || -> std::io::Result<f64> {
        let chunk = vec![7u8; 1 << 20];
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
        let t = Instant::now();
        let mut sent = 0usize;
        while t.elapsed() < dur {
            s.write_all(&chunk)?;
            sent += chunk.len();
        }
        s.shutdown(std::net::Shutdown::Write)?;
        let _ = s.read(&mut [0u8; 1]);
        Ok(sent as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64())
    })?;
    Ok(h.join().map_err(|_| anyhow::anyhow!("client thread panicked"))??)
}

/// Median connect + 1-byte round trip from `pid`'s namespace to `to`, over `runs` connections.
fn connect_latency(pid: i32, to: SocketAddr, runs: usize) -> Result<Duration> {
    let h = in_netns(pid, move || -> std::io::Result<Duration> {
        let mut lat = Vec::new();
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            c.write_all(b"x")?;
            c.read_exact(&mut [0u8; 1])?;
            lat.push(t.elapsed());
        }
        Ok(median(lat))
    })?;
    Ok(h.join().map_err(|_| anyhow::anyhow!("client thread panicked"))??)
}

/// One path to measure: a client namespace (by PID) and the server's address.
struct Route {
    pid: i32,
    ip: String,
}

impl Route {
    fn sink(&self) -> Result<SocketAddr> {
        Ok(format!("{}:5001", self.ip).parse()?)
    }
    fn echo(&self) -> Result<SocketAddr> {
        Ok(format!("{}:5002", self.ip).parse()?)
    }
}

/// Throughput of `a` against its baseline `b`: one discarded warm-up run each, then `reps`
/// interleaved runs of `secs` each, alternating which goes first so drift (thermal, other
/// load on the machine) hits both alike. Returns (median a, median b, every a/b of a pair).
fn compare(a: &Route, b: &Route, secs: f64, reps: usize) -> Result<(f64, f64, Vec<f64>)> {
    let dur = Duration::from_secs_f64(secs);
    throughput(a.pid, a.sink()?, dur / 4)?;
    throughput(b.pid, b.sink()?, dur / 4)?;
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..reps {
        let (x, y) = if i % 2 == 0 {
            let x = throughput(a.pid, a.sink()?, dur)?;
            (x, throughput(b.pid, b.sink()?, dur)?)
        } else {
            let y = throughput(b.pid, b.sink()?, dur)?;
            (throughput(a.pid, a.sink()?, dur)?, y)
        };
        ta.push(x);
        tb.push(y);
        ratios.push(x / y);
    }
    Ok((median_f(ta), median_f(tb), ratios))
}

fn median_f(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A sysctl as berthd's namespace sees it ("-" when absent).
fn sysctl_in(pid: i32, key: &str) -> String {
    let key = key.to_string();
    in_netns(pid, move || std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))).map(|s| s.trim().to_string()).unwrap_or_else(|_| "-".into()))
        .ok()
        .and_then(|h| h.join().ok())
        .unwrap_or_else(|| "-".into())
}

fn set_sysctl_in(pid: i32, key: &str, value: &str) -> Result<()> {
    let (key, value) = (key.to_string(), value.to_string());
    in_netns(pid, move || std::fs::write(format!("/proc/sys/{}", key.replace('.', "/")), value))?
        .join()
        .map_err(|_| anyhow::anyhow!("sysctl thread panicked"))?
        .context("writing sysctl")
}

pub fn run(args: &[String]) -> Result<()> {
    let runs: usize = opt(args, "--runs", "30").parse().context("--runs")?;
    let secs: f64 = opt(args, "--secs", "2").parse().context("--secs")?;
    let reps: usize = opt(args, "--reps", "7").parse().context("--reps")?;
    let root = crate::workspace_root();
    // --debug: the dev-profile binaries (no release build on a busy machine). Throughput and
    // connect latency are kernel paths and do not depend on it; `run` latency does.
    let profile = if args.iter().any(|a| a == "--debug") { "debug" } else { "release" };
    println!("building berth and berthd ({profile})…");
    let mut build = vec!["build", "--quiet", "-p", "berth", "--bins"];
    if profile == "release" {
        build.push("--release");
    }
    let st = Command::new(env!("CARGO")).current_dir(&root).args(&build).status()?;
    if !st.success() {
        bail!("building berth failed");
    }
    let fixtures = crate::fixtures::build_all()?;
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("berth-bench-net-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("daemon.json"), "{}")?;
    let sock = dir.join("berth.sock");
    let mut s = Scratch {
        cgroup_parent: format!("berth-bench-net-{pid}"),
        daemon: None,
        berth: root.join("target").join(profile).join("berth"),
        host: format!("unix://{}", sock.display()),
        dir,
    };
    s.daemon = Some(
        Command::new("unshare")
            .args(["--mount", "--net", "--propagation", "private"])
            .arg(root.join("target").join(profile).join("berthd"))
            .args(["-H", &s.host, "--config-file"])
            .arg(s.dir.join("daemon.json"))
            .arg("--data-root")
            .arg(s.dir.join("data"))
            .arg("--exec-root")
            .arg(s.dir.join("exec"))
            .arg("--pidfile")
            .arg(s.dir.join("berthd.pid"))
            .arg("--cgroup-parent")
            .arg(format!("/{}", s.cgroup_parent))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(s.dir.join("berthd.log"))?)
            .spawn()
            .context("starting berthd")?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        if Instant::now() > deadline {
            bail!("berthd did not come up: {}", std::fs::read_to_string(s.dir.join("berthd.log")).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let daemon_pid = s.daemon.as_ref().map(|d| d.id() as i32).unwrap_or(0);
    s.ok(&["import", fixtures.join("busybox/rootfs.tar").to_str().unwrap(), "busybox"])?;

    // Run latency: default bridge vs none (warm both paths first).
    s.ok(&["run", "--rm", "busybox", "true"])?;
    s.ok(&["run", "--rm", "--network", "none", "busybox", "true"])?;
    let (mut br, mut no) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        s.ok(&["run", "--rm", "busybox", "true"])?;
        br.push(t.elapsed());
        let t = Instant::now();
        s.ok(&["run", "--rm", "--network", "none", "busybox", "true"])?;
        no.push(t.elapsed());
    }
    let (br, no) = (median(br), median(no));

    // Traffic: containers are only namespace holders; the bench's own threads talk.
    s.ok(&["run", "-d", "--name", "srv", "-p", "5001:5001", "-p", "5002:5002", "busybox", "sleep", "100000"])?;
    s.ok(&["run", "-d", "--name", "cli", "busybox", "sleep", "100000"])?;
    s.ok(&["run", "-d", "--name", "v1", "--network", "none", "busybox", "sleep", "100000"])?;
    s.ok(&["run", "-d", "--name", "v2", "--network", "none", "busybox", "sleep", "100000"])?;
    let (srv, cli, v1, v2) = (s.pid_of("srv")?, s.pid_of("cli")?, s.pid_of("v1")?, s.pid_of("v2")?);
    let srv_ip = s.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "srv"])?;
    // Bare veth pairs: v2↔v1 (container↔container) and host↔v1 (host→container).
    s.ip(&["link", "add", "bnA", "type", "veth", "peer", "name", "bnB"])?;
    s.ip(&["link", "set", "bnA", "netns", &v1.to_string()])?;
    s.ip(&["link", "set", "bnB", "netns", &v2.to_string()])?;
    s.ip(&["link", "add", "bnH", "type", "veth", "peer", "name", "bnC"])?;
    s.ip(&["link", "set", "bnC", "netns", &v1.to_string()])?;
    s.ip(&["addr", "add", "10.98.0.1/24", "dev", "bnH"])?;
    s.ip(&["link", "set", "bnH", "up"])?;
    for (p, dev, addr) in [(v1, "bnA", "10.99.0.1/24"), (v2, "bnB", "10.99.0.2/24"), (v1, "bnC", "10.98.0.2/24")] {
        let st = Command::new("nsenter").args(["-t", &p.to_string(), "-n", "sh", "-c", &format!("ip addr add {addr} dev {dev} && ip link set {dev} up")]).status()?;
        if !st.success() {
            bail!("configuring {dev} failed");
        }
    }
    serve(srv)?;
    serve(v1)?;
    let c2c = (Route { pid: cli, ip: srv_ip.clone() }, Route { pid: v2, ip: "10.99.0.1".into() });
    let h2c = (Route { pid: daemon_pid, ip: "127.0.0.1".into() }, Route { pid: daemon_pid, ip: "10.98.0.2".into() });

    let nf_key = "net.bridge.bridge-nf-call-iptables";
    let nf = sysctl_in(daemon_pid, nf_key);
    println!("berthd's namespace: {nf_key}={nf}  net.ipv4.ip_forward={}", sysctl_in(daemon_pid, "net.ipv4.ip_forward"));
    println!("TCP throughput: {reps} interleaved runs of {secs} s per path after a warm-up (median; a/b of each pair min..max);");
    println!("connect + 1-byte round trip: median of {runs}.");
    let row = |name: &str, a: &Route, b: &Route| -> Result<()> {
        let (ta, tb, ratios) = compare(a, b, secs, reps)?;
        let (la, lb) = (connect_latency(a.pid, a.echo()?, runs)?, connect_latency(b.pid, b.echo()?, runs)?);
        let lo = ratios.iter().cloned().fold(f64::MAX, f64::min);
        let hi = ratios.iter().cloned().fold(0.0, f64::max);
        // The median of the paired ratios is the figure to quote: each pair ran back to back, so
        // load from elsewhere on the machine mostly cancels out of it.
        println!(
            "  {name:<48} {ta:>6.0} vs veth {tb:>6.0} MiB/s; paired ratio median {:>5.1} % (min {:.1}, max {:.1})   connect {:>6.1} µs ({:.2}× veth {:.1} µs)",
            100.0 * median_f(ratios.clone()),
            100.0 * lo,
            100.0 * hi,
            la.as_secs_f64() * 1e6,
            la.as_secs_f64() / lb.as_secs_f64(),
            lb.as_secs_f64() * 1e6
        );
        Ok(())
    };
    row("container→container (bridge)", &c2c.0, &c2c.1)?;
    row("host→published port 127.0.0.1", &h2c.0, &h2c.1)?;
    // Diagnosis: bridged frames also traverse the IP netfilter hooks (conntrack) of berthd's
    // namespace while bridge-nf-call-iptables is 1; the bare veth path never does.
    // --diagnose: the same traffic with bridge-nf-call-iptables flipped. At 1, frames bridged
    // between two containers also run through the IPv4 hooks (conntrack, berth's chains) of
    // berthd's namespace; the bare veth path never does. berth sets it to 0 (see berth-net's
    // controller); this row shows what that is worth on this machine.
    if args.iter().any(|a| a == "--diagnose") && (nf == "0" || nf == "1") {
        let other = if nf == "1" { "0" } else { "1" };
        set_sysctl_in(daemon_pid, nf_key, other)?;
        let r = row(&format!("c→c with bridge-nf-call-iptables={other}"), &c2c.0, &c2c.1);
        set_sysctl_in(daemon_pid, nf_key, &nf)?;
        r?;
    }
    println!("  goal: bridge throughput ≥ 95 % of bare veth");
    println!("`run --rm busybox true` ({profile} binaries), median of {runs}:");
    println!("  default bridge {:>7.2} ms   --network none {:>7.2} ms   difference {:>+6.2} ms (goal ≤ 5 ms)", ms(br), ms(no), ms(br) - ms(no));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
