//! berth's storage: overlay2 (Docker-exact layout), vfs, layer store, image store, archives.
//!
//! # API overview (for the daemon, the builder and the registry client)
//!
//! ```no_run
//! use berth_storage::*;
//! # fn main() -> berth_storage::Result<()> {
//! let store = Store::open(std::path::Path::new("/var/lib/berth"), DriverKind::Auto)?; // one per data root
//! let id = store.import(&mut std::fs::File::open("rootfs.tar").unwrap(),
//!     &ImportOptions { reference: Some("bb:latest".into()), changes: vec![r#"CMD ["sh"]"#.into()], ..Default::default() })?;
//! let id = store.resolve_image("bb")?;                 // name, name:tag, name@digest, full ID, ID prefix
//! let cfg = store.image_container_config(&id)?;         // Cmd/Env/Entrypoint/WorkingDir/User…
//! let cid = "0fd9f42d450fb3a5e47b31a6cbca92a165c25d2865c25d2865c25d2865c25d28";
//! let _mount_id = store.create_rw_layer(cid, &id)?;     // docker create
//! let rootfs = store.mount(cid)?;                        // docker start: overlay2/<mount-id>/merged
//! store.unmount(cid)?;                                   // container stopped
//! store.remove_rw_layer(cid)?;                           // docker rm
//! # Ok(()) }
//! ```
//!
//! All methods are blocking and take `&self`; `Store` is `Send + Sync` (share an `Arc<Store>`,
//! call from `spawn_blocking`). Operations serialise on one internal lock, except the long
//! extraction parts of `import` and `load` (overlay2), which run outside it.
//!
//! | Docker | `Store` method |
//! |---|---|
//! | lookup (`GetImage`) | `resolve_image(&str) -> Result<ImageId>` — `No such image: x:latest` (404) |
//! | import | `import(&mut dyn Read, &ImportOptions) -> Result<ImageId>` (plain or gzip tar) |
//! | tag | `tag(source, target) -> Result<()>`; `set_reference(ref_or_digest_ref, &ImageId)` |
//! | rmi | `remove_image(name, force, prune, &[ContainerRef]) -> Result<Vec<RemovedItem>>` (`Untagged: …`/`Deleted: …`, Docker's 409 texts) |
//! | images | `list_images(&ImageFilters) -> Result<Vec<ImageSummary>>` (`ImageSummary::to_json()` = API row) |
//! | history | `history(name) -> Result<Vec<HistoryItem>>` (`to_json()`) |
//! | image inspect | `inspect_image(name) -> Result<ImageInspect>` (API 1.41 shape in Docker's key order, GraphDriver, RootFS, Metadata) |
//! | image prune | `prune_images(all, &[ContainerRef]) -> Result<PruneReport>` |
//! | save | `save(&[&str], SaveFormat::{Oci (Docker 25 hybrid, default), Legacy (20.10)}, &mut dyn Write)` |
//! | load | `load(&mut dyn Read) -> Result<Vec<String>>` (`Loaded image: bb:l3` / `Loaded image ID: sha256:…`) |
//! | create/start/stop/rm | `create_rw_layer(cid, &ImageId) -> Result<String /*mount-id*/>`, `mount(cid) -> Result<PathBuf>`, `unmount(cid)`, `remove_rw_layer(cid)`, `rw_layer_ids(cid)` |
//! | container inspect | `container_graph_driver(cid) -> Result<GraphDriverData>`; images: `image_graph_driver(&ImageId)` |
//! | export | `export_container(cid, &mut dyn Write)` (merged view; mounts for the duration) |
//! | ps -s / inspect size | `container_size(cid) -> Result<(u64 /*SizeRw*/, u64 /*SizeRootFs*/)>` |
//! | diff | `changes(cid) -> Result<Vec<Change>>` (`Display` = `C /etc`, `api_kind()` = 0/1/2) |
//! | commit | `commit(cid, &CommitOptions) -> Result<ImageId>` (empty diff → no layer, `empty_layer`) |
//! | pull / push metadata | `set_blob_diff_id(blob, diff)`, `blob_diff_id(blob)`, `add_v2_metadata(diff, V2Metadata)`, `v2_metadata(diff)` (`distribution/`) |
//! | pull | `blob_available(blob)`, `tmp_dir()`, `commit_pull(&PullCommit, progress) -> PullOutcome` (layers checked against diff_ids, tag + RepoDigest, all or nothing) |
//! | push | `prepare_push(&ImageId, progress) -> PushPlan` (gzip blobs + schema2 manifest in scratch files), `record_push(&plan, repo, digest)` |
//! | build / pull | `register_layer(parent, &mut dyn Read) -> Result<ChainId>` (plain or gzip), `layer_diff_ids(top)`, `create_image(config_bytes, parent, tag)`, `layer_exists`, `write_layer_tar`, `layer_tar_size` |
//!
//! Errors: [`StorageError`]; `to_string()` is Docker's message where Docker has one, and
//! [`StorageError::kind`] gives the HTTP class (400 / 404 / 409 / 500). [`reference`](mod@reference) parses
//! `[registry[:port]/]name[:tag][@digest]` with Docker's rules; [`digest`] has diffID/chainID.
//!
//! # On disk
//!
//! Docker's layout under the data root, with `overlay2` or `vfs`:
//! `overlay2/<cache-id>/{diff,link,lower,work,merged,committed}`, `overlay2/l/<LID>`,
//! `image/overlay2/layerdb/sha256/<chainID>/{cache-id,diff,size,parent,tar-split.json.gz}`,
//! `image/overlay2/layerdb/mounts/<cid>/{mount-id,init-id,parent}`,
//! `image/overlay2/imagedb/{content,metadata}/sha256/…`, `image/overlay2/repositories.json`;
//! scratch space in `<data-root>/tmp` (emptied at open, like leftover layer dirs of a crash).
//!
//! Layer tars are rebuilt byte for byte from `tar-split.json.gz` (Docker's format: raw header
//! segments + file entries with CRC-64) and the files in `diff/`, so `save` reproduces every
//! diffID without keeping a second copy of the layer.

pub mod archive;
mod container_ops;
pub mod digest;
pub mod distribution;
pub mod driver;
pub mod error;
pub mod fsutil;
pub mod ids;
pub mod image;
pub mod layer;
pub mod reference;
mod store;

pub use digest::{ChainId, DiffId, Digest, ImageId};
pub use driver::DriverKind;
pub use error::{ErrorKind, Result, StorageError};
pub use image::config::ContainerConfig;
pub use image::distribution::V2Metadata;
pub use reference::Reference;
pub use image::ops::{HistoryItem, ImageFilters, ImageSummary, PruneReport, RemovedItem};
pub use image::usage::ImageUsage;
pub use archive::save::SaveFormat;
pub use container_ops::{Change, ChangeKind, CommitOptions};
pub use distribution::pull::{PullCommit, PullOutcome, PulledLayer};
pub use distribution::push::{PushLayer, PushPlan};
pub use store::{ContainerRef, GraphDriverData, ImportOptions, Store};
