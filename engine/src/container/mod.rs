//! Containers as Docker stores them: API config types, the `config.v2.json` record, the on-disk
//! store, the OCI spec derived from them, and the per-container files (hostname, hosts, resolv.conf).

pub mod config;
pub mod files;
pub mod record;
pub mod spec;
pub mod store;
