//! The guided mode through a real pty: a scripted student completes `8-overlay2` the way a
//! person would — `shell` into vm1, type the course's commands at the `[root@vm1 ~]#` prompt,
//! `exit`, see each step announced as passed, answer the quizzes, `next` until the lab is
//! finished — against the same `guide` entry point `cargo xtask lab 8-overlay2` uses. A second
//! student goes through `7-containers`' attach step with the real keys: `docker attach`, typing
//! at the container's shell, then ctrl+p ctrl+q (0x10 0x11) back to vm1 with the container
//! still running.

use anyhow::{bail, ensure, Result};
use berth_grader::hosts::{self, Config};
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, IntoRawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Term {
    master: std::fs::File,
    /// The lab being guided (its quiz items).
    lab: &'static str,
    /// Everything read so far and not yet consumed by `expect`.
    seen: String,
    log: String,
}

impl Term {
    /// Reads until `want` appears after what earlier `expect`s consumed.
    fn expect(&mut self, want: &str, secs: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(i) = self.seen.find(want) {
                self.seen.drain(..i + want.len());
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "waited {secs}s for {want:?}; the terminal showed:\n{}",
                    self.log
                );
            }
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 8192];
            match self.master.read(&mut buf) {
                Ok(0) | Err(_) => bail!(
                    "the terminal closed while waiting for {want:?}:\n{}",
                    self.log
                ),
                Ok(n) => {
                    let s = String::from_utf8_lossy(&buf[..n]);
                    self.seen.push_str(&s);
                    self.log.push_str(&s);
                }
            }
        }
    }

    /// Waits until `want` has appeared anywhere so far: announcements of the background poller
    /// may come while the shell is still open, before prompts that `expect` already consumed.
    fn saw(&mut self, want: &str, secs: u64) -> Result<()> {
        if self.log.contains(want) {
            return Ok(());
        }
        self.expect(want, secs)
    }

    fn type_line(&mut self, line: &str) -> Result<()> {
        self.master.write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    /// Presses keys that are no text, e.g. ctrl+p ctrl+q (`[0x10, 0x11]`).
    fn keys(&mut self, bytes: &[u8]) -> Result<()> {
        self.master.write_all(bytes)?;
        Ok(())
    }

    /// Answers the quiz items `ids` in order, as a student reads them: the choices come in a new
    /// order each attempt, so the letter typed is the one shown beside the right choice's text.
    fn answer_quiz(&mut self, ids: &[&str]) -> Result<()> {
        let catalog = berth_grader::catalog::Catalog::load(&root().join("labs")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let lab = catalog.lab(self.lab).ok_or_else(|| anyhow::anyhow!("no lab {}", self.lab))?;
        for id in ids {
            let q = lab.quiz_item(id).ok_or_else(|| anyhow::anyhow!("no quiz item {id}"))?;
            let right = &q.choices[q.answer_index().ok_or_else(|| anyhow::anyhow!("{id}: bad answer"))?];
            self.expect("answer (", 10)?;
            let shown = format!(") {} / {}", right.zh, right.en);
            let at = self.log.rfind(&shown).ok_or_else(|| anyhow::anyhow!("choice {shown:?} not shown:\n{}", self.log))?;
            let line_start = self.log[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let letter = self.log[line_start..at].trim().to_string();
            self.type_line(&letter)?;
            self.expect("✔ right", 10)?;
        }
        Ok(())
    }

    /// Opens a shell on vm1, types `cmds` at the course-like prompt, leaves it.
    fn in_shell(&mut self, cmds: &[&str]) -> Result<()> {
        self.type_line("shell")?;
        self.expect("[root@vm1 ~]#", 20)?;
        for c in cmds {
            self.type_line(c)?;
            self.expect("[root@vm1", 60)?;
        }
        self.type_line("exit")?;
        Ok(())
    }
}

/// Resets the lab when dropped, also when the test fails half-way.
struct Guard(Config, &'static str);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hosts::reset(&self.0, self.1);
    }
}

/// Starts the guided mode of `lab` on a new pty, as `cargo xtask lab <lab>` would in a terminal:
/// its state and progress under `dir`, the lab reset when the guard drops.
fn guide(lab: &'static str, dir: &Path) -> Result<(std::process::Child, Term, Guard)> {
    let helper = env!("CARGO_BIN_EXE_berth-lab-host");
    if !Path::new(helper).with_file_name("berthd").is_file() {
        bail!("berthd is not built next to {helper}: run `cargo build -p berth` first");
    }
    let images = std::env::var_os("BERTH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/fixtures"))
        .join("images");
    ensure!(
        images.join("busybox.tar").is_file(),
        "no busybox fixture in {}: run cargo xtask fixtures",
        images.display()
    );
    let state = dir.join("labs");
    let guard = Guard(Config::new(&state, helper), lab);
    let pty = nix::pty::openpty(None, None)?;
    let slave = pty.slave.into_raw_fd();
    let mut cmd = std::process::Command::new(helper);
    cmd.arg("guide")
        .arg("--lab")
        .arg(root().join("labs").join(lab).join("lab.toml"))
        .arg("--state")
        .arg(&state)
        .arg("--progress")
        .arg(dir.join("progress.json"))
        .arg("--images")
        .arg(&images)
        .args(["--poll-ms", "200"])
        .env("TERM", "dumb");
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
    let child = cmd.spawn()?;
    // SAFETY: closing our copy of the slave.
    unsafe { libc::close(slave) };
    let term = Term {
        master: std::fs::File::from(pty.master),
        lab,
        seen: String::new(),
        log: String::new(),
    };
    Ok((child, term, guard))
}

#[test]
fn scripted_student_completes_8_overlay2_through_a_pty() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let (mut child, mut term, _guard) = guide("8-overlay2", t.path())?;
    let r = (|| -> Result<()> {
        term.expect("-- step 1/5", 60)?;
        term.expect("lab 8-overlay2 [1/5]> ", 10)?;
        term.in_shell(&[
            "docker info | grep 'Storage Driver'",
            "ls /var/lib/berth/overlay2",
        ])?;
        ensure!(
            term.log.contains("Storage Driver: overlay2"),
            "{}",
            term.log
        );
        term.expect("lab 8-overlay2 [1/5]> ", 10)?;
        term.type_line("quiz")?;
        term.answer_quiz(&["driver", "dataroot"])?;
        term.saw("✔ step 1 passed", 15)?;
        term.type_line("next")?;

        term.expect("lab 8-overlay2 [2/5]> ", 10)?;
        term.in_shell(&[
            "docker pull busybox",
            "cat /var/lib/berth/overlay2/*/link > /root/link.txt",
            "ls -l /var/lib/berth/overlay2/l/",
        ])?;
        term.saw("✔ step 2 passed", 20)?;
        term.type_line("next")?;

        term.expect("lab 8-overlay2 [3/5]> ", 10)?;
        term.in_shell(&[
            "docker run -d --name c1 busybox sleep 3600",
            "cd /var/lib/berth/overlay2 && ls -d *-init",
            "echo /var/lib/berth/overlay2/$(ls -d *-init | sed 's/-init$//')/merged > /root/merged.txt",
        ])?;
        term.saw("✔ step 3 passed", 20)?;
        term.type_line("next")?;

        term.expect("lab 8-overlay2 [4/5]> ", 10)?;
        term.in_shell(&[
            "docker exec c1 sh -c 'echo hello cow > /root/notes.txt'",
            "docker exec c1 sh -c 'echo student:x:1000:1000::/home/student:/bin/sh >> /etc/passwd'",
            "docker exec c1 rm /etc/group",
        ])?;
        term.saw("✔ step 4 passed", 20)?;
        term.type_line("next")?;

        term.expect("lab 8-overlay2 [5/5]> ", 10)?;
        term.type_line("quiz")?;
        term.answer_quiz(&["cow", "whiteout", "layers"])?;
        term.saw("✔ step 5 passed", 15)?;
        term.type_line("next")?;
        term.expect("lab 8-overlay2 finished.", 15)?;
        term.expect("☑ explain-overlay2", 5)?;
        let status = child.wait()?;
        ensure!(
            status.success(),
            "guide exited with {status}:\n{}",
            term.log
        );
        Ok(())
    })();
    if r.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    r
}

/// 7-containers' attach step as a student does it: the earlier steps fast-forwarded with `solve`,
/// then in vm1's shell `docker run -itd`, `docker attach`, commands typed at the container's own
/// shell (PID 1), and ctrl+p ctrl+q. While attached the step must not pass (its last check wants
/// no attach client left); after the detach it passes, with box still up.
#[test]
fn scripted_student_attaches_and_detaches_with_ctrl_p_ctrl_q() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let t = tempfile::tempdir()?;
    let (mut child, mut term, _guard) = guide("7-containers", t.path())?;
    let r = (|| -> Result<()> {
        term.expect("-- step 1/7", 120)?;
        for (i, step) in ["hello", "run-detached", "logs-stop", "start-exec"].iter().enumerate() {
            term.expect(&format!("lab 7-containers [{}/7]> ", i + 1), 20)?;
            term.type_line("solve")?;
            term.expect(&format!("✔ step {step}"), 60)?;
            term.type_line("next")?;
        }
        term.expect("-- step 5/7", 10)?;
        term.expect("lab 7-containers [5/7]> ", 10)?;
        term.type_line("shell")?;
        term.expect("[root@vm1 ~]#", 20)?;
        term.type_line("docker run -itd --name box busybox sh")?;
        term.expect("[root@vm1", 60)?;
        term.type_line("docker attach box")?;
        // The container's shell printed its prompt before we came: Enter shows it again.
        term.type_line("")?;
        term.expect("/ #", 30)?;
        term.type_line("cd /root")?;
        term.expect("~ #", 10)?;
        term.type_line("echo pid=$$")?;
        term.expect("pid=1", 10)?;
        term.type_line("echo $$ > attached.txt")?;
        term.expect("~ #", 10)?;
        // Everything but the detach is done: the poller (every 200 ms) must not pass the step.
        std::thread::sleep(Duration::from_secs(3));
        term.type_line("echo still-$((1+1))")?;
        term.expect("still-2", 10)?;
        ensure!(!term.log.contains("step 5 passed"), "the step passed while still attached:\n{}", term.log);
        term.keys(&[0x10, 0x11])?;
        term.expect("read escape sequence", 10)?;
        term.expect("[root@vm1", 10)?;
        term.type_line("docker ps --format '{{.Names}} {{.Status}}'")?;
        term.expect("box Up", 20)?;
        term.expect("[root@vm1", 10)?;
        term.type_line("exit")?;
        term.saw("✔ step 5 passed", 20)?;
        term.type_line("next")?;
        term.expect("lab 7-containers [6/7]> ", 10)?;
        term.type_line("quit")?;
        let status = child.wait()?;
        ensure!(status.success(), "guide exited with {status}:\n{}", term.log);
        Ok(())
    })();
    if r.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    r
}
