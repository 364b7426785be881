//! v1 device access rules (`devices.allow` / `devices.deny`), the spec's rules in order.

use super::Controller;
use crate::cgroups::{write, Result};
use crate::spec::{DeviceRule, Resources};
use std::path::Path;

pub(crate) struct Devices;

/// Devices every container may use, whatever the spec's rules say (runc's AllowedDevices).
pub(crate) const DEFAULT_ALLOWED: [&str; 11] = [
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
];

pub(crate) fn rule_text(r: &DeviceRule) -> String {
    let num = |n: Option<i64>| n.map_or("*".to_string(), |v| v.to_string());
    format!(
        "{} {}:{} {}",
        r.typ.as_deref().unwrap_or("a"),
        num(r.major),
        num(r.minor),
        r.access.as_deref().unwrap_or("rwm")
    )
}

impl Controller for Devices {
    const NAME: &'static str = "devices";

    fn needed(res: &Resources) -> Option<&'static str> {
        (!res.devices.is_empty()).then_some("devices")
    }

    fn apply(res: &Resources, dir: &Path) -> Result<()> {
        for r in &res.devices {
            let file = if r.allow { "devices.allow" } else { "devices.deny" };
            write(dir, file, rule_text(r))?;
        }
        for rule in DEFAULT_ALLOWED {
            write(dir, "devices.allow", rule)?;
        }
        Ok(())
    }
}
