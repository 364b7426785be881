//! [`Store`]: the facade the daemon uses. One `Store` per data root; every method takes `&self`
//! and serialises on an internal lock, so a `Store` can be shared (`Arc<Store>`) across tasks.

use crate::digest::{chain_ids, ChainId, ImageId};
use crate::driver::{self, Driver, DriverKind};
use crate::error::{Result, StorageError};
use crate::fsutil;
use crate::image::config::{self, ContainerConfig, History, NewConfig};
use crate::image::repositories::Repositories;
use crate::image::store::ImageStore;
use crate::layer::LayerStore;
use crate::reference::{self, AnyReference, Reference};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Store {
    data_root: PathBuf,
    driver_name: &'static str,
    /// flock on the data root directory: one `Store` per data root (no extra file in the layout).
    _lock: std::fs::File,
    pub(crate) inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    pub driver: Arc<dyn Driver>,
    pub layers: LayerStore,
    pub images: ImageStore,
    pub repos: Repositories,
    /// `<data-root>/tmp`: scratch space on the same filesystem (for rename into place).
    pub tmp: PathBuf,
}

/// Options of [`Store::import`] (`docker import`).
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// `repo[:tag]` to tag the new image with (`:latest` is added when no tag is given).
    pub reference: Option<String>,
    /// `-m`: becomes `comment`; default `Imported from <source>`.
    pub message: Option<String>,
    /// `-c` instructions (`CMD ["sh"]`, `ENV A=b`, …).
    pub changes: Vec<String>,
    /// `-` for a stream, or the URL/file name (only used in the default comment).
    pub source: String,
}

/// A container as the image store needs to know it (for `rmi` conflicts and prune).
#[derive(Clone, Debug)]
pub struct ContainerRef {
    pub id: String,
    pub image: ImageId,
    pub running: bool,
}

/// `GraphDriver` of an inspect.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphDriverData {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

impl Store {
    /// Open (creating if needed) the store under `data_root` (e.g. `/var/lib/berth`).
    /// `Auto` picks the driver already in use there, else overlay2 when the kernel has it, else vfs.
    pub fn open(data_root: &Path, kind: DriverKind) -> Result<Store> {
        fsutil::mkdir_all_mode(data_root, 0o711)?;
        let lock = std::fs::File::open(data_root).map_err(|e| StorageError::Io { path: data_root.to_path_buf(), source: e })?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(StorageError::Conflict(format!("data root {} is in use by another berth storage instance", data_root.display())));
        }
        let kind = match kind {
            DriverKind::Auto => {
                let has = |n: &str| data_root.join("image").join(n).is_dir();
                if has("overlay2") && !has("vfs") {
                    DriverKind::Overlay2
                } else if has("vfs") && !has("overlay2") {
                    DriverKind::Vfs
                } else if driver::overlay_usable(data_root) {
                    DriverKind::Overlay2
                } else {
                    DriverKind::Vfs
                }
            }
            k => k,
        };
        let drv: Arc<dyn Driver> = match kind {
            DriverKind::Vfs => Arc::new(driver::vfs::Vfs::new(&data_root.join("vfs"))?),
            _ => {
                if !driver::overlay_supported() {
                    return Err(StorageError::Mount("driver not supported: overlay2 (the kernel has no overlayfs)".into()));
                }
                Arc::new(driver::overlay2::Overlay2::new(&data_root.join("overlay2"))?)
            }
        };
        let name = drv.name();
        let image_root = data_root.join("image").join(name);
        fsutil::mkdir_all_mode(&image_root, 0o700)?;
        let tmp = data_root.join("tmp");
        fsutil::remove_all(&tmp)?;
        fsutil::mkdir_all_mode(&tmp, 0o700)?;
        let layers = LayerStore::open(&image_root.join("layerdb"), drv.clone())?;
        layers.gc_orphans()?;
        let images = ImageStore::open(&image_root.join("imagedb"))?;
        let repos = Repositories::open(&image_root.join("repositories.json"))?;
        Ok(Store {
            data_root: data_root.to_path_buf(),
            driver_name: name,
            _lock: lock,
            inner: Mutex::new(Inner { driver: drv, layers, images, repos, tmp }),
        })
    }

    pub fn data_root(&self) -> &Path {
        &self.data_root
    }

    /// `overlay2` or `vfs`.
    pub fn driver_name(&self) -> &'static str {
        self.driver_name
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolve a name, tag, digest, full ID or ID prefix to an image ID (Docker's `GetImage`).
    pub fn resolve_image(&self, ref_or_id: &str) -> Result<ImageId> {
        self.lock().resolve(ref_or_id)
    }

    /// The raw config bytes (`imagedb/content/sha256/<id>`).
    pub fn image_config(&self, id: &ImageId) -> Result<Vec<u8>> {
        let g = self.lock();
        Ok(g.images.get(id).ok_or_else(|| StorageError::NoSuchImage(id.to_string()))?.bytes.clone())
    }

    /// The image's container config (`config` of the image JSON): Cmd, Env, Entrypoint, …
    pub fn image_container_config(&self, id: &ImageId) -> Result<ContainerConfig> {
        let g = self.lock();
        Ok(g.images.get(id).ok_or_else(|| StorageError::NoSuchImage(id.to_string()))?.config.config())
    }

    /// Tags and digests pointing at an image, familiar form (`bb:latest`).
    pub fn image_references(&self, id: &ImageId) -> Vec<String> {
        self.lock().repos.references(id).iter().map(Reference::familiar_string).collect()
    }

    /// `docker import`: one-layer image from a rootfs tar (plain or gzip).
    pub fn import(&self, src: &mut dyn Read, opts: &ImportOptions) -> Result<ImageId> {
        let reference = match &opts.reference {
            Some(r) if !r.is_empty() => {
                let r = Reference::parse_normalized_tagged(r)?;
                if r.digest.is_some() {
                    return Err(StorageError::InvalidReference("cannot import digest reference".into()));
                }
                Some(r)
            }
            _ => None,
        };
        let mut cfg = ContainerConfig::default();
        crate::image::changes::apply(&mut cfg, &opts.changes)?;
        let (chain, created, mut g) = self.register_base_layer(src)?;
        let res = (|| -> Result<ImageId> {
            let diff = g.layers.get(&chain).expect("registered").diff_id.clone();
            let source = if opts.source.is_empty() { "-" } else { opts.source.as_str() };
            let comment = match &opts.message {
                Some(m) if !m.is_empty() => m.clone(),
                _ => format!("Imported from {source}"),
            };
            let now = fsutil::now_rfc3339_nano();
            let history = [History { created: now.clone(), comment: Some(comment.clone()), ..Default::default() }];
            let bytes = config::build(&NewConfig {
                architecture: config::host_arch().into(),
                os: "linux".into(),
                author: None,
                comment: Some(&comment),
                config: &cfg,
                container: None,
                container_config: &ContainerConfig::default(),
                created: &now,
                parent: None,
                diff_ids: &[diff],
                history: &history,
            });
            let id = g.images.create(&bytes)?;
            if let Some(r) = &reference {
                g.tag_ref(r, &id)?;
            }
            Ok(id)
        })();
        if res.is_err() && created {
            g.release_unreferenced(&[chain]);
        }
        res
    }

    /// Point a reference at an image: a tag (`name:tag`, `:latest` added when bare) or a digest
    /// reference (`name@sha256:…`, a RepoDigest after pull/push).
    pub fn set_reference(&self, reference: &str, id: &ImageId) -> Result<()> {
        let r = Reference::parse_normalized_tagged(reference)?;
        let mut g = self.lock();
        if g.images.get(id).is_none() {
            return Err(StorageError::NoSuchImage(id.to_string()));
        }
        g.tag_ref(&r, id)
    }

    /// Record that compressed blob `blob` (registry digest) is the layer with diffID `diff`
    /// (`distribution/diffid-by-digest`), after a pull verified it.
    pub fn set_blob_diff_id(&self, blob: &crate::Digest, diff: &crate::DiffId) -> Result<()> {
        let _g = self.lock();
        self.distribution().set_diff_id(blob, diff)
    }

    /// The diffID a registry blob digest is known as (pull: `Already exists`).
    pub fn blob_diff_id(&self, blob: &crate::Digest) -> Result<Option<crate::DiffId>> {
        let _g = self.lock();
        self.distribution().diff_id(blob)
    }

    /// Remember where a layer lives in a registry (`distribution/v2metadata-by-diffid`): push
    /// skips or cross-mounts it next time.
    pub fn add_v2_metadata(&self, diff: &crate::DiffId, m: crate::image::distribution::V2Metadata) -> Result<()> {
        let _g = self.lock();
        self.distribution().add_metadata(diff, m)
    }

    pub fn v2_metadata(&self, diff: &crate::DiffId) -> Result<Vec<crate::image::distribution::V2Metadata>> {
        let _g = self.lock();
        self.distribution().metadata(diff)
    }

    fn distribution(&self) -> crate::image::distribution::Distribution {
        crate::image::distribution::Distribution::new(&self.data_root.join("image").join(self.driver_name))
    }

    /// Whether a layer (by chainID) is in the store.
    pub fn layer_exists(&self, chain: &ChainId) -> bool {
        self.lock().layers.get(chain).is_some()
    }

    /// Write a layer's uncompressed tar (byte-identical to what was applied: its sha256 is the
    /// diffID, checked while writing). Returns the number of bytes.
    pub fn write_layer_tar(&self, chain: &ChainId, out: &mut dyn std::io::Write) -> Result<u64> {
        self.lock().layers.write_tar(chain, out)
    }

    /// Size of a layer's uncompressed tar, without building it.
    pub fn layer_tar_size(&self, chain: &ChainId) -> Result<u64> {
        self.lock().layers.tar_size(chain)
    }

    /// Apply a base layer; with overlay2 the (long) extraction runs without holding the store lock.
    fn register_base_layer(&self, src: &mut dyn Read) -> Result<(ChainId, bool, MutexGuard<'_, Inner>)> {
        let driver = self.lock().driver.clone();
        if !driver.diff_is_native() {
            let mut g = self.lock();
            let (c, created) = g.layers.register(None, src, None)?;
            return Ok((c, created, g));
        }
        let d = crate::layer::store::apply_detached(driver.as_ref(), src)?;
        let mut g = self.lock();
        let chain = crate::digest::chain_id(None, &d.diff_id);
        if g.layers.get(&chain).is_some() {
            driver.remove(&d.cache_id)?;
            return Ok((chain, false, g));
        }
        match g.layers.attach(&d, None) {
            Ok(c) => Ok((c, true, g)),
            Err(e) => {
                let _ = driver.remove(&d.cache_id);
                Err(e)
            }
        }
    }

    /// Apply a layer tar (plain or gzip) on `parent` and register it (for builders); returns its chainID.
    /// An unreferenced layer stays until an image uses it or the store is reopened… it is kept.
    pub fn register_layer(&self, parent: Option<&ChainId>, tar: &mut dyn Read) -> Result<ChainId> {
        Ok(self.lock().layers.register(parent, tar, None)?.0)
    }

    /// diffIDs of the layer stack ending at `top`, base first.
    pub fn layer_diff_ids(&self, top: &ChainId) -> Result<Vec<crate::DiffId>> {
        let g = self.lock();
        let mut out = Vec::new();
        for c in g.layers.ancestry(top) {
            out.push(g.layers.get(&c).ok_or_else(|| StorageError::NotFound(format!("layer does not exist: {c}")))?.diff_id.clone());
        }
        out.reverse();
        Ok(out)
    }

    /// Store an image config whose layers are all registered; optionally record the local parent
    /// image and tag it. Returns the image ID (sha256 of `config`).
    pub fn create_image(&self, config: &[u8], parent: Option<&ImageId>, tag: Option<&str>) -> Result<ImageId> {
        let reference = tag.map(Reference::parse_normalized_tagged).transpose()?;
        let parsed = crate::image::config::ImageConfig::parse(config)?;
        let mut g = self.lock();
        for c in chain_ids(&parsed.diff_ids) {
            if g.layers.get(&c).is_none() {
                return Err(StorageError::NotFound(format!("layer does not exist: {c}")));
            }
        }
        let id = g.images.create(config)?;
        if let Some(p) = parent {
            g.images.set_parent(&id, p)?;
        }
        if let Some(r) = &reference {
            g.tag_ref(r, &id)?;
        }
        Ok(id)
    }

    /// Create a container's init + rw layers on `image`; returns the mount ID (rw layer cache ID).
    pub fn create_rw_layer(&self, container_id: &str, image: &ImageId) -> Result<String> {
        let mut g = self.lock();
        let top = g.top_chain(image)?;
        Ok(g.layers.create_rw_layer(container_id, top.as_ref())?.mount_id)
    }

    /// Mount the container's root filesystem; returns `<driver home>/<mount-id>/merged` (overlay2).
    pub fn mount(&self, container_id: &str) -> Result<PathBuf> {
        self.lock().layers.mount(container_id)
    }

    pub fn unmount(&self, container_id: &str) -> Result<()> {
        self.lock().layers.unmount(container_id)
    }

    /// Delete the container's rw and init layers (unmounting if still mounted).
    pub fn remove_rw_layer(&self, container_id: &str) -> Result<()> {
        self.lock().layers.remove_rw_layer(container_id)
    }

    /// `(mount-id, init-id)` of a container's layers, if it has them.
    pub fn rw_layer_ids(&self, container_id: &str) -> Option<(String, String)> {
        self.lock().layers.mount_info(container_id).map(|m| (m.mount_id.clone(), m.init_id.clone()))
    }

    /// `GraphDriver` for `docker container inspect` (LowerDir = init layer then the image's).
    pub fn container_graph_driver(&self, container_id: &str) -> Result<GraphDriverData> {
        let g = self.lock();
        let m = g.layers.mount_info(container_id).ok_or_else(|| StorageError::NotFound(format!("no rw layer for container {container_id}")))?;
        Ok(GraphDriverData { name: self.driver_name.to_string(), data: g.driver.metadata(&m.mount_id)? })
    }

    /// `GraphDriver` for `docker image inspect` (the image's top layer).
    pub fn image_graph_driver(&self, id: &ImageId) -> Result<GraphDriverData> {
        let g = self.lock();
        let data = match g.top_chain(id)? {
            Some(c) => g.driver.metadata(&g.layers.get(&c).expect("layer").cache_id)?,
            None => BTreeMap::new(),
        };
        Ok(GraphDriverData { name: self.driver_name.to_string(), data })
    }
}

impl Inner {
    pub fn resolve(&self, ref_or_id: &str) -> Result<ImageId> {
        match reference::parse_any(ref_or_id)? {
            AnyReference::Id(id) => {
                if self.images.get(&id).is_some() {
                    Ok(id)
                } else {
                    Err(StorageError::NoSuchImage(id.to_string()))
                }
            }
            AnyReference::Named(r) => {
                if let Some(id) = self.repos.get(&r) {
                    if self.images.get(&id).is_some() {
                        return Ok(id);
                    }
                }
                // Docker: an ambiguous prefix is simply "No such image".
                if let Ok(Some(id)) = self.images.search(ref_or_id) {
                    return Ok(id);
                }
                Err(StorageError::NoSuchImage(r.familiar_string()))
            }
        }
    }

    pub fn top_chain(&self, id: &ImageId) -> Result<Option<ChainId>> {
        let rec = self.images.get(id).ok_or_else(|| StorageError::NoSuchImage(id.to_string()))?;
        Ok(chain_ids(&rec.config.diff_ids).pop())
    }

    pub fn tag_ref(&mut self, r: &Reference, id: &ImageId) -> Result<()> {
        self.repos.set(r, id)?;
        self.images.set_last_updated(id)
    }

    /// Every chainID some image or container mount still needs.
    pub fn referenced_layers(&self) -> HashSet<ChainId> {
        let mut set = HashSet::new();
        for img in self.images.all() {
            set.extend(chain_ids(&img.config.diff_ids));
        }
        for m in self.layers.all_mounts() {
            if let Some(p) = &m.parent {
                set.extend(self.layers.ancestry(p));
            }
        }
        set
    }

    /// Delete the given layers and their ancestors when nothing refers to them; returns the deleted chainIDs, top first.
    pub fn release_unreferenced(&mut self, tops: &[ChainId]) -> Vec<ChainId> {
        let used = self.referenced_layers();
        let mut deleted = Vec::new();
        for top in tops {
            for c in self.layers.ancestry(top) {
                if used.contains(&c) || self.layers.get(&c).is_none() {
                    break;
                }
                // A layer that is another layer's parent stays.
                if self.layers.all().any(|l| l.parent.as_ref() == Some(&c)) {
                    break;
                }
                if self.layers.delete(&c).is_ok() {
                    deleted.push(c);
                }
            }
        }
        deleted
    }
}

#[allow(dead_code)]
fn assert_store_is_shareable() {
    fn is<T: Send + Sync>() {}
    is::<Store>();
}

/// `stringid.TruncateID`.
pub(crate) fn truncate_id(s: &str) -> String {
    let s = s.split_once(':').map(|(_, h)| h).unwrap_or(s);
    s.chars().take(12).collect()
}
