//! The guided mode through a real pty: a scripted student completes `8-overlay2` the way a
//! person would — `shell` into vm1, type the course's commands at the `[root@vm1 ~]#` prompt,
//! `exit`, see each step announced as passed, answer the quizzes, `next` until the lab is
//! finished — against the same `guide` entry point `cargo xtask lab 8-overlay2` uses.

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

    /// Answers the quiz items `ids` in order, as a student reads them: the choices come in a new
    /// order each attempt, so the letter typed is the one shown beside the right choice's text.
    fn answer_quiz(&mut self, ids: &[&str]) -> Result<()> {
        let catalog = berth_grader::catalog::Catalog::load(&root().join("labs")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let lab = catalog.lab("8-overlay2").ok_or_else(|| anyhow::anyhow!("no lab 8-overlay2"))?;
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

#[test]
fn scripted_student_completes_8_overlay2_through_a_pty() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
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
    let t = tempfile::tempdir()?;
    let state = t.path().join("labs");
    let _guard = Guard(Config::new(&state, helper), "8-overlay2");
    let pty = nix::pty::openpty(None, None)?;
    let slave = pty.slave.into_raw_fd();
    let mut cmd = std::process::Command::new(helper);
    cmd.arg("guide")
        .arg("--lab")
        .arg(root().join("labs/8-overlay2/lab.toml"))
        .arg("--state")
        .arg(&state)
        .arg("--progress")
        .arg(t.path().join("progress.json"))
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
    let mut child = cmd.spawn()?;
    // SAFETY: closing our copy of the slave.
    unsafe { libc::close(slave) };
    let mut term = Term {
        master: std::fs::File::from(pty.master),
        seen: String::new(),
        log: String::new(),
    };
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
