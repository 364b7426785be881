//! berth's engine: the Docker-compatible daemon (`berthd`), its CLI client (`berth`) and the
//! per-container shim. The OCI runtime lives in `berth-runtime`, storage in `berth-storage`.

pub use berth_runtime as runtime;
pub use berth_storage as storage;
