//! berth's OCI runtime.

pub mod cli;
