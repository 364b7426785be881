//! An environment variable of a process, from `/proc/<pid>/environ` (the environment it was
//! started with: for a container's init, what the engine gave it, e.g. `--link` variables).

use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironCheck {
    pub of: ProcRef,
    /// Variable name, exact.
    pub name: String,
    /// Regex the value must match.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default = "yes")]
    pub present: bool,
}

fn yes() -> bool {
    true
}

pub fn parse_environ(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .filter_map(|v| {
            let s = String::from_utf8_lossy(v);
            let (k, val) = s.split_once('=')?;
            Some((k.to_string(), val.to_string()))
        })
        .collect()
}

impl EnvironCheck {
    pub fn describe(&self) -> String {
        match (&self.value, self.present) {
            (_, false) => format!("{} has no {} in its environment", self.of, self.name),
            (Some(v), true) => format!("{} has {}=~/{v}/ in its environment", self.of, self.name),
            (None, true) => format!("{} has {} in its environment", self.of, self.name),
        }
    }

    pub fn judge(&self, env: &[(String, String)], who: &str) -> Outcome {
        let expected = self.describe();
        let got = env.iter().find(|(k, _)| k == &self.name).map(|(_, v)| v);
        let observed = match got {
            Some(v) => format!("{who}: {}={v}", self.name),
            None => {
                let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
                format!("{who}: no {} (has {})", self.name, names.join(", "))
            }
        };
        let ok = match (got, self.present) {
            (None, false) => true,
            (Some(_), false) | (None, true) => false,
            (Some(v), true) => self.value.as_ref().is_none_or(|re| {
                regex::Regex::new(re)
                    .map(|r| r.is_match(v))
                    .unwrap_or(false)
            }),
        };
        if ok {
            Outcome::pass(observed)
        } else {
            Outcome::fail(expected, observed)
        }
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let (pid, who) = match procfs::resolve(ctx, &self.of) {
            Ok(x) => x,
            Err(e) => return Outcome::fail(self.describe(), e),
        };
        let path = ctx.proc_root.join(procfs::pid_dir(pid)).join("environ");
        match std::fs::read(&path) {
            Ok(raw) => self.judge(&parse_environ(&raw), &who),
            Err(e) => Outcome::fail(self.describe(), format!("{}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_variables() {
        let env = parse_environ(
            b"PATH=/bin\0HAHA_NAME=/c2/haha\0HAHA_PORT=tcp://172.17.0.2:80\0EMPTY=\0",
        );
        assert_eq!(env.len(), 4);
        let mut c = EnvironCheck {
            of: ProcRef::default(),
            name: "HAHA_PORT".into(),
            value: Some("^tcp://172\\.17\\.0\\.2:80$".into()),
            present: true,
        };
        assert!(c.judge(&env, "c2").passed());
        c.value = Some("^tcp://172\\.17\\.0\\.3:80$".into());
        assert!(!c.judge(&env, "c2").passed());
        c.name = "C2_NAME".into();
        c.value = None;
        match c.judge(&env, "c1") {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("has PATH, HAHA_NAME"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
        c.present = false;
        assert!(c.judge(&env, "c1").passed());
    }
}
