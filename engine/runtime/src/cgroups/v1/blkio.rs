use super::{has, Controller};
use crate::cgroups::{write, CgroupError, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Blkio;

impl Controller for Blkio {
    const NAME: &'static str = "blkio";

    fn needed(res: &Resources) -> Option<&'static str> {
        res.block_io.as_ref()?.weight.map(|_| "blockIO")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(w) = res.block_io.as_ref().and_then(|b| b.weight) else { return Ok(()) };
        // CFQ's blkio.weight is gone from modern kernels; BFQ exposes blkio.bfq.weight.
        for file in ["blkio.weight", "blkio.bfq.weight"] {
            if has(dir, file) {
                return write(dir, file, w);
            }
        }
        Err(CgroupError::Unsupported {
            field: "blockIO.weight",
            msg: "this kernel has no blkio.weight nor blkio.bfq.weight (no CFQ/BFQ scheduler)".into(),
        })
    }
}
