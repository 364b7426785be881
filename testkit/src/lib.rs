//! What the end-to-end tests (`tests/`) and the benchmarks (`cargo xtask bench`) share, kept
//! small so that xtask can depend on it without building the test crate: workspace paths, the
//! docker CLI to drive, a CLI run with a timeout, and the sandboxed Docker 20.10 oracle.

pub mod docker_oracle;
pub mod paths;
pub mod run;

pub use paths::{docker_cli, fixtures_dir, workspace_root};
pub use run::{run_with, Run};
