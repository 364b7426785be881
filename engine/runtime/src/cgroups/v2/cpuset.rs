use super::Controller;
use crate::cgroups::{write, Result};
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
