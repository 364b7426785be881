//! Container read-write layers: `<mount-id>-init` (Docker's init layer content) on top of the
//! image, then `<mount-id>` on top of it, recorded in `layerdb/mounts/<containerID>/`.

use super::store::{LayerStore, MountInfo};
use crate::digest::ChainId;
use crate::error::{IoContext, Result, StorageError};
use crate::fsutil;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

enum InitKind {
    Dir,
    File,
    Symlink(&'static str),
}

/// `daemon/initlayer/setup_unix.go`.
const INIT_PATHS: &[(&str, InitKind)] = &[
    ("dev/pts", InitKind::Dir),
    ("dev/shm", InitKind::Dir),
    ("proc", InitKind::Dir),
    ("sys", InitKind::Dir),
    (".dockerenv", InitKind::File),
    ("etc/resolv.conf", InitKind::File),
    ("etc/hosts", InitKind::File),
    ("etc/hostname", InitKind::File),
    ("dev/console", InitKind::File),
    ("etc/mtab", InitKind::Symlink("/proc/mounts")),
];

/// Where `rel` is visible in a stack of diff dirs (nearest first), honouring whiteouts and opaque
/// directories: the metadata of the visible entry, or None.
pub(crate) fn lookup_in_layers(layers: &[PathBuf], rel: &str) -> Option<fs::Metadata> {
    let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    'layers: for l in layers {
        let mut cur = l.clone();
        for (i, c) in comps.iter().enumerate() {
            cur.push(c);
            match fs::symlink_metadata(&cur) {
                Ok(m) if crate::archive::whiteout::is_whiteout(&m) => return None,
                Ok(m) if i + 1 == comps.len() => return Some(m),
                Ok(m) if m.is_dir() => {
                    if crate::archive::whiteout::is_opaque(&cur) {
                        // Nothing below this dir comes from further down.
                        let rest = comps[i + 1..].join("/");
                        return fs::symlink_metadata(cur.join(rest)).ok();
                    }
                }
                Ok(_) => return None, // a non-dir hides everything below it
                Err(_) => continue 'layers,
            }
        }
    }
    None
}

/// Populate an init layer's diff dir. `lowers` are the image's diff dirs (nearest first); for vfs
/// the init dir is a full copy and `lowers` is just `[init_dir]`.
fn populate_init(init_dir: &Path, lowers: &[PathBuf]) -> Result<()> {
    for (rel, kind) in INIT_PATHS {
        let existing = lookup_in_layers(lowers, rel);
        if let InitKind::Dir = kind {
            if existing.as_ref().map(|m| m.is_dir()).unwrap_or(false) {
                continue;
            }
        } else if existing.as_ref().map(|m| m.is_dir()).unwrap_or(false) {
            continue; // Docker's unlink fails on a directory, and its Stat then sees it exists
        }
        // Parent dirs: copied up from the visible lower dir (as overlay would), else 0755 root.
        let comps: Vec<&str> = rel.split('/').collect();
        let mut prefix = String::new();
        for c in &comps[..comps.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            let d = init_dir.join(&prefix);
            if fs::symlink_metadata(&d).map(|m| m.is_dir()).unwrap_or(false) {
                continue;
            }
            fsutil::remove_all(&d)?;
            fs::create_dir(&d).at(&d)?;
            let (mode, uid, gid) = match lookup_in_layers(lowers, &prefix) {
                Some(m) if m.is_dir() => (m.mode() & 0o7777, m.uid(), m.gid()),
                _ => (0o755, 0, 0),
            };
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).at(&d)?;
            nix::unistd::chown(&d, Some(uid.into()), Some(gid.into())).at(&d)?;
        }
        let p = init_dir.join(rel);
        fsutil::remove_all(&p)?;
        match kind {
            InitKind::Dir => {
                fs::create_dir(&p).at(&p)?;
                fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).at(&p)?;
            }
            InitKind::File => fsutil::write_plain(&p, b"", 0o755)?,
            InitKind::Symlink(t) => std::os::unix::fs::symlink(t, &p).at(&p)?,
        }
    }
    Ok(())
}

impl LayerStore {
    pub fn mount_info(&self, container_id: &str) -> Option<&MountInfo> {
        self.mounts.get(container_id)
    }

    pub fn all_mounts(&self) -> impl Iterator<Item = &MountInfo> {
        self.mounts.values()
    }

    /// Create the init and rw layers for a container whose image's top layer is `parent`.
    pub fn create_rw_layer(&mut self, container_id: &str, parent: Option<&ChainId>) -> Result<MountInfo> {
        if container_id.is_empty() || container_id.contains('/') || container_id.starts_with('.') {
            return Err(StorageError::InvalidReference(format!("invalid container id {container_id:?}")));
        }
        if self.mounts.contains_key(container_id) {
            return Err(StorageError::Conflict(format!("layer already exists for container {container_id}")));
        }
        let parent_cache = match parent {
            Some(p) => Some(self.layers.get(p).ok_or_else(|| StorageError::NotFound(format!("layer does not exist: {p}")))?.cache_id.clone()),
            None => None,
        };
        let mount_id = crate::ids::random_id();
        let init_id = format!("{mount_id}-init");
        let res = (|| -> Result<()> {
            self.driver.create(&init_id, parent_cache.as_deref())?;
            let init_dir = self.driver.diff_dir(&init_id);
            let lowers = if self.driver.diff_is_native() { self.driver.lower_dirs(&init_id)? } else { vec![init_dir.clone()] };
            populate_init(&init_dir, &lowers)?;
            if self.driver.diff_is_native() {
                // Docker mounts the init layer to populate it, so the kernel leaves `work/work`
                // (d---------) behind; we write the diff directly and recreate that trace.
                let ww = self.driver.home().join(&init_id).join("work/work");
                fs::create_dir(&ww).at(&ww)?;
                fs::set_permissions(&ww, fs::Permissions::from_mode(0o000)).at(&ww)?;
            }
            self.driver.create(&mount_id, Some(&init_id))?;
            let tmp = self.root.join("mounts").join(format!(".tmp-{container_id}"));
            fsutil::remove_all(&tmp)?;
            fsutil::mkdir_mode(&tmp, 0o755)?;
            fsutil::write_plain(&tmp.join("mount-id"), mount_id.as_bytes(), 0o644)?;
            fsutil::write_plain(&tmp.join("init-id"), init_id.as_bytes(), 0o644)?;
            if let Some(p) = parent {
                fsutil::write_plain(&tmp.join("parent"), p.as_str().as_bytes(), 0o644)?;
            }
            let dst = self.root.join("mounts").join(container_id);
            fs::rename(&tmp, &dst).at(&dst)
        })();
        if let Err(e) = res {
            let _ = self.driver.remove(&mount_id);
            let _ = self.driver.remove(&init_id);
            let _ = fsutil::remove_all(&self.root.join("mounts").join(format!(".tmp-{container_id}")));
            return Err(e);
        }
        let m = MountInfo { container_id: container_id.to_string(), mount_id, init_id, parent: parent.cloned() };
        self.mounts.insert(container_id.to_string(), m.clone());
        Ok(m)
    }

    fn mount_of(&self, container_id: &str) -> Result<&MountInfo> {
        self.mounts.get(container_id).ok_or_else(|| StorageError::NotFound(format!("no rw layer for container {container_id}")))
    }

    pub fn mount(&self, container_id: &str) -> Result<PathBuf> {
        let m = self.mount_of(container_id)?;
        self.driver.get(&m.mount_id)
    }

    pub fn unmount(&self, container_id: &str) -> Result<()> {
        let m = self.mount_of(container_id)?;
        self.driver.put(&m.mount_id)
    }

    /// Remove the rw and init layers and the mounts record (unmounting first if needed).
    pub fn remove_rw_layer(&mut self, container_id: &str) -> Result<()> {
        let m = self.mount_of(container_id)?.clone();
        let dir = self.root.join("mounts").join(container_id);
        // Record first: a crash after this leaves only driver dirs, which gc_orphans removes.
        let removing = self.root.join("mounts").join(format!(".removing-{container_id}"));
        fs::rename(&dir, &removing).at(&dir)?;
        self.mounts.remove(container_id);
        self.driver.remove(&m.mount_id)?;
        self.driver.remove(&m.init_id)?;
        fsutil::remove_all(&removing)
    }
}
