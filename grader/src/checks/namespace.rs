//! Whether two processes share a namespace, by the inode of `/proc/<pid>/ns/<ns>`.

use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};

const NAMESPACES: &[&str] = &["net", "mnt", "uts", "ipc", "pid", "user", "cgroup", "time"];

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Same,
    Different,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceCheck {
    /// net, mnt, uts, ipc, pid, user, cgroup or time.
    pub ns: String,
    pub a: ProcRef,
    #[serde(default)]
    pub b: ProcRef,
    pub relation: Relation,
}

pub fn validate_ns(ns: &str) -> Result<(), String> {
    if NAMESPACES.contains(&ns) {
        Ok(())
    } else {
        Err(format!(
            "unknown namespace {ns:?} (one of {})",
            NAMESPACES.join(", ")
        ))
    }
}

impl NamespaceCheck {
    pub fn describe(&self) -> String {
        let rel = if self.relation == Relation::Same {
            "is the same as"
        } else {
            "differs from"
        };
        format!(
            "{} namespace of {} {rel} that of {}",
            self.ns, self.a, self.b
        )
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let side = |r: &ProcRef| -> Result<(u64, String), String> {
            let (pid, who) = procfs::resolve(ctx, r)?;
            let ino = procfs::ns_inode(&ctx.proc_root, pid, &self.ns)?;
            Ok((ino, who))
        };
        let (a, b) = match (side(&self.a), side(&self.b)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Outcome::fail(expected, e),
        };
        let observed = format!(
            "{}: {}:[{}], {}: {}:[{}]",
            a.1, self.ns, a.0, b.1, self.ns, b.0
        );
        if (a.0 == b.0) == (self.relation == Relation::Same) {
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
    fn compares_inodes_and_reports_both() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proc");
        fake::process(&p, 100, 1, &["init"], &[("pid", 7), ("net", 8)]);
        fake::process(&p, 200, 100, &["sleep", "3001"], &[("pid", 9), ("net", 8)]);
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let a = ProcRef {
            host: Some("vm1".into()),
            cmdline: Some("^sleep 3001$".into()),
        };
        let b = ProcRef {
            host: Some("vm1".into()),
            cmdline: None,
        };
        let pid_diff = NamespaceCheck {
            ns: "pid".into(),
            a: a.clone(),
            b: b.clone(),
            relation: Relation::Different,
        };
        assert!(pid_diff.probe(&c).passed());
        let net_diff = NamespaceCheck {
            ns: "net".into(),
            a,
            b,
            relation: Relation::Different,
        };
        match net_diff.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(
                    observed.contains("net:[8]") && observed.contains("pid 200"),
                    "{observed}"
                )
            }
            o => panic!("{o:?}"),
        }
        let missing = NamespaceCheck {
            ns: "net".into(),
            a: ProcRef {
                host: Some("vm1".into()),
                cmdline: Some("nginx".into()),
            },
            b: ProcRef::default(),
            relation: Relation::Same,
        };
        match missing.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("no process matching /nginx/ on host vm1"))
            }
            o => panic!("{o:?}"),
        }
    }
}
