//! `cargo xtask bench runtime`.

use anyhow::{bail, Result};

pub fn run(_args: &[String]) -> Result<()> {
    bail!("the runtime benchmark is not written yet")
}
