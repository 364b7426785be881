//! The Docker Engine API (1.41) over HTTP/1.1 on unix and tcp sockets (hyper 1).

pub mod archive;
pub mod attach;
pub mod build;
pub mod container_update;
pub mod containers;
pub mod distribution;
pub mod distribution_inspect;
pub mod events;
pub mod exec;
pub mod extra_routes;
pub mod images;
pub mod logs;
pub mod networks;
pub mod query;
pub mod response;
pub mod router;
pub mod server;
pub mod stats;
pub mod swarm;
pub mod system;
pub mod system_df;
pub mod volumes;

pub use response::{Body, Resp};
