//! A process (by command line regex) running, or not, inside a host's pid namespace.

use super::{procfs, Ctx, Outcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessCheck {
    pub host: String,
    pub cmdline: String,
    #[serde(default = "yes")]
    pub present: bool,
}

fn yes() -> bool {
    true
}

impl ProcessCheck {
    pub fn describe(&self) -> String {
        let what = if self.present { "runs" } else { "does not run" };
        format!(
            "a process matching /{}/ {what} on {}",
            self.cmdline, self.host
        )
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(pid) = ctx.hosts.pid(&self.host) else {
            return Outcome::fail(expected, format!("host {} is not running", self.host));
        };
        let re = match regex::Regex::new(&self.cmdline) {
            Ok(r) => r,
            Err(e) => return Outcome::fail(expected, format!("bad regex: {e}")),
        };
        let found = procfs::find(&ctx.proc_root, Some(pid), &re);
        let observed = if found.is_empty() {
            format!("no such process on {}", self.host)
        } else {
            found
                .iter()
                .map(|(p, c)| format!("pid {p} `{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if found.is_empty() != self.present {
            Outcome::pass(observed)
        } else {
            Outcome::fail(expected, observed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::procfs::fake;
    use crate::checks::testing::{ctx, FakeHosts};

    #[test]
    fn finds_only_processes_of_the_host() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proc");
        fake::process(&p, 100, 1, &["init"], &[("pid", 7)]);
        fake::process(&p, 101, 1, &["init"], &[("pid", 8)]);
        fake::process(&p, 200, 101, &["busybox", "httpd", "-f"], &[("pid", 8)]);
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100), ("vm2".to_string(), 101)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut chk = ProcessCheck {
            host: "vm1".into(),
            cmdline: "httpd".into(),
            present: true,
        };
        assert!(!chk.probe(&c).passed());
        chk.host = "vm2".into();
        assert!(chk.probe(&c).passed());
        chk.present = false;
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => assert_eq!(observed, "pid 200 `busybox httpd -f`"),
            o => panic!("{o:?}"),
        }
    }
}
