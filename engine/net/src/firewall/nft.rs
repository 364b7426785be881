//! nftables driver: feeds the rendered script to `nft -f -` (one transaction), optionally inside
//! a network namespace.
use super::exec::{NsRunner, Runner};
use super::{Firewall, Ruleset, TABLE};
use crate::error::{NetError, Result};

pub struct NftFirewall {
    runner: Box<dyn Runner>,
}

impl NftFirewall {
    /// Rules go into the calling process's network namespace.
    pub fn new() -> NftFirewall {
        NftFirewall { runner: Box::new(NsRunner::current()) }
    }
    /// Rules go into the namespace at `path` (e.g. `/proc/<pid>/ns/net`, a test's namespace).
    pub fn in_netns(path: &std::path::Path) -> Result<NftFirewall> {
        Ok(NftFirewall { runner: Box::new(NsRunner::in_netns(path)?) })
    }

    fn run(&self, script: &str) -> Result<()> {
        self.runner.run("nft", &["-f", "-"], Some(script)).map(|_| ()).map_err(NetError::Firewall)
    }
}

impl Default for NftFirewall {
    fn default() -> Self {
        Self::new()
    }
}

impl Firewall for NftFirewall {
    fn apply(&self, rules: &Ruleset) -> Result<()> {
        self.run(&rules.render())
    }
    fn clear(&self) -> Result<()> {
        self.run(&format!("table ip {TABLE}\ndelete table ip {TABLE}\n"))
    }
}
