//! `docker load`: archives with a `manifest.json` — Docker 20.10's layout and the ≥ 25 hybrid
//! OCI layout (its paths are simply followed) — whole archive plain or gzip, layer files plain or
//! gzip.
//!
//! The archive is read once, as a stream. Every entry name is checked (no absolute paths, no
//! `..`, nothing through a symlink of the archive). With overlay2, an entry that looks like a
//! layer tar is applied right away into a fresh, parentless layer directory ("detached"), hashing
//! it on the way — so a 200 MB archive is written to disk once, not twice. Other files (configs,
//! manifest) go to `<data-root>/tmp/docker-import-*` under numbered names. Then manifest.json is
//! checked completely (configs, `layers length mismatch`, tags, every layer present, every diffID —
//! `invalid diffID for layer %d: expected %q, got %q`) before anything becomes visible; layers are
//! then attached in order and images created and tagged. On any error every layer directory this
//! load created is removed again: the store is unchanged.
//!
//! With a progress callback ([`Store::load_with_progress`], `docker load` without `quiet`), each
//! layer reports the bytes of its file read from the archive, under its diffID as Docker does. A
//! layer whose diffID is known when its entry starts (manifest.json and the config came first, or
//! an uncompressed `blobs/sha256/<diffID>` of the OCI layout) is applied on the fly as above,
//! reporting as it is read (in archive order, and even when the store has it already); otherwise
//! (the 20.10 layout, where manifest.json comes last) it is saved under the tmp dir and
//! registered from there once manifest.json is read — Docker's own way — reporting then, bottom
//! layer first, and not at all when the layer already exists.

use super::tar_reader::{check_checksum, decompress, Kind, TarReader};
use super::tar_safe::clean_relative;
use crate::digest::{chain_id, ChainId, DiffId, ImageId};
use crate::driver::Driver;
use crate::error::{IoContext, Result, StorageError};
use crate::image::config::ImageConfig;
use crate::layer::store::{apply_detached, Detached};
use crate::reference::Reference;
use crate::store::Store;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Progress of one layer file being read from the archive (see the module docs). For each layer
/// the last report has `current == total` once its file has been read completely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerProgress<'a> {
    pub diff_id: &'a DiffId,
    /// Bytes of the layer file (as stored in the archive, compressed or not) read so far.
    pub current: u64,
    /// The size of the layer file in the archive.
    pub total: u64,
}

/// Receives [`LayerProgress`]; called on the loading thread.
pub type ProgressFn<'a> = &'a mut dyn FnMut(LayerProgress<'_>);

/// Counts the bytes read through it and reports them.
struct Counting<'a, 'f, R> {
    inner: R,
    diff_id: &'a DiffId,
    current: u64,
    total: u64,
    report: &'a mut (dyn FnMut(LayerProgress<'_>) + 'f),
}

impl<'a, 'f, R: Read> Counting<'a, 'f, R> {
    fn new(inner: R, diff_id: &'a DiffId, total: u64, report: &'a mut (dyn FnMut(LayerProgress<'_>) + 'f)) -> Self {
        Counting { inner, diff_id, current: 0, total, report }
    }

    /// The layer was read completely (what trails its tar is not read): report it full.
    fn finish(self) {
        if self.current != self.total {
            (self.report)(LayerProgress { diff_id: self.diff_id, current: self.total, total: self.total });
        }
    }
}

impl<R: Read> Read for Counting<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.current += n as u64;
            (self.report)(LayerProgress { diff_id: self.diff_id, current: self.current, total: self.total });
        }
        Ok(n)
    }
}

/// Where an archive member ended up.
enum Src {
    Detached(usize),
    File(PathBuf),
}

/// What streaming the archive produced. Dropping it removes every detached layer not attached.
struct Unpacked {
    driver: Arc<dyn Driver>,
    dir: PathBuf,
    files: HashMap<PathBuf, Src>,
    detached: Vec<Option<Detached>>,
    symlinks: HashSet<PathBuf>,
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        for d in self.detached.iter().flatten() {
            let _ = self.driver.remove(&d.cache_id);
        }
        let _ = crate::fsutil::remove_all(&self.dir);
    }
}

impl Unpacked {
    fn lookup(&self, name: &str) -> Result<&Src> {
        let rel = clean_relative(name)?;
        let mut prefix = PathBuf::new();
        for c in rel.components() {
            prefix.push(c);
            if self.symlinks.contains(&prefix) {
                return Err(StorageError::UnsafePath { path: name.to_string(), reason: "path goes through a symlink" });
            }
        }
        self.files.get(&rel).ok_or_else(|| bad(format!("invalid archive: {name:?} named in manifest.json is missing")))
    }

    fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        match self.lookup(name)? {
            Src::File(p) => fs::read(p).at(p),
            Src::Detached(_) => Err(bad(format!("invalid archive: {name:?} is a layer, not a JSON file"))),
        }
    }

    /// Refuse names through symlinks of the archive (they would be followed on extraction elsewhere).
    fn check_entry_path(&self, name: &str, rel: &Path) -> Result<()> {
        let mut prefix = PathBuf::new();
        let comps: Vec<_> = rel.components().collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            prefix.push(c);
            if self.symlinks.contains(&prefix) {
                return Err(StorageError::UnsafePath { path: name.to_string(), reason: "path goes through a symlink" });
            }
        }
        Ok(())
    }
}

/// A pure OCI image layout (no manifest.json, e.g. from `skopeo copy … oci-archive:`): follow
/// `index.json` → manifests → config and layer blobs; `io.containerd.image.name` gives the tag.
fn oci_entries(u: &Unpacked) -> Result<Vec<ManifestEntry>> {
    let blob = |d: &str| -> Result<String> {
        let (alg, hex) = d.split_once(':').ok_or_else(|| bad(format!("invalid OCI layout: bad digest {d:?}")))?;
        if alg != "sha256" || !crate::digest::is_hex64(hex) {
            return Err(bad(format!("invalid OCI layout: unsupported digest {d:?}")));
        }
        Ok(format!("blobs/sha256/{hex}"))
    };
    let json = |name: &str| -> Result<serde_json::Value> {
        serde_json::from_slice(&u.read_small(name)?).map_err(|e| bad(format!("invalid OCI layout: {name}: {e}")))
    };
    let index = json("index.json")?;
    let mut out = Vec::new();
    for desc in index["manifests"].as_array().into_iter().flatten() {
        let mt = desc["mediaType"].as_str().unwrap_or("");
        if mt.contains("index") || mt.contains("manifest.list") {
            return Err(bad("invalid OCI layout: nested image indexes are not supported".into()));
        }
        let mpath = blob(desc["digest"].as_str().unwrap_or(""))?;
        let m = json(&mpath)?;
        let config = blob(m["config"]["digest"].as_str().unwrap_or(""))?;
        let cbytes = u.read_small(&config)?;
        if crate::digest::Digest::of(&cbytes).as_str() != m["config"]["digest"].as_str().unwrap_or("") {
            return Err(bad(format!("invalid OCI layout: config {config} does not match its digest")));
        }
        let layers = m["layers"].as_array().into_iter().flatten().map(|l| blob(l["digest"].as_str().unwrap_or(""))).collect::<Result<Vec<_>>>()?;
        let repo_tags = desc["annotations"]["io.containerd.image.name"].as_str().map(|n| vec![n.to_string()]);
        out.push(ManifestEntry { config, repo_tags, layers });
    }
    Ok(out)
}

/// A layer tar starts with a valid tar header (or zeros: an empty tar), or is gzip.
fn looks_like_layer(head: &[u8], size: u64) -> bool {
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return true;
    }
    if size < 1024 || head.len() < 512 {
        return false;
    }
    let block: &[u8; 512] = head[..512].try_into().unwrap();
    block.iter().all(|&b| b == 0) || check_checksum(block).is_ok()
}

/// The diffID of the layer file `rel`, if it can be known before reading it: from manifest.json
/// and the image config when both were already unpacked, else from an OCI blob name (the diffID
/// for an uncompressed layer blob).
fn known_diff_id(u: &Unpacked, rel: &Path, gzip: bool) -> Option<DiffId> {
    if let Some(Src::File(m)) = u.files.get(Path::new("manifest.json")) {
        let entries: Vec<ManifestEntry> = fs::read(m).ok().and_then(|raw| serde_json::from_slice(&raw).ok()).unwrap_or_default();
        for e in &entries {
            let Some(i) = e.layers.iter().position(|l| clean_relative(l).is_ok_and(|l| l == rel)) else { continue };
            let Ok(config) = u.read_small(&e.config) else { continue };
            if let Some(d) = ImageConfig::parse(&config).ok().and_then(|c| c.diff_ids.get(i).cloned()) {
                return Some(d);
            }
        }
    }
    let hex = rel.to_str()?.strip_prefix("blobs/sha256/")?;
    if gzip || !crate::digest::is_hex64(hex) {
        return None;
    }
    DiffId::from_hex(hex).ok()
}

struct Planned {
    config: Vec<u8>,
    diff_ids: Vec<DiffId>,
    layer_files: Vec<String>,
    tags: Vec<Reference>,
}

impl Store {
    fn unpack_archive(&self, input: &mut dyn Read, mut progress: Option<ProgressFn<'_>>) -> Result<Unpacked> {
        let (driver, tmp_root) = {
            let g = self.lock();
            (g.driver.clone(), g.tmp.clone())
        };
        let native = driver.diff_is_native();
        let dir = tmp_root.join(format!("docker-import-{}", &crate::ids::random_id()[..16]));
        crate::fsutil::mkdir_mode(&dir, 0o700)?;
        let mut u = Unpacked { driver: driver.clone(), dir, files: HashMap::new(), detached: Vec::new(), symlinks: HashSet::new() };
        let mut tr = TarReader::new(decompress(input)?, false);
        let mut n = 0usize;
        while let Some(e) = tr.next_entry()? {
            let rel = clean_relative(&e.path)?;
            if rel.as_os_str().is_empty() {
                continue;
            }
            u.check_entry_path(&e.path, &rel)?;
            match e.kind {
                Kind::Symlink => {
                    u.symlinks.insert(rel);
                }
                Kind::Hardlink => {
                    let target = clean_relative(e.link.as_deref().unwrap_or(""))?;
                    u.check_entry_path(e.link.as_deref().unwrap_or(""), &target.join("x"))?;
                    // Same content as the target: share its source.
                    let src = match u.files.get(&target) {
                        Some(Src::File(p)) => Some(Src::File(p.clone())),
                        _ => None,
                    };
                    if let Some(s) = src {
                        u.files.insert(rel, s);
                    }
                }
                Kind::File => {
                    let size = e.size;
                    let mut head = Vec::with_capacity(512);
                    tr.content().take(512).read_to_end(&mut head).map_err(|e| bad(format!("reading archive: {e}")))?;
                    let layer = native && looks_like_layer(&head, size);
                    // With progress, a layer is applied here only if its diffID is known now.
                    let known = match &progress {
                        Some(_) if layer => known_diff_id(&u, &rel, head.starts_with(&[0x1f, 0x8b])),
                        _ => None,
                    };
                    if layer && (progress.is_none() || known.is_some()) {
                        let mut r = (&head[..]).chain(tr.content());
                        let d = match (&mut progress, &known) {
                            (Some(p), Some(id)) => {
                                let mut c = Counting::new(&mut r, id, size, &mut **p);
                                let d = apply_detached(driver.as_ref(), &mut c)?;
                                c.finish();
                                d
                            }
                            _ => apply_detached(driver.as_ref(), &mut r)?,
                        };
                        u.detached.push(Some(d));
                        u.files.insert(rel, Src::Detached(u.detached.len() - 1));
                    } else {
                        let p = u.dir.join(n.to_string());
                        n += 1;
                        let mut f = fs::File::create(&p).at(&p)?;
                        std::io::Write::write_all(&mut f, &head).at(&p)?;
                        std::io::copy(&mut tr.content(), &mut f).map_err(|e| bad(format!("reading archive: {e}")))?;
                        u.files.insert(rel, Src::File(p));
                    }
                }
                _ => {}
            }
        }
        Ok(u)
    }

    /// Load an image archive; returns Docker's lines (`Loaded image: bb:l3`,
    /// `Loaded image ID: sha256:…`).
    pub fn load(&self, input: &mut dyn Read) -> Result<Vec<String>> {
        self.load_with_progress(input, None)
    }

    /// [`Store::load`], reporting each layer's bytes read from the archive to `progress` (see
    /// the module docs for when).
    pub fn load_with_progress(&self, input: &mut dyn Read, mut progress: Option<ProgressFn<'_>>) -> Result<Vec<String>> {
        let mut u = self.unpack_archive(input, progress.as_mut().map(|p| &mut **p as ProgressFn<'_>))?;
        let entries: Vec<ManifestEntry> = if u.files.contains_key(Path::new("manifest.json")) {
            let raw = u.read_small("manifest.json")?;
            serde_json::from_slice(&raw).map_err(|e| bad(format!("invalid manifest.json: {e}")))?
        } else if u.files.contains_key(Path::new("index.json")) {
            oci_entries(&u)?
        } else {
            return Err(bad("invalid archive: does not contain a manifest.json".into()));
        };
        if entries.is_empty() {
            return Err(bad("invalid manifest.json: no images".into()));
        }

        // Check everything before touching the store.
        let mut plan = Vec::new();
        for e in &entries {
            let config = u.read_small(&e.config)?;
            let parsed = ImageConfig::parse(&config)?;
            if parsed.diff_ids.len() != e.layers.len() {
                return Err(bad(format!(
                    "invalid manifest, layers length mismatch: expected {}, got {}",
                    parsed.diff_ids.len(),
                    e.layers.len()
                )));
            }
            for (i, l) in e.layers.iter().enumerate() {
                if let Src::Detached(k) = u.lookup(l)? {
                    let got = &u.detached[*k].as_ref().expect("not attached yet").diff_id;
                    if *got != parsed.diff_ids[i] {
                        return Err(bad(format!(
                            "invalid diffID for layer {i}: expected {:?}, got {:?}",
                            parsed.diff_ids[i].as_str(),
                            got.as_str()
                        )));
                    }
                }
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
                        let src = match u.lookup(file)? {
                            Src::Detached(k) => Ok(*k),
                            Src::File(f) => Err(f.clone()),
                        };
                        match src {
                            Ok(k) if u.detached[k].is_some() => {
                                let d = u.detached[k].take().unwrap();
                                let r = g.layers.attach(&d, parent.as_ref());
                                if r.is_err() {
                                    u.detached[k] = Some(d);
                                }
                                new_layers.push(r?);
                            }
                            Ok(_) => {
                                // Already attached elsewhere in this archive (same diffID on another
                                // parent): apply it again from its tar-split record.
                                let same = new_layers.iter().find(|c| g.layers.get(c).map(|l| &l.diff_id) == Some(diff)).cloned();
                                let src = same.ok_or_else(|| bad(format!("invalid archive: layer {file:?} used twice")))?;
                                let mut buf = Vec::new();
                                g.layers.write_tar(&src, &mut buf)?;
                                let (c, created) = g.layers.register(parent.as_ref(), &mut &buf[..], Some((i, diff)))?;
                                if created {
                                    new_layers.push(c);
                                }
                            }
                            Err(f) => {
                                let mut fh = fs::File::open(&f).at(&f)?;
                                let (c, created) = match &mut progress {
                                    Some(p) => {
                                        let total = fh.metadata().at(&f)?.len();
                                        let mut cr = Counting::new(&mut fh, diff, total, &mut **p);
                                        let r = g.layers.register(parent.as_ref(), &mut cr, Some((i, diff)))?;
                                        cr.finish();
                                        r
                                    }
                                    None => g.layers.register(parent.as_ref(), &mut fh, Some((i, diff)))?,
                                };
                                if created {
                                    new_layers.push(c);
                                }
                            }
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
        drop(g);
        drop(u);
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_reports_bytes_and_completes() {
        let id = DiffId::of(b"x");
        let mut seen = Vec::new();
        let mut f = |p: LayerProgress<'_>| seen.push((p.diff_id.short().to_string(), p.current, p.total));
        let data = [7u8; 10];
        let mut c = Counting::new(&data[..], &id, 12, &mut f);
        let mut buf = [0u8; 4];
        while c.read(&mut buf).unwrap() > 0 {}
        c.finish();
        let short = id.short().to_string();
        assert_eq!(seen, [(short.clone(), 4, 12), (short.clone(), 8, 12), (short.clone(), 10, 12), (short, 12, 12)]);
    }
}
