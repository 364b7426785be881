//! Registry transfers on the store side: turning pulled blobs into layers and an image
//! ([`pull`]), and turning an image into compressed blobs plus a manifest to push ([`push`]).
//! The network part lives in berth-registry; these functions are blocking and file-based so
//! they stay testable without a registry.

pub mod pull;
pub mod push;

use std::path::{Path, PathBuf};

/// A scratch directory under `<data-root>/tmp` removed (with its content) when dropped, so an
/// interrupted pull or push leaves no stray files (and `Store::open` empties `tmp/` anyway).
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub fn new(parent: &Path, prefix: &str) -> crate::Result<ScratchDir> {
        let path = parent.join(format!("{prefix}-{}", &crate::ids::random_id()[..16]));
        crate::fsutil::mkdir_all_mode(&path, 0o700)?;
        Ok(ScratchDir { path })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
