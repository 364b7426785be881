//! berth's OCI runtime: runc's command-line contract over an OCI bundle.
//!
//! Layout: `spec` (config.json types), `syscall` (the privileged-call seam with a recording fake),
//! `cgroups` (v1/v2 managers, one file per controller), `namespaces`, `capabilities`, `rlimits`,
//! `rootfs` (mounts, devices, pivot_root, masked paths), `process` (fork, sync channel, init),
//! `state` (state.json in the --root dir), `cli` (one file per verb).

pub mod capabilities;
pub mod cgroups;
pub mod cli;
pub mod namespaces;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod spec;
pub mod state;
pub mod syscall;
