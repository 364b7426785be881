//! Running a CLI (berth, docker) to completion, with a timeout that kills it by PID.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Output of a CLI run, with helpers for assertions.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run `cmd` with `stdin` fed in; panics when it hangs for 120 s (after killing it).
pub fn run_with(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn CLI");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(data).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(o) => o.expect("CLI output").into(),
        Err(_) => {
            // SAFETY: killing the CLI child we started, by PID.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("CLI {cmd:?} hung for 120 s");
        }
    }
}
