//! Shared helpers for the end-to-end tests in `tests/tests/`.

pub use berth_testkit::docker_oracle;
pub mod engine;
pub mod pty;
pub mod raw_api;
pub mod runtime;
