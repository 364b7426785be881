use super::{has, Controller};
use crate::cgroups::{write, CgroupError, Result};
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
        if let Some(limit) = m.limit {
            write(dir, "memory.limit_in_bytes", limit)?;
        }
        // OCI's swap is memory+swap, which is exactly v1's memsw limit.
        if let Some(swap) = m.swap {
            if !has(dir, "memory.memsw.limit_in_bytes") {
                return Err(CgroupError::Unsupported {
                    field: "memory.swap",
                    msg: "swap accounting is not enabled in this kernel".into(),
                });
            }
            write(dir, "memory.memsw.limit_in_bytes", swap)?;
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
