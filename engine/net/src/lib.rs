//! berth's container networking: the network model and IPAM (persisted), the bridge driver over
//! netlink, port publishing through nftables, `--link` hosts/env, resolv.conf and the embedded DNS.
//! The daemon drives it through `controller::NetController`; the pure helpers (hosts_file, links,
//! resolv, ports::spec, mode) produce file contents and decisions without touching the kernel.
pub mod bridge;
pub mod controller;
pub mod dns;
pub mod error;
pub mod firewall;
pub mod hosts_file;
pub mod inspect;
pub mod ipam;
pub mod links;
pub mod mac;
pub mod mode;
pub mod netlink;
pub mod netns;
pub mod network;
pub mod ports;
pub mod resolv;
pub mod store;
pub mod subnet;
pub mod veth;

pub use controller::{ControllerConfig, NetController};
pub use error::{NetError, Result};
