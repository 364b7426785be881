//! Reachability probed by the grader from inside a process's network namespace with a TCP
//! connect, no ICMP: a connection (open) or a refusal (closed: a RST came back, so the address
//! answered) proves the path works; a timeout, "network unreachable" or "no route to host"
//! proves it does not. The `tcp` check asks the same from a host; this one from any container.

use super::{netns, procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// A connection is accepted.
    Open,
    /// The address answers with a refusal (nothing listens on that port).
    Closed,
    /// Open or closed: something at that address answered.
    Reachable,
    /// No answer: no route, host unreachable or a timeout.
    Unreachable,
}

/// What one connect attempt observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seen {
    Open,
    Closed,
    Unreachable,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectivityCheck {
    /// Whose network namespace the connection starts from.
    pub from: ProcRef,
    /// ip:port
    pub to: String,
    pub expect: Expect,
}

/// Sorts a connect error into closed (the peer answered) or unreachable.
pub fn classify(e: &std::io::Error) -> Seen {
    match e.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => Seen::Closed,
        _ => Seen::Unreachable,
    }
}

impl Expect {
    pub fn holds(self, seen: Seen) -> bool {
        matches!(
            (self, seen),
            (Expect::Open, Seen::Open)
                | (Expect::Closed, Seen::Closed)
                | (Expect::Reachable, Seen::Open | Seen::Closed)
                | (Expect::Unreachable, Seen::Unreachable)
        )
    }
}

/// One attempt from the namespace of `pid` (None: the grader's own).
pub fn probe_from(ctx: &Ctx, pid: Option<i32>, addr: SocketAddr) -> Result<(Seen, String), String> {
    netns::in_netns(
        &ctx.proc_root,
        pid,
        move || match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => (Seen::Open, "connected".to_string()),
            Err(e) => (classify(&e), e.to_string()),
        },
    )
}

impl ConnectivityCheck {
    pub fn describe(&self) -> String {
        let what = match self.expect {
            Expect::Open => "accepts a TCP connection",
            Expect::Closed => "refuses a TCP connection (reachable, port closed)",
            Expect::Reachable => "is reachable over TCP",
            Expect::Unreachable => "is unreachable",
        };
        format!("{} {what} from the netns of {}", self.to, self.from)
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let addr: SocketAddr = match self.to.parse() {
            Ok(a) => a,
            Err(e) => return Outcome::fail(expected, format!("{:?}: {e}", self.to)),
        };
        let (pid, who) = match procfs::resolve(ctx, &self.from) {
            Ok(x) => x,
            Err(e) => return Outcome::fail(expected, e),
        };
        match probe_from(ctx, (pid != 0).then_some(pid), addr) {
            Err(e) => Outcome::fail(expected, e),
            Ok((seen, text)) => {
                let observed = format!("from {who}: {} {text}", self.to);
                if self.expect.holds(seen) {
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
    fn open_closed_and_the_matrix_of_expectations() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = tempfile::tempdir().unwrap();
        let hosts = FakeHosts::default();
        let c = ctx(t.path(), &hosts);
        assert_eq!(probe_from(&c, None, addr).unwrap().0, Seen::Open);
        drop(l);
        assert_eq!(probe_from(&c, None, addr).unwrap().0, Seen::Closed);
        let mut chk = ConnectivityCheck {
            from: ProcRef::default(),
            to: addr.to_string(),
            expect: Expect::Closed,
        };
        assert!(chk.probe(&c).passed());
        chk.expect = Expect::Reachable;
        assert!(chk.probe(&c).passed());
        chk.expect = Expect::Open;
        assert!(!chk.probe(&c).passed());
        chk.expect = Expect::Unreachable;
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => assert!(observed.contains("refused"), "{observed}"),
            o => panic!("{o:?}"),
        }
        assert!(Expect::Unreachable.holds(Seen::Unreachable));
        assert!(!Expect::Reachable.holds(Seen::Unreachable));
        let unreach = std::io::Error::from_raw_os_error(libc::ENETUNREACH);
        assert_eq!(classify(&unreach), Seen::Unreachable);
        let timeout = std::io::Error::from(ErrorKind::TimedOut);
        assert_eq!(classify(&timeout), Seen::Unreachable);
    }
}
