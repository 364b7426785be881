//! Graph drivers: where layer directories live and how a layer stack becomes one root filesystem.
//! `overlay2` is Docker's layout to the byte; `vfs` makes full copies (no overlayfs needed).

pub mod link;
pub mod overlay2;
pub mod vfs;

use crate::error::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which driver to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverKind {
    Overlay2,
    Vfs,
    /// overlay2 when the kernel has overlayfs, else vfs.
    Auto,
}

impl DriverKind {
    pub fn parse(s: &str) -> Option<DriverKind> {
        match s {
            "overlay2" => Some(DriverKind::Overlay2),
            "vfs" => Some(DriverKind::Vfs),
            "" | "auto" => Some(DriverKind::Auto),
            _ => None,
        }
    }
}

pub trait Driver: Send + Sync {
    /// `overlay2` or `vfs` (also the `image/<name>/` directory).
    fn name(&self) -> &'static str;
    /// `<data-root>/<name>`.
    fn home(&self) -> &Path;
    /// Create layer `id` on top of `parent` (an empty `diff/` for overlay2, a copy for vfs).
    fn create(&self, id: &str, parent: Option<&str>) -> Result<()>;
    /// Give a layer created without a parent its parent afterwards (layers applied while an
    /// archive streams in, before the manifest says how they stack). Only for native-diff drivers.
    fn set_parent(&self, id: &str, parent: &str) -> Result<()>;
    /// Delete a layer and everything that belongs to it.
    fn remove(&self, id: &str) -> Result<()>;
    /// The directory that holds the layer's own files (overlay2: `diff/`; vfs: the full copy).
    fn diff_dir(&self, id: &str) -> PathBuf;
    /// Make the layer's root filesystem available (overlay2: mount `merged/`); reference counted.
    fn get(&self, id: &str) -> Result<PathBuf>;
    /// Undo one `get`; the last one unmounts and removes `merged/`.
    fn put(&self, id: &str) -> Result<()>;
    /// Whether `diff_dir` holds only this layer's changes (with overlay whiteouts) or a full copy.
    fn diff_is_native(&self) -> bool;
    /// `GraphDriver.Data` for inspect.
    fn metadata(&self, id: &str) -> Result<BTreeMap<String, String>>;
    /// The diff dirs of the layer's ancestors, nearest first (overlay2 only; empty for vfs).
    fn lower_dirs(&self, id: &str) -> Result<Vec<PathBuf>>;
    /// Every layer id present on disk (to find leftovers of a crash).
    fn list(&self) -> Result<Vec<String>>;
}

fn list_dir(dir: &Path, skip: &[&str]) -> Result<Vec<String>> {
    use crate::error::IoContext;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).at(dir)? {
        let n = e.at(dir)?.file_name().to_string_lossy().into_owned();
        if !skip.contains(&n.as_str()) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Can we really mount overlayfs with upper/work dirs on the filesystem of `scratch` (an existing
/// directory)? A probe mount is made and removed at once (Docker checks the backing fs similarly).
pub fn overlay_usable(scratch: &Path) -> bool {
    if !overlay_supported() {
        return false;
    }
    let dir = scratch.join(format!("overlay-probe-{}", &crate::ids::random_id()[..12]));
    let ok = (|| -> std::io::Result<bool> {
        for d in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            dir.join("lower").display(),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        let merged = dir.join("merged");
        if nix::mount::mount(Some("overlay"), &merged, Some("overlay"), nix::mount::MsFlags::empty(), Some(data.as_str())).is_err() {
            return Ok(false);
        }
        let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
        Ok(true)
    })()
    .unwrap_or(false);
    let _ = crate::fsutil::remove_all(&dir);
    ok
}

/// Is overlayfs available (as `/proc/filesystems` lists it)?
pub fn overlay_supported() -> bool {
    std::fs::read_to_string("/proc/filesystems").map(|s| s.lines().any(|l| l.trim_end().ends_with("\toverlay"))).unwrap_or(false)
}
