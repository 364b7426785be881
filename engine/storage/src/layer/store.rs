//! `layerdb/sha256/<chainID>/{cache-id,diff,size,parent,tar-split.json.gz}` and
//! `layerdb/mounts/<containerID>/{mount-id,init-id,parent}`. Small files without newlines, 0644.
//! New entries are written into `layerdb/tmp/write-set-*` and renamed into place, so a crash
//! never leaves a half-written layer record.

use crate::archive::tar_reader::{decompress, TarReader};
use crate::archive::tar_safe::{self, Mode};
use crate::archive::tarsplit;
use crate::digest::{chain_id, ChainId, DiffId, Digest, HashingReader, HashingWriter};
use crate::driver::Driver;
use crate::error::{IoContext, Result, StorageError};
use crate::fsutil;
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Layer store depth limit (`maxLayerDepth`): 125 image layers + init + rw = 128 lowers.
pub const MAX_LAYER_DEPTH: usize = 125;

#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    pub chain_id: ChainId,
    pub diff_id: DiffId,
    /// Driver directory name (64 random hex).
    pub cache_id: String,
    /// Sum of the sizes of the layer's non-directory files.
    pub size: u64,
    pub parent: Option<ChainId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MountInfo {
    pub container_id: String,
    pub mount_id: String,
    pub init_id: String,
    /// chainID of the image's top layer (None for an image without layers).
    pub parent: Option<ChainId>,
}

/// A layer applied into its own driver dir before its parent is known (native-diff drivers only).
pub struct Detached {
    pub cache_id: String,
    pub diff_id: DiffId,
    pub size: u64,
    tar_split: Vec<u8>,
}

/// Apply a layer tar (plain or gzip) into a new parentless driver dir; returns what `attach` needs.
/// Works without the store lock: it only touches a fresh, unreferenced directory.
pub fn apply_detached(driver: &dyn Driver, tar: &mut dyn Read) -> Result<Detached> {
    let cache = crate::ids::random_id();
    driver.create(&cache, None)?;
    let res = (|| -> Result<Detached> {
        let mut hr = HashingReader::new(decompress(tar)?);
        let diff_dir = driver.diff_dir(&cache);
        let mut tr = TarReader::new(&mut hr, true);
        tar_safe::apply(&mut tr, &diff_dir, Mode::Overlay)?;
        let (_, rec) = tr.into_parts()?;
        std::io::copy(&mut hr, &mut std::io::sink()).map_err(|e| StorageError::InvalidArchive(format!("reading layer: {e}")))?;
        let diff_id = hr.digest();
        let size = tar_safe::dir_size(&diff_dir)?;
        Ok(Detached { cache_id: cache.clone(), diff_id, size, tar_split: rec.expect("recording").finish() })
    })();
    if res.is_err() {
        let _ = driver.remove(&cache);
    }
    res
}

pub struct LayerStore {
    pub(crate) root: PathBuf,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) layers: HashMap<ChainId, LayerInfo>,
    pub(crate) mounts: HashMap<String, MountInfo>,
}

fn read_opt(p: &Path) -> Result<Option<String>> {
    match fs::read_to_string(p) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(p),
    }
}

impl LayerStore {
    pub fn open(root: &Path, driver: Arc<dyn Driver>) -> Result<LayerStore> {
        for d in ["sha256", "mounts"] {
            fsutil::mkdir_all_mode(&root.join(d), 0o700)?;
        }
        // Unfinished write transactions are garbage.
        fsutil::remove_all(&root.join("tmp"))?;
        fsutil::mkdir_all_mode(&root.join("tmp"), 0o700)?;
        let mut s = LayerStore { root: root.to_path_buf(), driver, layers: HashMap::new(), mounts: HashMap::new() };
        let sha = root.join("sha256");
        for e in fs::read_dir(&sha).at(&sha)? {
            let name = e.at(&sha)?.file_name().to_string_lossy().into_owned();
            let dir = sha.join(&name);
            if name.ends_with("-removing") {
                if let Some(cache) = read_opt(&dir.join("cache-id"))? {
                    s.driver.remove(cache.trim())?;
                }
                fsutil::remove_all(&dir)?;
                continue;
            }
            let Ok(chain) = Digest::from_hex(&name) else { continue };
            let info = LayerInfo {
                chain_id: chain.clone(),
                diff_id: Digest::parse(fsutil::read_string(&dir.join("diff"))?.trim())?,
                cache_id: fsutil::read_string(&dir.join("cache-id"))?.trim().to_string(),
                size: fsutil::read_string(&dir.join("size"))?.trim().parse().unwrap_or(0),
                parent: read_opt(&dir.join("parent"))?.map(|p| Digest::parse(p.trim())).transpose()?,
            };
            s.layers.insert(chain, info);
        }
        let mounts = root.join("mounts");
        for e in fs::read_dir(&mounts).at(&mounts)? {
            let name = e.at(&mounts)?.file_name().to_string_lossy().into_owned();
            let dir = mounts.join(&name);
            if name.starts_with('.') {
                fsutil::remove_all(&dir)?;
                continue;
            }
            let (Some(mount_id), Some(init_id)) = (read_opt(&dir.join("mount-id"))?, read_opt(&dir.join("init-id"))?) else {
                continue;
            };
            let parent = read_opt(&dir.join("parent"))?.map(|p| Digest::parse(p.trim())).transpose()?;
            s.mounts.insert(name.clone(), MountInfo { container_id: name, mount_id, init_id, parent });
        }
        Ok(s)
    }

    pub fn get(&self, chain: &ChainId) -> Option<&LayerInfo> {
        self.layers.get(chain)
    }

    pub fn all(&self) -> impl Iterator<Item = &LayerInfo> {
        self.layers.values()
    }

    /// Number of layers in the stack ending at `chain`.
    pub fn depth(&self, chain: &ChainId) -> usize {
        let mut n = 0;
        let mut cur = Some(chain.clone());
        while let Some(c) = cur {
            n += 1;
            cur = self.layers.get(&c).and_then(|l| l.parent.clone());
        }
        n
    }

    /// Apply a layer tar (plain or gzip) on top of `parent` and register it. When `expected` is
    /// given (layer index, diffID from the image config), a different diffID is an error and
    /// nothing is kept. Returns the chainID and whether a new layer was created.
    pub fn register(
        &mut self,
        parent: Option<&ChainId>,
        tar: &mut dyn Read,
        expected: Option<(usize, &DiffId)>,
    ) -> Result<(ChainId, bool)> {
        let parent_info = match parent {
            Some(p) => Some(self.layers.get(p).cloned().ok_or_else(|| StorageError::NotFound(format!("layer does not exist: {p}")))?),
            None => None,
        };
        if let Some(p) = parent {
            if self.depth(p) >= MAX_LAYER_DEPTH {
                return Err(StorageError::MaxDepthExceeded);
            }
        }
        let cache = crate::ids::random_id();
        self.driver.create(&cache, parent_info.as_ref().map(|p| p.cache_id.as_str()))?;
        match self.register_inner(parent, &cache, tar, expected) {
            Ok((chain, true)) => Ok((chain, true)),
            Ok((chain, false)) => {
                self.driver.remove(&cache)?;
                Ok((chain, false))
            }
            Err(e) => {
                let _ = self.driver.remove(&cache);
                Err(e)
            }
        }
    }

    fn register_inner(
        &mut self,
        parent: Option<&ChainId>,
        cache: &str,
        tar: &mut dyn Read,
        expected: Option<(usize, &DiffId)>,
    ) -> Result<(ChainId, bool)> {
        let mut hr = HashingReader::new(decompress(tar)?);
        let mode = if self.driver.diff_is_native() { Mode::Overlay } else { Mode::Naive };
        let diff_dir = self.driver.diff_dir(cache);
        let mut tr = TarReader::new(&mut hr, true);
        let applied = tar_safe::apply(&mut tr, &diff_dir, mode)?;
        let (_, rec) = tr.into_parts()?;
        // Hash whatever trails the archive too (it is part of the stream Docker hashes).
        std::io::copy(&mut hr, &mut std::io::sink()).map_err(|e| StorageError::InvalidArchive(format!("reading layer: {e}")))?;
        let diff = hr.digest();
        if let Some((i, want)) = expected {
            if *want != diff {
                return Err(StorageError::InvalidArchive(format!("invalid diffID for layer {i}: expected {:?}, got {:?}", want.as_str(), diff.as_str())));
            }
        }
        let chain = chain_id(parent, &diff);
        if self.layers.contains_key(&chain) {
            return Ok((chain, false));
        }
        let size = if self.driver.diff_is_native() { tar_safe::dir_size(&diff_dir)? } else { applied.size };
        let info = LayerInfo { chain_id: chain.clone(), diff_id: diff, cache_id: cache.to_string(), size, parent: parent.cloned() };
        self.write_record(&info, &rec.expect("recording").finish())?;
        self.layers.insert(chain.clone(), info);
        Ok((chain, true))
    }

    /// Register a layer applied by [`apply_detached`] on top of `parent`. The caller checked the
    /// diffID and that the chainID is new.
    pub fn attach(&mut self, d: &Detached, parent: Option<&ChainId>) -> Result<ChainId> {
        let chain = chain_id(parent, &d.diff_id);
        if self.layers.contains_key(&chain) {
            return Err(StorageError::Conflict(format!("layer {chain} already exists")));
        }
        if let Some(p) = parent {
            let pinfo = self.layers.get(p).ok_or_else(|| StorageError::NotFound(format!("layer does not exist: {p}")))?.clone();
            if self.depth(p) >= MAX_LAYER_DEPTH {
                return Err(StorageError::MaxDepthExceeded);
            }
            self.driver.set_parent(&d.cache_id, &pinfo.cache_id)?;
        }
        let info = LayerInfo { chain_id: chain.clone(), diff_id: d.diff_id.clone(), cache_id: d.cache_id.clone(), size: d.size, parent: parent.cloned() };
        self.write_record(&info, &d.tar_split)?;
        self.layers.insert(chain.clone(), info);
        Ok(chain)
    }

    fn write_record(&self, info: &LayerInfo, tar_split: &[u8]) -> Result<()> {
        // Docker's AtomicWriteSet: a 0700 temp dir renamed into place.
        let tmp = self.root.join("tmp").join(format!("write-set-{}", crate::ids::random_id()));
        fsutil::mkdir_mode(&tmp, 0o700)?;
        let res = (|| {
            fsutil::write_plain(&tmp.join("cache-id"), info.cache_id.as_bytes(), 0o644)?;
            fsutil::write_plain(&tmp.join("diff"), info.diff_id.as_str().as_bytes(), 0o644)?;
            fsutil::write_plain(&tmp.join("size"), info.size.to_string().as_bytes(), 0o644)?;
            if let Some(p) = &info.parent {
                fsutil::write_plain(&tmp.join("parent"), p.as_str().as_bytes(), 0o644)?;
            }
            fsutil::write_plain(&tmp.join("tar-split.json.gz"), tar_split, 0o644)?;
            let dst = self.root.join("sha256").join(info.chain_id.hex());
            fs::rename(&tmp, &dst).at(&dst)
        })();
        if res.is_err() {
            let _ = fsutil::remove_all(&tmp);
        }
        res
    }

    fn layer_dir(&self, chain: &ChainId) -> PathBuf {
        self.root.join("sha256").join(chain.hex())
    }

    /// Write the layer's tar (rebuilt from tar-split + diff dir) and check it against the diffID.
    pub fn write_tar(&self, chain: &ChainId, out: &mut dyn Write) -> Result<u64> {
        let info = self.layers.get(chain).ok_or_else(|| StorageError::NotFound(format!("layer does not exist: {chain}")))?;
        let mut hw = HashingWriter::new(out);
        let n = tarsplit::reassemble(&self.layer_dir(chain).join("tar-split.json.gz"), &self.driver.diff_dir(&info.cache_id), &mut hw)?;
        let (_, d, _) = hw.finish();
        if d != info.diff_id {
            return Err(StorageError::Corrupt(format!("layer {chain}: rebuilt tar has diffID {d}, expected {}", info.diff_id)));
        }
        Ok(n)
    }

    /// Size in bytes of the layer's tar.
    pub fn tar_size(&self, chain: &ChainId) -> Result<u64> {
        tarsplit::tar_size(&self.layer_dir(chain).join("tar-split.json.gz"))
    }

    /// Delete one layer (the caller checked nothing refers to it).
    pub fn delete(&mut self, chain: &ChainId) -> Result<()> {
        let Some(info) = self.layers.get(chain).cloned() else { return Ok(()) };
        let dir = self.layer_dir(chain);
        let removing = self.root.join("sha256").join(format!("{}-{}-removing", chain.hex(), &crate::ids::random_id()[..12]));
        fs::rename(&dir, &removing).at(&dir)?;
        self.layers.remove(chain);
        self.driver.remove(&info.cache_id)?;
        fsutil::remove_all(&removing)
    }

    /// chainIDs of the stack ending at `top`, top first.
    pub fn ancestry(&self, top: &ChainId) -> Vec<ChainId> {
        let mut out = Vec::new();
        let mut cur = Some(top.clone());
        while let Some(c) = cur {
            cur = self.layers.get(&c).and_then(|l| l.parent.clone());
            out.push(c);
        }
        out
    }

    /// Remove driver directories that no layer record or mount refers to (crash leftovers).
    pub fn gc_orphans(&self) -> Result<Vec<String>> {
        let mut known: std::collections::HashSet<String> = self.layers.values().map(|l| l.cache_id.clone()).collect();
        for m in self.mounts.values() {
            known.insert(m.mount_id.clone());
            known.insert(m.init_id.clone());
        }
        let mut removed = Vec::new();
        for id in self.driver.list()? {
            if !known.contains(&id) {
                self.driver.remove(&id)?;
                removed.push(id);
            }
        }
        Ok(removed)
    }
}
