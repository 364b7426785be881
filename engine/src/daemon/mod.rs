//! berthd's core: configuration, container state, names, lifecycle and restart policies.

pub mod archive;
pub mod build;
pub mod config;
pub mod copyup;
pub mod distribution;
pub mod error;
pub mod events;
pub mod exec;
pub mod images;
pub mod init;
pub mod lifecycle;
pub mod logging;
pub mod names;
pub mod network;
pub mod network_create;
pub mod network_ops;
pub mod network_view;
pub mod state;
pub mod stats;
pub mod storage;
pub mod update;
pub mod view;
pub mod volumes;

pub use error::DaemonError;
pub use state::Daemon;
