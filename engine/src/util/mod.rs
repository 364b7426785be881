//! Small helpers shared by the daemon, shim and CLI.

pub mod fs;
pub mod ids;
pub mod sock;
pub mod time;
