//! `docker load`: archives with a `manifest.json` — Docker 20.10's layout and the ≥ 25 hybrid
//! OCI layout (its paths are simply followed) — whole archive plain or gzip, layer files plain or
//! gzip. The archive is unpacked (safely) into `<data-root>/tmp/docker-import-*`; every manifest
//! entry, config, tag and layer file is checked before the store is touched; layers are then
//! registered (diffIDs verified), and only when all of them are in place are images created and
//! tagged. On any error the layers this load registered are removed again.

use super::tar_reader::{decompress, TarReader};
use super::tar_safe::{self, clean_relative, Mode};
use crate::digest::{chain_id, ChainId, DiffId, ImageId};
use crate::error::{IoContext, Result, StorageError};
use crate::image::config::ImageConfig;
use crate::reference::Reference;
use crate::store::Store;
use serde::Deserialize;
use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn bad(msg: String) -> StorageError {
    StorageError::InvalidArchive(msg)
}

/// Open `name` inside `root` without following any symlink on the way.
fn open_inside(root: &Path, name: &str) -> Result<fs::File> {
    let rel = clean_relative(name)?;
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StorageError::UnsafePath { path: name.to_string(), reason: "path goes through a symlink" })
            }
            Ok(_) => {}
            Err(_) => return Err(bad(format!("invalid archive: {name:?} named in manifest.json is missing"))),
        }
    }
    let f = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&cur).at(&cur)?;
    if !f.metadata().at(&cur)?.is_file() {
        return Err(bad(format!("invalid archive: {name:?} is not a regular file")));
    }
    Ok(f)
}

struct Planned {
    config: Vec<u8>,
    diff_ids: Vec<DiffId>,
    layer_files: Vec<String>,
    tags: Vec<Reference>,
}

/// Removes a temp dir on drop.
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = crate::fsutil::remove_all(&self.0);
    }
}

impl Store {
    /// Load an image archive; returns Docker's lines (`Loaded image: bb:l3`,
    /// `Loaded image ID: sha256:…`).
    pub fn load(&self, input: &mut dyn Read) -> Result<Vec<String>> {
        let tmp_root = self.lock().tmp.clone();
        let dir = TempDir(tmp_root.join(format!("docker-import-{}", &crate::ids::random_id()[..16])));
        crate::fsutil::mkdir_mode(&dir.0, 0o700)?;
        {
            let r = decompress(input)?;
            let mut tr = TarReader::new(r, false);
            tar_safe::apply(&mut tr, &dir.0, Mode::Plain)?;
        }
        let mf = dir.0.join("manifest.json");
        if fs::symlink_metadata(&mf).is_err() {
            return Err(bad("invalid archive: does not contain a manifest.json".into()));
        }
        let mut raw = Vec::new();
        open_inside(&dir.0, "manifest.json")?.read_to_end(&mut raw).at(&mf)?;
        let entries: Vec<ManifestEntry> = serde_json::from_slice(&raw).map_err(|e| bad(format!("invalid manifest.json: {e}")))?;
        if entries.is_empty() {
            return Err(bad("invalid manifest.json: no images".into()));
        }

        // Check everything before touching the store.
        let mut plan = Vec::new();
        for e in &entries {
            let mut config = Vec::new();
            open_inside(&dir.0, &e.config)?.read_to_end(&mut config).at(Path::new(&e.config))?;
            let parsed = ImageConfig::parse(&config)?;
            if parsed.diff_ids.len() != e.layers.len() {
                return Err(bad(format!(
                    "invalid manifest, layers length mismatch: expected {}, got {}",
                    parsed.diff_ids.len(),
                    e.layers.len()
                )));
            }
            for l in &e.layers {
                open_inside(&dir.0, l)?;
            }
            let mut tags = Vec::new();
            for t in e.repo_tags.iter().flatten() {
                let r = Reference::parse_normalized(t)?;
                if r.tag.is_none() {
                    return Err(bad(format!("invalid tag {t:?}")));
                }
                tags.push(r);
            }
            plan.push(Planned { config, diff_ids: parsed.diff_ids, layer_files: e.layers.clone(), tags });
        }

        let mut g = self.lock();
        let mut new_layers: Vec<ChainId> = Vec::new();
        let res = (|| -> Result<()> {
            for p in &plan {
                let mut parent: Option<ChainId> = None;
                for (i, (diff, file)) in p.diff_ids.iter().zip(&p.layer_files).enumerate() {
                    let chain = chain_id(parent.as_ref(), diff);
                    if g.layers.get(&chain).is_none() {
                        let mut f = open_inside(&dir.0, file)?;
                        let (c, created) = g.layers.register(parent.as_ref(), &mut f, Some((i, diff)))?;
                        if created {
                            new_layers.push(c);
                        }
                    }
                    parent = Some(chain);
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            new_layers.reverse();
            g.release_unreferenced(&new_layers);
            return Err(e);
        }
        let mut lines = Vec::new();
        for p in &plan {
            let id: ImageId = g.images.create(&p.config)?;
            if p.tags.is_empty() {
                lines.push(format!("Loaded image ID: {id}"));
            }
            for t in &p.tags {
                g.tag_ref(t, &id)?;
                lines.push(format!("Loaded image: {}", t.familiar_string()));
            }
        }
        Ok(lines)
    }
}
