//! berth's lab platform: catalog model, virtual hosts, scenario runner, kernel-truth checks,
//! reports.
//!
//! - [`catalog`]: `labs/objectives.toml` and `labs/*/lab.toml`, typed and validated.
//! - [`hosts`]: virtual hosts made of namespaces on a lab-private LAN, their state and reset.
//! - [`checks`]: one kind of kernel-truth check per module, with retry and latching.
//! - [`runner`]: `--solve`, `--check`, broken variants; [`report`]: terminal, JSON, JUnit.
//! - [`token_server`]: the registry token service of the private-registry lab (Harbor's model:
//!   public and private projects), run on a lab host as `berth-lab-host token-server`.

pub mod catalog;
pub mod checks;
pub mod hosts;
pub mod interactive;
pub mod progress;
pub mod report;
pub mod runner;
pub mod token_server;
