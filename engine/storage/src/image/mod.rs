//! The image store: `image/<driver>/imagedb/` and `repositories.json` (Docker's `image/` and
//! `reference/` packages).

pub mod cache;
pub mod changes;
pub mod config;
pub mod distribution;
pub mod ops;
pub mod repositories;
pub mod store;
pub mod usage;
