//! `delete [--force] ID`: remove the cgroups and the state of a stopped (or, forced, any)
//! container.

use super::args::{parse, Flag};
use super::{one_id, CmdResult, Globals};
use crate::cgroups::CgroupManager;
use crate::state::{State, StateError, Status};

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("delete", argv, &[Flag("force", &["--force", "-f"], false)])?;
    let id = one_id(&p, "delete")?;
    let st = match State::load(&g.root, &id) {
        Ok(s) => s,
        Err(StateError::NotExist) => {
            // runc: deleting a missing container is fine when forced; its dir may be half-made.
            if p.flag("force") {
                let _ = std::fs::remove_dir_all(crate::state::container_dir(&g.root, &id));
                return Ok(0);
            }
            return Err(format!("container {id} does not exist"));
        }
        Err(e) => return Err(e.to_string()),
    };
    match st.status(&g.root) {
        Status::Running if !p.flag("force") => {
            return Err(format!("cannot delete container {id} that is not stopped: running"))
        }
        _ => {}
    }
    destroy(g, &st)
}

/// Kills whatever is left, removes the cgroups, then the state directory.
pub(super) fn destroy(g: &Globals, st: &State) -> CmdResult {
    if crate::state::process_alive(st.pid, st.start_time) {
        unsafe { libc::kill(st.pid, libc::SIGKILL) };
        for _ in 0..400 {
            if !crate::state::process_alive(st.pid, st.start_time) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    if let Some(cg) = &st.cgroup {
        crate::process::kill_all(cg);
        cg.remove().map_err(|e| e.to_string())?;
    }
    std::fs::remove_dir_all(st.dir(&g.root)).map_err(|e| format!("{}: {e}", st.dir(&g.root).display()))?;
    Ok(0)
}
