//! berth's container networking: the network model and IPAM (persisted), the bridge driver over
//! netlink, port publishing through nftables, `--link` hosts/env, resolv.conf and the embedded DNS.
pub mod error;
pub mod ipam;
pub mod mac;
pub mod network;
pub mod store;
pub mod subnet;
pub mod veth;

pub use error::{NetError, Result};
pub mod firewall;
pub mod hosts_file;
pub mod links;
pub mod netns;
pub mod ports;
pub mod resolv;
pub mod netlink;
pub mod bridge;
pub mod dns;
