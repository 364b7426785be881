//! `start`: release the created init into execve, exactly once.

use super::args::parse;
use super::{load, one_id, CmdResult, Globals};
use crate::state::{State, Status, EXEC_FIFO};
use std::path::Path;

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("start", argv, &[])?;
    let id = one_id(&p, "start")?;
    let st = load(g, &id)?;
    start(g, &st)?;
    Ok(0)
}

pub(super) fn start(g: &Globals, st: &State) -> Result<(), String> {
    match st.status(&g.root) {
        Status::Created => {}
        Status::Running => return Err("cannot start an already running container".into()),
        Status::Stopped => return Err("cannot start a container that has stopped".into()),
    }
    let dir = st.dir(&g.root);
    // Renaming claims the fifo: of two concurrent starts only one can win.
    let claimed = dir.join(format!("{EXEC_FIFO}.{}", std::process::id()));
    std::fs::rename(dir.join(EXEC_FIFO), &claimed).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "cannot start an already running container".to_string(),
        _ => format!("exec fifo: {e}"),
    })?;
    let r = release(&claimed);
    let _ = std::fs::remove_file(&claimed);
    r
}

fn release(fifo: &Path) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENXIO) => "cannot start container: its init process is gone".to_string(),
            _ => format!("open exec fifo: {e}"),
        })?;
    f.write_all(b"0").map_err(|e| format!("write exec fifo: {e}"))
}
