use super::Controller;
use crate::cgroups::{read, write, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Cpuset;

impl Controller for Cpuset {
    const NAME: &'static str = "cpuset";

    fn needed(res: &Resources) -> Option<&'static str> {
        let c = res.cpu.as_ref()?;
        (c.cpus.is_some() || c.mems.is_some()).then_some("cpu")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(c) = &res.cpu else { return Ok(()) };
        if let Some(cpus) = &c.cpus {
            write(dir, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = &c.mems {
            write(dir, "cpuset.mems", mems)?;
        }
        Ok(())
    }
}

/// Fills empty cpuset.cpus/mems from the nearest ancestor, top-down, as runc does.
pub(crate) fn inherit_from_parents(dir: &Path) -> Result<()> {
    let mut chain = vec![dir.to_path_buf()];
    let mut cur = dir;
    while let Some(p) = cur.parent() {
        if !p.join("cpuset.cpus").exists() {
            break;
        }
        chain.push(p.to_path_buf());
        cur = p;
    }
    chain.reverse();
    for pair in chain.windows(2) {
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if read(&pair[1], file)?.is_empty() {
                write(&pair[1], file, read(&pair[0], file)?)?;
            }
        }
    }
    Ok(())
}
