use super::Controller;
use crate::cgroups::{write, CgroupError, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Memory;

fn limit_text(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

impl Controller for Memory {
    const NAME: &'static str = "memory";

    fn needed(res: &Resources) -> Option<&'static str> {
        res.memory.as_ref().map(|_| "memory")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(m) = &res.memory else { return Ok(()) };
        if let Some(r) = m.reservation {
            write(dir, "memory.low", limit_text(r))?;
        }
        if let Some(limit) = m.limit {
            write(dir, "memory.max", limit_text(limit))?;
        }
        // OCI swap is memory+swap; v2 limits swap alone (runc's conversion).
        if let Some(swap) = m.swap {
            let v = match (swap, m.limit) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l >= 0 => {
                    if s < l {
                        return Err(CgroupError::Unsupported {
                            field: "memory.swap",
                            msg: format!("{s} is below memory.limit {l} (swap is memory+swap)"),
                        });
                    }
                    (s - l).to_string()
                }
                (s, _) => s.to_string(),
            };
            write(dir, "memory.swap.max", v)?;
        }
        // disableOOMKiller has no v2 equivalent; runc ignores it there, and so does berth.
        Ok(())
    }
}
