//! Recording firewall for unit tests.
use super::{Firewall, Ruleset};
use crate::error::{NetError, Result};
use std::sync::Mutex;

#[derive(Default)]
pub struct FakeFirewall {
    /// The current table (None = absent), as the kernel would hold it.
    pub current: Mutex<Option<Ruleset>>,
    pub applies: Mutex<usize>,
    /// Make the next apply fail (to test rollback).
    pub fail_next: Mutex<bool>,
}

impl Firewall for FakeFirewall {
    fn apply(&self, rules: &Ruleset) -> Result<()> {
        let mut f = self.fail_next.lock().unwrap();
        if *f {
            *f = false;
            return Err(NetError::Firewall("injected failure".into()));
        }
        *self.applies.lock().unwrap() += 1;
        *self.current.lock().unwrap() = Some(rules.clone());
        Ok(())
    }
    fn clear(&self) -> Result<()> {
        *self.current.lock().unwrap() = None;
        Ok(())
    }
}
