use super::Controller;
use crate::cgroups::{read, write, CgroupError, Result};
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
            // As runc: the kernel clamps cpu.shares to [2, 262144] (a huge value even wraps in
            // its fixed-point scaling and lands on the minimum), so read it back and refuse a
            // value that did not stick.
            let got: u64 = read(dir, "cpu.shares")?.parse().unwrap_or(s);
            if s > got {
                return Err(CgroupError::Unsupported { field: "cpu.shares", msg: format!("the maximum allowed cpu-shares is {got}") });
            }
            if s < got {
                return Err(CgroupError::Unsupported { field: "cpu.shares", msg: format!("the minimum allowed cpu-shares is {got}") });
            }
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
