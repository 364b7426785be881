//! Operations on a container's layers: `docker export` (the merged view as a tar), `docker diff`
//! (A/C/D against the init layer) and `docker commit` (the rw layer's diff as a new image layer).
//! overlay2 uses the native diff (the upper dir, whiteouts converted); vfs compares the rw copy
//! with the init copy (Docker's naive differ).

use crate::archive::tar_writer::{self, TreeWriter, Whiteouts};
use crate::digest::{chain_ids, ImageId, EMPTY_LAYER_DIFF_ID};
use crate::error::{IoContext, Result, StorageError};
use crate::image::config::{self, ContainerConfig, History, ImageConfig};
use crate::layer::container::lookup_in_layers;
use crate::reference::Reference;
use crate::store::{Inner, Store};
use std::fs;
use std::io::{Seek, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// `C` (API Kind 0)
    Modified,
    /// `A` (API Kind 1)
    Added,
    /// `D` (API Kind 2)
    Deleted,
}

/// One line of `docker diff`: `{"Path":"/etc","Kind":0}` in the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

impl Change {
    pub fn api_kind(&self) -> u8 {
        match self.kind {
            ChangeKind::Modified => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = match self.kind {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path)
    }
}

/// Options of [`Store::commit`].
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// The container's image.
    pub image: Option<ImageId>,
    /// The container's `Config` (becomes `container_config`, and `config` after `changes`).
    pub container_config: ContainerConfig,
    /// `repo[:tag]` for the new image.
    pub reference: Option<String>,
    pub author: String,
    /// `-m`
    pub comment: String,
    /// `-c` instructions.
    pub changes: Vec<String>,
    /// History `created_by`: the container's Path and Args joined by spaces.
    pub created_by: String,
    /// The new image's `config` when it is not `container_config` + `changes` (a build step:
    /// the stage's config, while `container_config` holds the step's cache key).
    pub config: Option<ContainerConfig>,
    /// Leave `container` out of the image config (a builder's COPY commits a bare rw layer).
    pub omit_container: bool,
}

fn sorted_names(dir: &Path) -> Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .at(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .at(dir)?;
    v.sort();
    Ok(v)
}

/// Native overlay changes: walk the upper dir.
fn overlay_changes(upper: &Path, lowers: &[PathBuf], rel: &str, out: &mut Vec<Change>) -> Result<()> {
    let dir = if rel.is_empty() { upper.to_path_buf() } else { upper.join(rel) };
    for n in sorted_names(&dir)? {
        let r = if rel.is_empty() { n.clone() } else { format!("{rel}/{n}") };
        let p = upper.join(&r);
        let m = fs::symlink_metadata(&p).at(&p)?;
        if crate::archive::whiteout::is_whiteout(&m) {
            out.push(Change { path: format!("/{r}"), kind: ChangeKind::Deleted });
            continue;
        }
        let kind = if lookup_in_layers(lowers, &r).is_some() { ChangeKind::Modified } else { ChangeKind::Added };
        out.push(Change { path: format!("/{r}"), kind });
        if m.is_dir() {
            overlay_changes(upper, lowers, &r, out)?;
        }
    }
    Ok(())
}

fn same_entry(a: &fs::Metadata, b: &fs::Metadata, pa: &Path, pb: &Path) -> bool {
    if a.mode() != b.mode() || a.uid() != b.uid() || a.gid() != b.gid() {
        return false;
    }
    if a.file_type().is_symlink() {
        return fs::read_link(pa).ok() == fs::read_link(pb).ok();
    }
    if a.file_type().is_char_device() || a.file_type().is_block_device() {
        return a.rdev() == b.rdev();
    }
    if a.is_dir() {
        return a.mtime() == b.mtime() && a.mtime_nsec() == b.mtime_nsec();
    }
    a.size() == b.size() && a.mtime() == b.mtime() && a.mtime_nsec() == b.mtime_nsec()
}

/// Naive changes: compare two full trees.
fn naive_changes(new: &Path, old: &Path, rel: &str, out: &mut Vec<Change>) -> Result<()> {
    let nd = if rel.is_empty() { new.to_path_buf() } else { new.join(rel) };
    let od = if rel.is_empty() { old.to_path_buf() } else { old.join(rel) };
    let new_names = sorted_names(&nd)?;
    let old_names = if od.is_dir() { sorted_names(&od)? } else { Vec::new() };
    let mut all: Vec<&String> = new_names.iter().chain(old_names.iter()).collect();
    all.sort();
    all.dedup();
    for n in all {
        let r = if rel.is_empty() { n.clone() } else { format!("{rel}/{n}") };
        let (pn, po) = (new.join(&r), old.join(&r));
        match (fs::symlink_metadata(&pn).ok(), fs::symlink_metadata(&po).ok()) {
            (None, Some(_)) => out.push(Change { path: format!("/{r}"), kind: ChangeKind::Deleted }),
            (Some(m), None) => {
                out.push(Change { path: format!("/{r}"), kind: ChangeKind::Added });
                if m.is_dir() {
                    naive_changes(new, old, &r, out)?;
                }
            }
            (Some(m), Some(o)) => {
                if !same_entry(&m, &o, &pn, &po) || (m.is_dir() != o.is_dir()) {
                    out.push(Change { path: format!("/{r}"), kind: ChangeKind::Modified });
                }
                if m.is_dir() {
                    naive_changes(new, old, &r, out)?;
                }
            }
            (None, None) => {}
        }
    }
    Ok(())
}

impl Inner {
    fn container_changes(&self, cid: &str) -> Result<Vec<Change>> {
        let m = self.layers.mount_info(cid).ok_or_else(|| StorageError::NotFound(format!("No such container: {cid}")))?;
        let mut out = Vec::new();
        if self.driver.diff_is_native() {
            let lowers = self.driver.lower_dirs(&m.mount_id)?;
            overlay_changes(&self.driver.diff_dir(&m.mount_id), &lowers, "", &mut out)?;
        } else {
            naive_changes(&self.driver.diff_dir(&m.mount_id), &self.driver.diff_dir(&m.init_id), "", &mut out)?;
        }
        Ok(out)
    }

    /// The rw layer's diff as a layer tar.
    fn diff_tar(&self, cid: &str, w: &mut dyn Write) -> Result<()> {
        let m = self.layers.mount_info(cid).ok_or_else(|| StorageError::NotFound(format!("No such container: {cid}")))?;
        if self.driver.diff_is_native() {
            tar_writer::write_tree(&self.driver.diff_dir(&m.mount_id), w, Whiteouts::FromOverlay)?;
            return Ok(());
        }
        let rw = self.driver.diff_dir(&m.mount_id);
        let mut t = TreeWriter::new(w, Whiteouts::None);
        for c in self.container_changes(cid)? {
            let rel = c.path.trim_start_matches('/');
            match c.kind {
                ChangeKind::Deleted => t.add_whiteout(rel)?,
                _ => t.add(&rw, rel)?,
            }
        }
        t.finish()?;
        Ok(())
    }
}

impl Store {
    /// `docker export`: the container's merged filesystem as a tar (mounts it for the duration).
    pub fn export_container(&self, cid: &str, out: &mut dyn Write) -> Result<()> {
        let root = self.mount(cid)?;
        let res = tar_writer::write_tree(&root, out, Whiteouts::None).map(|_| ());
        let un = self.unmount(cid);
        res.and(un)
    }

    /// `SizeRw` and `SizeRootFs` (`docker ps -s`, inspect `?size=1`): bytes of the container's own
    /// changes (files of the rw upper dir; for vfs the added/changed files), and that plus the image.
    pub fn container_size(&self, cid: &str) -> Result<(u64, u64)> {
        let g = self.lock();
        let m = g.layers.mount_info(cid).ok_or_else(|| StorageError::NotFound(format!("No such container: {cid}")))?.clone();
        let rw = if g.driver.diff_is_native() {
            crate::archive::tar_safe::dir_size(&g.driver.diff_dir(&m.mount_id))?
        } else {
            let dir = g.driver.diff_dir(&m.mount_id);
            g.container_changes(cid)?
                .iter()
                .filter(|c| c.kind != ChangeKind::Deleted)
                .filter_map(|c| fs::symlink_metadata(dir.join(c.path.trim_start_matches('/'))).ok())
                .filter(|md| !md.is_dir())
                .map(|md| md.len())
                .sum()
        };
        let image: u64 = match &m.parent {
            Some(p) => g.layers.ancestry(p).iter().filter_map(|c| g.layers.get(c)).map(|l| l.size).sum(),
            None => 0,
        };
        Ok((rw, rw + image))
    }

    /// `docker diff`: changes of the rw layer against the init layer, in path order.
    pub fn changes(&self, cid: &str) -> Result<Vec<Change>> {
        self.lock().container_changes(cid)
    }

    /// `docker commit`: a new image = the container's image + its rw layer (no layer when nothing
    /// changed: the history entry gets `empty_layer`). Returns the new image ID.
    pub fn commit(&self, cid: &str, opts: &CommitOptions) -> Result<ImageId> {
        let reference = match &opts.reference {
            Some(r) if !r.is_empty() => Some(Reference::parse_normalized_tagged(r)?),
            _ => None,
        };
        let new_cfg = match &opts.config {
            Some(c) => c.clone(),
            None => {
                let mut c = opts.container_config.clone();
                crate::image::changes::apply(&mut c, &opts.changes)?;
                c
            }
        };
        let mut g = self.lock();
        let parent_id = opts.image.clone().ok_or_else(|| StorageError::NotFound("commit: the container's image is not known".into()))?;
        let parent = g.images.get(&parent_id).ok_or_else(|| StorageError::NoSuchImage(parent_id.to_string()))?.clone();
        let top = chain_ids(&parent.config.diff_ids).pop();

        // The diff goes through a temp file: it is hashed and applied as a new layer.
        let tmp_path = g.tmp.join(format!("commit-{}", &crate::ids::random_id()[..16]));
        let mut tmp = fs::OpenOptions::new().read(true).write(true).create_new(true).open(&tmp_path).at(&tmp_path)?;
        let _ = fs::remove_file(&tmp_path); // anonymous from now on
        let mut hw = crate::digest::HashingWriter::new(&mut tmp);
        g.diff_tar(cid, &mut hw)?;
        let (_, diff, _) = hw.finish();
        let empty = diff.as_str() == EMPTY_LAYER_DIFF_ID;
        let mut diff_ids = parent.config.diff_ids.clone();
        let mut new_layer = None;
        if !empty {
            tmp.rewind().at(&tmp_path)?;
            let (chain, created) = g.layers.register(top.as_ref(), &mut tmp, Some((diff_ids.len(), &diff)))?;
            if created {
                new_layer = Some(chain);
            }
            diff_ids.push(diff);
        }
        let res = (|| -> Result<ImageId> {
            let now = crate::fsutil::now_rfc3339_nano();
            let mut history = parent.config.history.clone();
            history.push(History {
                created: now.clone(),
                author: Some(opts.author.clone()).filter(|s| !s.is_empty()),
                created_by: Some(opts.created_by.clone()).filter(|s| !s.is_empty()),
                comment: Some(opts.comment.clone()).filter(|s| !s.is_empty()),
                empty_layer: if empty { Some(true) } else { None },
            });
            let pc: &ImageConfig = &parent.config;
            let arch = Some(pc.str_field("architecture")).filter(|s| !s.is_empty()).unwrap_or_else(|| config::host_arch().into());
            let os = Some(pc.str_field("os")).filter(|s| !s.is_empty()).unwrap_or_else(|| "linux".into());
            let bytes = config::build(&config::NewConfig {
                architecture: arch,
                os,
                author: Some(&opts.author),
                comment: Some(&opts.comment),
                config: &new_cfg,
                container: if opts.omit_container { None } else { Some(cid) },
                container_config: &opts.container_config,
                created: &now,
                // dockerd's CommitImage keeps the parent in its image store only (SetParent),
                // never in the config: `docker save` shows no "parent" key.
                parent: None,
                diff_ids: &diff_ids,
                history: &history,
            });
            let id = g.images.create(&bytes)?;
            g.images.set_parent(&id, &parent_id)?;
            if let Some(r) = &reference {
                g.tag_ref(r, &id)?;
            }
            Ok(id)
        })();
        if res.is_err() {
            if let Some(c) = new_layer {
                g.release_unreferenced(&[c]);
            }
        }
        res
    }
}
