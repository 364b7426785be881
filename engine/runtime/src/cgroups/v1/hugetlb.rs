use super::Controller;
use crate::cgroups::{write, Result};
use crate::spec::Resources;
use std::path::Path;

pub(crate) struct Hugetlb;

impl Controller for Hugetlb {
    const NAME: &'static str = "hugetlb";

    fn needed(res: &Resources) -> Option<&'static str> {
        (!res.hugepage_limits.is_empty()).then_some("hugepageLimits")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        for h in &res.hugepage_limits {
            write(dir, &format!("hugetlb.{}.limit_in_bytes", h.page_size), h.limit)?;
        }
        Ok(())
    }
}
