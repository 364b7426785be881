//! Root integration tests of the virtual hosts: provisioning two hosts, isolation between
//! parallel labs, reset leaving nothing behind (also after the grader was killed), and the
//! guided mode driven by a scripted student.

use anyhow::{ensure, Context, Result};
use berth_grader::catalog::{Lab, Objectives};
use berth_grader::hosts::{self, Config, LabState, VirtualLab};
use berth_grader::interactive;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn objectives() -> Objectives {
    Objectives::load(&root().join("labs/objectives.toml")).unwrap()
}

fn selftest() -> Lab {
    Lab::load(
        &root().join("grader/tests/fixtures/selftest/lab.toml"),
        &objectives(),
    )
    .unwrap()
}

fn config(dir: &Path) -> Config {
    Config::new(dir.join("labs"), env!("CARGO_BIN_EXE_berth-lab-host"))
}

/// Resets a lab when dropped, so a failing (panicking) test leaves nothing behind either.
struct Guard(Config, String);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hosts::reset(&self.0, &self.1);
    }
}

fn is_root() -> bool {
    let r = nix::unistd::Uid::effective().is_root();
    if !r {
        eprintln!("skipped: needs root");
    }
    r
}

/// Links of the machine's root network namespace (read only): must not change.
fn root_links() -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
        .collect();
    v.sort();
    v.join(",")
}

fn run(vl: &VirtualLab, host: &str, cmd: &str) -> Result<String> {
    let o = vl.run(host, cmd, Duration::from_secs(20))?;
    ensure!(
        o.status == 0,
        "`{cmd}` on {host}: exit {}: {}",
        o.status,
        o.stderr
    );
    Ok(o.stdout.trim().to_string())
}

fn assert_clean(cfg: &Config, state: &LabState) -> Result<()> {
    let left = hosts::leftovers(cfg, state);
    ensure!(left.is_empty(), "left behind: {left:?}");
    ensure!(
        !state.dir.exists(),
        "state dir {} still exists",
        state.dir.display()
    );
    Ok(())
}

#[test]
fn two_hosts_have_their_own_namespaces_dirs_and_lan() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let before = root_links();
    let t = tempfile::tempdir()?;
    // The helper lives below the machine's /tmp, which the hosts' private /tmp hides: the hosts
    // must still find it (at /run/berth-lab/bin), as they must find the lab's files.
    let bin = tempfile::tempdir()?;
    std::fs::copy(
        env!("CARGO_BIN_EXE_berth-lab-host"),
        bin.path().join("berth-lab-host"),
    )?;
    let mut cfg = config(t.path());
    cfg.helper = bin.path().join("berth-lab-host");
    let vl = VirtualLab::provision(&selftest(), &cfg)?;
    let _guard = Guard(cfg.clone(), vl.state.lab_id.clone());
    let state = vl.state.clone();
    let r = (|| -> Result<()> {
        ensure!(run(&vl, "vm1", "hostname")? == "vm1");
        ensure!(
            run(&vl, "vm1", "command -v berth-lab-host")? == "/run/berth-lab/bin/berth-lab-host"
        );
        ensure!(
            run(
                &vl,
                "vm2",
                "grep -c '^id = \"platform-selftest\"' $BERTH_LAB_DIR/lab.toml"
            )? == "1"
        );
        let o = vl.run("vm1", "touch $BERTH_LAB_DIR/x", Duration::from_secs(5))?;
        ensure!(
            o.status != 0 && o.stderr.contains("Read-only"),
            "the lab dir is writable: {o:?}"
        );
        ensure!(run(&vl, "vm2", "cat /etc/hostname")? == "vm2");
        ensure!(
            run(&vl, "vm1", "echo $$")? != "1",
            "commands are not the host's init"
        );
        ensure!(run(
            &vl,
            "vm1",
            "ps -o pid= -p 1 >/dev/null 2>&1; cat /proc/1/cmdline | tr '\\0' ' '"
        )?
        .contains("berth-lab-host host"));
        let addrs = run(&vl, "vm1", "ip -o -4 addr show dev eth0")?;
        ensure!(addrs.contains("10.1.1.11/24"), "{addrs}");
        run(&vl, "vm1", "busybox ping -c 1 -W 2 10.1.1.12")?;
        run(&vl, "vm1", "busybox ping -c 1 -W 2 vm2")?;
        // Private /root, /tmp, /run, /var/lib/berth, /etc/berth: written on vm1, absent elsewhere.
        run(&vl, "vm1", "for d in /root /tmp /run /var/lib/berth /etc/berth; do echo x > $d/berth-platform-probe; done")?;
        for d in ["/root", "/tmp", "/run", "/var/lib/berth", "/etc/berth"] {
            let p = format!("{d}/berth-platform-probe");
            ensure!(!Path::new(&p).exists(), "{p} leaked onto the machine");
            ensure!(
                run(&vl, "vm2", &format!("test -e {p} && echo yes || echo no"))? == "no",
                "{p} visible on vm2"
            );
        }
        ensure!(Path::new("/var/lib/berth").exists() == Path::new("/var/lib/berth").exists());
        // Each host's init has namespaces of its own, different from the machine's.
        let me = |ns: &str| std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        for h in &state.hosts {
            let pid = h.init.as_ref().unwrap().pid;
            for ns in ["net", "mnt", "uts", "ipc", "pid"] {
                let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))?;
                ensure!(
                    theirs != me(ns),
                    "host {} shares the machine's {ns} namespace",
                    h.name
                );
            }
        }
        // Orphans are adopted and reaped by the host's init: no zombies pile up.
        run(
            &vl,
            "vm1",
            "for i in 1 2 3 4 5; do (sleep 0.1 &); done; true",
        )?;
        std::thread::sleep(Duration::from_millis(800));
        let vm1 = state.host("vm1").unwrap().init.as_ref().unwrap().pid;
        let proc = Path::new("/proc");
        let zombies: Vec<i32> = berth_grader::checks::procfs::pids(proc)
            .into_iter()
            .filter(|&p| berth_grader::checks::procfs::in_host(proc, vm1, p))
            .filter(|&p| matches!(berth_grader::checks::procfs::stat(proc, p), Some(('Z', _))))
            .collect();
        ensure!(zombies.is_empty(), "zombies on vm1: {zombies:?}");
        ensure!(root_links() == before, "the root network namespace changed");
        Ok(())
    })();
    vl.teardown()?;
    r?;
    assert_clean(&cfg, &state)?;
    ensure!(root_links() == before, "the root network namespace changed");
    Ok(())
}

/// A student following the course literally (`mkdir /docker_www`, writing below /usr) must not
/// write to the machine: outside its private directories a host sees the machine's filesystem
/// read-only, and the write fails with EROFS.
#[test]
fn writes_outside_the_private_dirs_never_reach_the_machine() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let cfg = config(t.path());
    let vl = VirtualLab::provision(&selftest(), &cfg)?;
    let _guard = Guard(cfg.clone(), vl.state.lab_id.clone());
    let state = vl.state.clone();
    let r = (|| -> Result<()> {
        for (cmd, path) in [
            (
                "mkdir -p /docker_www && echo x > /docker_www/x",
                "/docker_www",
            ),
            ("echo x > /usr/local/berth-probe", "/usr/local/berth-probe"),
            ("echo x > /var/berth-probe", "/var/berth-probe"),
        ] {
            let o = vl.run("vm1", cmd, Duration::from_secs(10))?;
            ensure!(
                o.status != 0 && o.stderr.contains("Read-only"),
                "`{cmd}` on vm1 did not fail with EROFS: {o:?}"
            );
            ensure!(
                !Path::new(path).exists(),
                "{path} was written on the machine"
            );
        }
        // The host's own places, /dev and the cgroup tree stay writable.
        run(&vl, "vm1", "for d in /root /tmp /run /var/lib/berth /etc /var/lib; do echo x > $d/berth-probe && rm $d/berth-probe; done")?;
        run(
            &vl,
            "vm1",
            "echo x > /dev/null && echo x > /dev/shm/berth-probe && rm /dev/shm/berth-probe",
        )?;
        run(
            &vl,
            "vm1",
            "test -w /sys/fs/cgroup/$(ls /sys/fs/cgroup | head -1) || test -w /sys/fs/cgroup",
        )?;
        // The machine's own mounts are untouched: still writable here.
        ensure!(
            !nix::sys::statvfs::statvfs("/usr")?
                .flags()
                .contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
            "the machine's /usr became read-only"
        );
        Ok(())
    })();
    vl.teardown()?;
    r?;
    assert_clean(&cfg, &state)?;
    Ok(())
}

#[test]
fn parallel_labs_are_isolated_and_reset_cleanly() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let (ta, tb) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (ca, cb) = (config(ta.path()), config(tb.path()));
    let lab = selftest();
    let (la, lb) = std::thread::scope(|s| {
        let a = s.spawn(|| VirtualLab::provision(&lab, &ca));
        let b = s.spawn(|| VirtualLab::provision(&lab, &cb));
        (a.join().unwrap(), b.join().unwrap())
    });
    let _guards = (
        Guard(ca.clone(), lab.id.clone()),
        Guard(cb.clone(), lab.id.clone()),
    );
    let (a, b) = (la?, lb?);
    let (sa, sb) = (a.state.clone(), b.state.clone());
    let r = (|| -> Result<()> {
        // Same addresses in both labs, but separate LANs: a server in lab A is invisible from B.
        run(&a, "vm2", "mkdir -p /root/www && echo lab-a > /root/www/index.html && busybox httpd -p 8080 -h /root/www")?;
        run(
            &a,
            "vm1",
            "busybox wget -q -O - http://10.1.1.12:8080/index.html | grep -q lab-a",
        )?;
        let o = b.run(
            "vm1",
            "busybox wget -q -T 2 -O - http://10.1.1.12:8080/index.html",
            Duration::from_secs(20),
        )?;
        ensure!(o.status != 0, "lab B reached lab A's server: {}", o.stdout);
        ensure!(sa.lan_netns != sb.lan_netns);
        Ok(())
    })();
    a.teardown()?;
    b.teardown()?;
    r?;
    assert_clean(&ca, &sa)?;
    assert_clean(&cb, &sb)?;
    Ok(())
}

/// When run as the crash child (env set), provisions a lab, starts work, says so, and hangs.
#[test]
fn crash_child() -> Result<()> {
    let Some(dir) = std::env::var_os("BERTH_PLATFORM_CRASH_CHILD") else {
        return Ok(());
    };
    let vl = VirtualLab::provision(&selftest(), &config(Path::new(&dir)))?;
    run(
        &vl,
        "vm1",
        "sleep 3001 >/dev/null 2>&1 & mkdir -p /sys/fs/cgroup/pids/$BERTH_CGROUP/student",
    )?;
    println!("PROVISIONED");
    std::io::stdout().flush()?;
    // A command in progress when the grader dies.
    let _ = vl.run("vm1", "sleep 600", Duration::from_secs(600));
    Ok(())
}

#[test]
fn reset_cleans_up_after_a_killed_grader() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("BERTH_PLATFORM_CRASH_CHILD", t.path())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let mut seen = false;
    for _ in 0..200 {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line)? == 0 {
            break;
        }
        if line.contains("PROVISIONED") {
            seen = true;
            break;
        }
    }
    // Kill the grader (by its pid), as a crash would.
    child.kill()?;
    child.wait()?;
    ensure!(seen, "the crash child did not provision");
    let cfg = config(t.path());
    let state = LabState::load(&cfg.lab_dir("platform-selftest"))?;
    ensure!(
        !hosts::leftovers(&cfg, &state).is_empty(),
        "the lab should still be running after the crash"
    );
    // Even without its state file (a deleted temporary dir), the helpers are found as orphans.
    std::fs::remove_file(LabState::file(&state.dir))?;
    let removed = hosts::reset_orphans(&cfg);
    ensure!(
        removed
            .iter()
            .filter(|r| r.contains("orphaned helper"))
            .count()
            >= 3,
        "{removed:?}"
    );
    state.save()?;
    hosts::reset(&cfg, "platform-selftest")?;
    assert_clean(&cfg, &state)?;
    Ok(())
}

#[test]
fn scripted_student_in_guided_mode() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let cfg = config(t.path());
    let lab = selftest();
    let progress = t.path().join("progress.json");
    let _guard = Guard(cfg.clone(), lab.id.clone());
    let opts = interactive::Options {
        progress_path: progress.clone(),
        allow_shell: false,
        poll_interval: Duration::from_millis(200),
        shuffle_quiz: false,
    };
    // Step 1 by hand-written state (through a host command), the rest with `solve` except the
    // quiz, answered wrong first, then right.
    let n = lab.steps.len();
    let mut script = String::from("help\nnext\nhint\nhint\nhint\nsolve\nnext\n");
    for _ in 1..n - 1 {
        script += "solve\nnext\n";
    }
    script += "quiz\nz\na\nnext\nquiz\nb\nnext\n";
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    struct W(Arc<Mutex<Vec<u8>>>);
    impl Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out: interactive::Out = Arc::new(Mutex::new(Box::new(W(buf.clone()))));
    let r = interactive::run(
        &lab,
        &objectives(),
        &cfg,
        &opts,
        &mut script.as_bytes(),
        out,
    );
    let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
    let state = LabState::load(&cfg.lab_dir(&lab.id));
    hosts::reset(&cfg, &lab.id)?;
    let result = r?.with_context(|| format!("the lab did not finish:\n{text}"))?;
    ensure!(text.contains("this step has not passed yet"), "{text}");
    ensure!(text.contains("hint 1/1"), "{text}");
    ensure!(text.contains("no more hints"), "{text}");
    ensure!(
        text.contains("✘ not right") && text.contains("✔ right"),
        "{text}"
    );
    ensure!(text.contains("lab platform-selftest finished."), "{text}");
    // Solved steps earn nothing; the quiz step was answered for real.
    let quiz = result.steps.last().unwrap();
    ensure!(quiz.passed, "{quiz:?}");
    ensure!(!result.steps[0].passed);
    let p = berth_grader::progress::Progress::load(&progress)?;
    ensure!(
        p.labs["platform-selftest"].passed_steps == vec!["quiz".to_string()],
        "{:?}",
        p.labs
    );
    ensure!(p.labs["platform-selftest"].answers["uts"] == "b");
    ensure!(!p.done("explain-kernel-features"));
    if let Ok(s) = state {
        assert_clean(&cfg, &s)?;
    }
    Ok(())
}

#[test]
fn dead_service_and_dead_host_are_reported_clearly() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let cfg = config(t.path());
    let lab = selftest();
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let _guard = Guard(cfg.clone(), lab.id.clone());
    let state = vl.state.clone();
    let r = (|| -> Result<()> {
        let vm1 = state.host("vm1").unwrap().init.as_ref().unwrap().pid;
        let re = regex_lite("fake-engine --socket");
        let engine = berth_grader::checks::procfs::find(Path::new("/proc"), Some(vm1), &re);
        ensure!(engine.len() == 1, "{engine:?}");
        // The service dies (we started it; killed by pid).
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(engine[0].0),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        std::thread::sleep(Duration::from_millis(200));
        run(&vl, "vm1", "rm -f /run/berth.sock")?;
        let step = &lab.steps[lab.step_index("engine").unwrap()];
        let mut latches = berth_grader::checks::latch::Latches::new(step.checks.len());
        let res = berth_grader::runner::check_step(
            &vl,
            &lab,
            step,
            &mut latches,
            Duration::from_millis(300),
        );
        ensure!(!res.passed);
        let notes = res.notes.join("\n");
        ensure!(notes.contains("checks still failing after 0s"), "{notes}");
        ensure!(
            notes.contains("service fake-engine on vm1 is not running"),
            "{notes}"
        );
        // The host itself dies.
        let vm2 = state.host("vm2").unwrap().init.as_ref().unwrap().pid;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(vm2),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        std::thread::sleep(Duration::from_millis(200));
        let e = vl
            .run("vm2", "true", Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        ensure!(
            e.contains("host vm2 is not running any more")
                && e.contains("lab reset platform-selftest"),
            "{e}"
        );
        Ok(())
    })();
    vl.teardown()?;
    r?;
    assert_clean(&cfg, &state)
}

fn regex_lite(s: &str) -> regex::Regex {
    regex::Regex::new(s).unwrap()
}

/// Reads from a pty master until `want` shows up (or 10 s pass); returns everything read.
fn read_until(master: &std::fs::File, want: &str) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let mut got = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut m = master;
    while !got.contains(want) && std::time::Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match m.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    got
}

#[test]
fn shell_on_a_host_looks_like_the_course_through_a_pty() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    use std::os::fd::{FromRawFd, IntoRawFd};
    use std::os::unix::process::CommandExt;
    let t = tempfile::tempdir()?;
    let cfg = config(t.path());
    let vl = VirtualLab::provision(&selftest(), &cfg)?;
    let _guard = Guard(cfg.clone(), vl.state.lab_id.clone());
    let state = vl.state.clone();
    let r = (|| -> Result<()> {
        let pty = nix::pty::openpty(None, None)?;
        let slave = pty.slave.into_raw_fd();
        let mut cmd = hosts::exec::shell_command(&vl, vl.host_state("vm2")?)?;
        cmd.env("TERM", "dumb");
        // SAFETY: the slave fd stays open until the child is spawned; dup'd per stream.
        unsafe {
            cmd.stdin(std::process::Stdio::from_raw_fd(libc::dup(slave)))
                .stdout(std::process::Stdio::from_raw_fd(libc::dup(slave)))
                .stderr(std::process::Stdio::from_raw_fd(libc::dup(slave)))
                .pre_exec(|| {
                    // A session of its own with the pty as controlling terminal, like a login.
                    nix::unistd::setsid().map_err(std::io::Error::from)?;
                    if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
        }
        let mut child = cmd.spawn()?;
        // SAFETY: closing our copy of the slave.
        unsafe { libc::close(slave) };
        let master = std::fs::File::from(pty.master);
        let first = read_until(&master, "[root@vm2 ~]#");
        ensure!(
            first.contains("[root@vm2 ~]#"),
            "no course-like prompt: {first:?}"
        );
        (&master).write_all(b"cd /tmp && hostname && echo $((6*7))\n")?;
        let out = read_until(&master, "[root@vm2 tmp]#");
        ensure!(
            out.contains("\nvm2") && out.contains("42") && out.contains("[root@vm2 tmp]#"),
            "{out:?}"
        );
        (&master).write_all(b"exit 3\n")?;
        let status = child.wait()?;
        ensure!(status.code() == Some(3), "{status}");
        Ok(())
    })();
    vl.teardown()?;
    r?;
    assert_clean(&cfg, &state)
}
