//! `linux.resources.unified`: raw v2 knobs, written as given (file names must not escape the dir).

use super::Controller;
use crate::cgroups::{write, CgroupError, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Unified;

impl Controller for Unified {
    const NAME: &'static str = "unified";

    fn needed(res: &Resources) -> Option<&'static str> {
        (!res.unified.is_empty()).then_some("unified")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        for (k, v) in &res.unified {
            if k.contains('/') || k.starts_with('.') {
                return Err(CgroupError::Unsupported { field: "unified", msg: format!("bad key {k:?}") });
            }
            write(dir, k, v)?;
        }
        Ok(())
    }
}
