use super::Controller;
use crate::cgroups::{write, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Cpu;

/// v1 shares [2, 262144] → v2 weight [1, 10000] (the formula runc and crun share).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

impl Controller for Cpu {
    const NAME: &'static str = "cpu";

    fn needed(res: &Resources) -> Option<&'static str> {
        let c = res.cpu.as_ref()?;
        (c.shares.is_some() || c.quota.is_some() || c.period.is_some()).then_some("cpu")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(c) = &res.cpu else { return Ok(()) };
        if let Some(s) = c.shares {
            write(dir, "cpu.weight", shares_to_weight(s))?;
        }
        if c.quota.is_some() || c.period.is_some() {
            let quota = match c.quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            write(dir, "cpu.max", format!("{quota} {}", c.period.unwrap_or(100_000)))?;
        }
        Ok(())
    }
}
