//! The `l/` short-link directory of overlay2 (`l/<26 base32 chars>` → `../<id>/diff`).

use crate::error::{IoContext, Result};
use std::path::Path;

/// Create a fresh link for layer `id`, write `<id>/link`, and return the link name.
pub fn create(home: &Path, id: &str) -> Result<String> {
    loop {
        let lid = crate::ids::link_id();
        let l = home.join("l").join(&lid);
        match std::os::unix::fs::symlink(format!("../{id}/diff"), &l) {
            Ok(()) => {
                crate::fsutil::write_plain(&home.join(id).join("link"), lid.as_bytes(), 0o644)?;
                return Ok(lid);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).at(&l),
        }
    }
}

pub fn read(home: &Path, id: &str) -> Result<String> {
    crate::fsutil::read_string(&home.join(id).join("link"))
}

pub fn remove(home: &Path, id: &str) -> Result<()> {
    if let Ok(lid) = read(home, id) {
        if !lid.is_empty() && !lid.contains('/') {
            crate::fsutil::remove_all(&home.join("l").join(lid))?;
        }
    }
    Ok(())
}
