//! That the kernel really OOM-killed inside a memory cgroup: the `oom_kill` counter of
//! v1 `memory.oom_control` or v2 `memory.events`.

use super::cgroup::locate;
use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OomCheck {
    #[serde(default)]
    pub of: Option<ProcRef>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// At least this many kills (default 1).
    #[serde(default = "one")]
    pub min: u64,
}

fn one() -> u64 {
    1
}

/// The `oom_kill N` counter from an oom_control / memory.events text.
pub fn oom_kills(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        l.strip_prefix("oom_kill ")
            .and_then(|n| n.trim().parse().ok())
    })
}

impl OomCheck {
    pub fn describe(&self) -> String {
        let target = match (&self.of, &self.host) {
            (Some(r), _) => format!("{r}"),
            (None, Some(h)) => format!(
                "host {h}{}",
                self.path
                    .as_ref()
                    .map(|p| format!(" cgroup {p}"))
                    .unwrap_or_default()
            ),
            _ => "?".into(),
        };
        format!(
            "memory cgroup of {target} saw at least {} OOM kill(s)",
            self.min
        )
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let (cg, who) = match locate(
            ctx,
            "memory",
            self.of.as_ref(),
            self.host.as_deref(),
            self.path.as_deref(),
        ) {
            Ok(x) => x,
            Err(e) => return Outcome::fail(expected, e),
        };
        let path = cg.dir.join(if cg.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        });
        let text = match procfs::read(&path) {
            Ok(t) => t,
            Err(e) => return Outcome::fail(expected, format!("{who}: {e}")),
        };
        match oom_kills(&text) {
            Some(n) if n >= self.min => Outcome::pass(format!("{}: oom_kill {n}", path.display())),
            Some(n) => Outcome::fail(expected, format!("{}: oom_kill {n}", path.display())),
            None => Outcome::fail(expected, format!("{} has no oom_kill line", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};

    #[test]
    fn reads_v1_oom_control_counter() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("cgroup/memory/lab/vm1/hog");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        )
        .unwrap();
        let hosts = FakeHosts {
            cgroups: [("vm1".to_string(), "lab/vm1".to_string())].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let chk = OomCheck {
            of: None,
            host: Some("vm1".into()),
            path: Some("hog".into()),
            min: 1,
        };
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.ends_with("oom_kill 0"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
        std::fs::write(
            d.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert!(chk.probe(&c).passed());
    }

    #[test]
    fn parses_v2_events() {
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"),
            Some(1)
        );
        assert_eq!(oom_kills("low 0\n"), None);
    }
}
