//! `kill ID [SIGNAL]`: signal the init (or, with --all, every process in the cgroup).

use super::args::{parse, Flag};
use super::{load, CmdResult, Globals};
use crate::cgroups::CgroupManager;
use crate::state::Status;

pub fn parse_signal(s: &str) -> Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    name.parse::<nix::sys::signal::Signal>().map(|s| s as i32).map_err(|_| format!("unknown signal {s:?}"))
}

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("kill", argv, &[Flag("all", &["--all", "-a"], false)])?;
    let (id, sig) = match p.positional.as_slice() {
        [id] => (id.clone(), libc::SIGTERM),
        [id, s] => (id.clone(), parse_signal(s)?),
        _ => return Err("kill: usage: kill [--all] ID [SIGNAL]".into()),
    };
    let st = load(g, &id)?;
    if st.status(&g.root) == Status::Stopped {
        return Err("container not running".into());
    }
    let mut pids = vec![st.pid];
    if p.flag("all") {
        if let Some(cg) = &st.cgroup {
            pids = cg.pids().map_err(|e| e.to_string())?;
        }
    }
    for pid in pids {
        if unsafe { libc::kill(pid, sig) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(format!("kill {pid}: {e}"));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_numbers() {
        assert_eq!(parse_signal("KILL"), Ok(9));
        assert_eq!(parse_signal("SIGKILL"), Ok(9));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("term"), Ok(15));
        assert!(parse_signal("BOGUS").is_err());
        assert!(parse_signal("0").is_err());
    }
}
