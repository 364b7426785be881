//! A TCP connection attempted by the grader from inside a host's network namespace.

use super::{netns, Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// The host whose network namespace the connection starts from.
    pub from: String,
    /// ip:port
    pub to: String,
    /// true: the connection must succeed; false: it must be refused or time out.
    #[serde(default = "yes")]
    pub open: bool,
}

fn yes() -> bool {
    true
}

/// Connects from the network namespace of `pid` (None: the grader's own).
pub fn connect(ctx: &Ctx, pid: Option<i32>, to: &str) -> Result<Result<(), String>, String> {
    let addr: SocketAddr = to.parse().map_err(|e| format!("{to:?}: {e}"))?;
    netns::in_netns(&ctx.proc_root, pid, move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

impl TcpCheck {
    pub fn describe(&self) -> String {
        let what = if self.open { "accepts" } else { "refuses" };
        format!("{} {what} TCP connections from {}", self.to, self.from)
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(pid) = ctx.hosts.pid(&self.from) else {
            return Outcome::fail(expected, format!("host {} is not running", self.from));
        };
        match connect(ctx, Some(pid), &self.to) {
            Err(e) => Outcome::fail(expected, e),
            Ok(r) => {
                let observed = match &r {
                    Ok(()) => format!("connected to {} from {}", self.to, self.from),
                    Err(e) => format!("connect to {} from {}: {e}", self.to, self.from),
                };
                if r.is_ok() == self.open {
                    Outcome::pass(observed)
                } else {
                    Outcome::fail(expected, observed)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};

    #[test]
    fn connects_in_own_namespace() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = tempfile::tempdir().unwrap();
        let hosts = FakeHosts::default();
        let c = ctx(t.path(), &hosts);
        assert!(connect(&c, None, &format!("127.0.0.1:{port}"))
            .unwrap()
            .is_ok());
        drop(l);
        let e = connect(&c, None, &format!("127.0.0.1:{port}"))
            .unwrap()
            .unwrap_err();
        assert!(e.contains("refused"), "{e}");
        assert!(connect(&c, Some(999_999), "127.0.0.1:1")
            .unwrap_err()
            .contains("999999/ns/net"));
    }
}
