//! The layer store: `image/<driver>/layerdb/` (Docker's `layer/` package).

pub mod container;
pub mod store;

pub use store::{LayerInfo, LayerStore, MountInfo};
