#![recursion_limit = "512"]
//! berth's engine: the Docker-compatible daemon (`berthd`), its CLI client (`berth`) and the
//! per-container shim. The OCI runtime lives in `berth-runtime`, storage in `berth-storage`.
//!
//! Process model (as Docker's): CLI → berthd (Engine API 1.41) → shim (one per container
//! process) → runtime (runc or `berth runtime`).

pub use berth_runtime as runtime;
pub use berth_storage as storage;

pub mod api;
pub mod api_types;
pub mod cli;
pub mod client;
pub mod container;
pub mod daemon;
pub mod shim;
pub mod util;

/// API version this engine speaks (Docker 20.10's).
pub const API_VERSION: &str = "1.41";
/// Oldest API version accepted (20.10's minimum).
pub const MIN_API_VERSION: &str = "1.12";
/// Engine version reported by `GET /version`.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
