use super::Controller;
use crate::cgroups::{write, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Pids;

impl Controller for Pids {
    const NAME: &'static str = "pids";

    fn needed(res: &Resources) -> Option<&'static str> {
        res.pids.as_ref().map(|_| "pids")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        let Some(p) = &res.pids else { return Ok(()) };
        let v = if p.limit > 0 { p.limit.to_string() } else { "max".into() };
        write(dir, "pids.max", v)
    }
}
