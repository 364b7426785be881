//! `cargo xtask bench images`.

use anyhow::{bail, Result};

pub fn run(_args: &[String]) -> Result<()> {
    bail!("the images benchmark is not written yet")
}
