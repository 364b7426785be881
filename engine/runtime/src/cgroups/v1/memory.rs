use super::{has, Controller};
use crate::cgroups::{read, write, CgroupError, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Memory;

impl Controller for Memory {
    const NAME: &'static str = "memory";

    fn needed(res: &Resources) -> Option<&'static str> {
        res.memory.as_ref().map(|_| "memory")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(m) = &res.memory else { return Ok(()) };
        // OCI's swap is memory+swap, which is exactly v1's memsw limit.
        let set_swap = |swap: i64| {
            if !has(dir, "memory.memsw.limit_in_bytes") {
                return Err(CgroupError::Unsupported { field: "memory.swap", msg: "swap accounting is not enabled in this kernel".into() });
            }
            write(dir, "memory.memsw.limit_in_bytes", swap)
        };
        // runc's setMemoryAndSwap: the kernel keeps memsw >= limit at every write, so when both
        // change on a cgroup that already has limits (an update), a memsw above the current
        // limit goes first (raising both), else the limit goes first (lowering both).
        let swap_first = match (m.limit, m.swap) {
            (Some(_), Some(-1)) => true,
            (Some(_), Some(swap)) => {
                read(dir, "memory.limit_in_bytes").ok().and_then(|v| v.parse::<i64>().ok()).is_some_and(|cur| cur < swap)
            }
            _ => false,
        };
        if swap_first {
            set_swap(m.swap.unwrap_or(-1))?;
        }
        if let Some(limit) = m.limit {
            write(dir, "memory.limit_in_bytes", limit)?;
        }
        if let Some(swap) = m.swap.filter(|_| !swap_first) {
            set_swap(swap)?;
        }
        if let Some(r) = m.reservation {
            write(dir, "memory.soft_limit_in_bytes", r)?;
        }
        if let Some(s) = m.swappiness {
            write(dir, "memory.swappiness", s)?;
        }
        if m.disable_oom_killer == Some(true) {
            write(dir, "memory.oom_control", 1)?;
        }
        Ok(())
    }
}
