use super::Controller;
use crate::cgroups::{write, CgroupError, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Io;

/// blkio weight [10, 1000] → io.weight [1, 10000] (runc's conversion).
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

impl Controller for Io {
    const NAME: &'static str = "io";

    fn needed(res: &Resources) -> Option<&'static str> {
        res.block_io.as_ref()?.weight.map(|_| "blockIO")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(w) = res.block_io.as_ref().and_then(|b| b.weight) else { return Ok(()) };
        if dir.join("io.bfq.weight").exists() {
            write(dir, "io.bfq.weight", w)
        } else if dir.join("io.weight").exists() {
            write(dir, "io.weight", blkio_to_io_weight(w))
        } else {
            Err(CgroupError::Unsupported {
                field: "blockIO.weight",
                msg: "this kernel has no io.weight nor io.bfq.weight".into(),
            })
        }
    }
}
