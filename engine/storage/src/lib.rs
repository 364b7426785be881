//! berth's storage: overlay2 (Docker-exact layout), vfs, layer store, image store, archives.
//!
//! # API overview (for the daemon)
//!
//! ```no_run
//! use berth_storage::{Store, DriverKind, ImportOptions};
//! # fn main() -> berth_storage::Result<()> {
//! let store = Store::open(std::path::Path::new("/var/lib/berth"), DriverKind::Auto)?; // one per data root
//! // docker import
//! let id = store.import(&mut std::fs::File::open("rootfs.tar").unwrap(),
//!     &ImportOptions { reference: Some("bb:latest".into()), changes: vec![r#"CMD ["sh"]"#.into()], ..Default::default() })?;
//! let id = store.resolve_image("bb")?;                 // name, name:tag, @digest, full ID, ID prefix
//! let cfg = store.image_container_config(&id)?;         // Cmd/Env/Entrypoint/WorkingDir/User…
//! // container rootfs lifecycle
//! let _mount_id = store.create_rw_layer("<64-hex container id>", &id)?;
//! let rootfs = store.mount("<64-hex container id>")?;   // overlay2: <root>/overlay2/<mount-id>/merged
//! store.unmount("<64-hex container id>")?;
//! store.remove_rw_layer("<64-hex container id>")?;
//! # Ok(()) }
//! ```
//!
//! * [`Store`] — everything: images (import, resolve, tag, remove, list, history, inspect, prune,
//!   save, load), containers' layers (create/mount/unmount/remove, export, changes, commit).
//! * Errors: [`StorageError`]; `to_string()` is Docker's message where Docker has one, and
//!   [`StorageError::kind`] maps to the HTTP status (400/404/409/500).
//! * [`reference`] — `[registry[:port]/]name[:tag][@digest]` parsing with Docker's rules.
//! * [`digest`] — diffID/chainID/image ID helpers.
//!
//! On disk (under the data root, Docker's layout with `overlay2` or `vfs`):
//! `overlay2/<cache-id>/{diff,link,lower,work,merged,committed}`, `overlay2/l/<LID>`,
//! `image/overlay2/layerdb/sha256/<chainID>/{cache-id,diff,size,parent,tar-split.json.gz}`,
//! `image/overlay2/layerdb/mounts/<cid>/{mount-id,init-id,parent}`,
//! `image/overlay2/imagedb/{content,metadata}/sha256/…`, `image/overlay2/repositories.json`.
//! Layer tars are rebuilt byte for byte from `tar-split.json.gz` + `diff/`, so `save` reproduces
//! every diffID.

pub mod archive;
mod container_ops;
pub mod digest;
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
pub use reference::Reference;
pub use image::ops::{HistoryItem, ImageFilters, ImageSummary, PruneReport, RemovedItem};
pub use archive::save::SaveFormat;
pub use container_ops::{Change, ChangeKind, CommitOptions};
pub use store::{ContainerRef, GraphDriverData, ImportOptions, Store};
