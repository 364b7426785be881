use super::Controller;
use crate::cgroups::{write, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Cpu;

impl Controller for Cpu {
    const NAME: &'static str = "cpu";

    fn needed(res: &Resources) -> Option<&'static str> {
        let c = res.cpu.as_ref()?;
        (c.shares.is_some() || c.quota.is_some() || c.period.is_some()).then_some("cpu")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(c) = &res.cpu else { return Ok(()) };
        if let Some(s) = c.shares {
            write(dir, "cpu.shares", s)?;
        }
        // Period first: the kernel checks quota against the current period.
        if let Some(p) = c.period {
            write(dir, "cpu.cfs_period_us", p)?;
        }
        if let Some(q) = c.quota {
            write(dir, "cpu.cfs_quota_us", q)?;
        }
        Ok(())
    }
}
