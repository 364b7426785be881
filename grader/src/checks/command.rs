//! Last resort: a command's exit status (and stdout) inside a host. Prefer kernel-truth checks;
//! this exists for facts only a program can tell.

use super::{Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub host: String,
    pub run: String,
    #[serde(default)]
    pub exit: i32,
    #[serde(default)]
    pub stdout: Option<String>,
}

impl CommandCheck {
    pub fn describe(&self) -> String {
        let out = self
            .stdout
            .as_ref()
            .map(|s| format!(" printing /{s}/"))
            .unwrap_or_default();
        format!("`{}` on {} exits {}{out}", self.run, self.host, self.exit)
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let out = match ctx
            .hosts
            .run(&self.host, &self.run, Duration::from_secs(10))
        {
            Ok(o) => o,
            Err(e) => return Outcome::fail(expected, e),
        };
        let short: String = out.stdout.chars().take(200).collect();
        let observed = format!("exit {}, stdout {short:?}", out.status);
        let out_ok = self
            .stdout
            .as_ref()
            .map(|s| {
                regex::Regex::new(s)
                    .map(|r| r.is_match(&out.stdout))
                    .unwrap_or(false)
            })
            .unwrap_or(true);
        if out.status == self.exit && out_ok {
            Outcome::pass(observed)
        } else {
            let err: String = out.stderr.chars().take(200).collect();
            Outcome::fail(
                expected,
                if err.is_empty() {
                    observed
                } else {
                    format!("{observed}, stderr {err:?}")
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};
    use crate::checks::CmdOutput;

    #[test]
    fn exit_and_stdout() {
        let t = tempfile::tempdir().unwrap();
        let hosts = FakeHosts::default();
        hosts.outputs.lock().unwrap().push(CmdOutput {
            status: 0,
            stdout: "vm2\n".into(),
            stderr: String::new(),
        });
        hosts.outputs.lock().unwrap().push(CmdOutput {
            status: 1,
            stdout: String::new(),
            stderr: "bad".into(),
        });
        let c = ctx(t.path(), &hosts);
        let chk = CommandCheck {
            host: "vm1".into(),
            run: "hostname".into(),
            exit: 0,
            stdout: Some("^vm2".into()),
        };
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert_eq!(observed, "exit 1, stdout \"\", stderr \"bad\"")
            }
            o => panic!("{o:?}"),
        }
        assert!(chk.probe(&c).passed());
    }
}
