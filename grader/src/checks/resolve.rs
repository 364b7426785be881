//! A host name as a process resolves it through its own `/etc/hosts` (libc's "files" source),
//! read through `/proc/<pid>/root`, so the file the container sees, not the engine's copy.
//! This is how `--link` works: the linking container gets an entry, the linked one does not.

use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveCheck {
    pub of: ProcRef,
    pub name: String,
    /// The address it must resolve to (any when absent).
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default = "yes")]
    pub present: bool,
}

fn yes() -> bool {
    true
}

/// The first address whose line names `name` (case-insensitive, as libc compares), as
/// libc's files backend answers.
pub fn lookup(hosts: &str, name: &str) -> Option<IpAddr> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_whitespace();
        let ip: IpAddr = f.next()?.parse().ok()?;
        f.any(|n| n.eq_ignore_ascii_case(name)).then_some(ip)
    })
}

impl ResolveCheck {
    pub fn describe(&self) -> String {
        match (&self.ip, self.present) {
            (_, false) => format!(
                "{} does not resolve {} through /etc/hosts",
                self.of, self.name
            ),
            (Some(ip), true) => format!(
                "{} resolves {} to {ip} through /etc/hosts",
                self.of, self.name
            ),
            (None, true) => format!("{} resolves {} through /etc/hosts", self.of, self.name),
        }
    }

    pub fn validate(&self) -> Result<(), (String, String)> {
        match &self.ip {
            Some(ip) if ip.parse::<IpAddr>().is_err() => {
                Err(("ip".into(), format!("{ip:?} is not an IP address")))
            }
            _ => Ok(()),
        }
    }

    pub fn judge(&self, hosts: &str, who: &str) -> Outcome {
        let expected = self.describe();
        let got = lookup(hosts, &self.name);
        let observed = match got {
            Some(ip) => format!("{who}: {} -> {ip}", self.name),
            None => {
                let lines: Vec<&str> = hosts
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .collect();
                format!(
                    "{who}: no entry for {} in /etc/hosts [{}]",
                    self.name,
                    lines.join(" | ")
                )
            }
        };
        let ok = match (got, self.present) {
            (None, false) => true,
            (Some(_), false) | (None, true) => false,
            (Some(ip), true) => self
                .ip
                .as_ref()
                .is_none_or(|want| want.parse::<IpAddr>().ok() == Some(ip)),
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
        let path = ctx
            .proc_root
            .join(procfs::pid_dir(pid))
            .join("root/etc/hosts");
        match std::fs::read_to_string(&path) {
            Ok(text) => self.judge(&text, &who),
            // No hosts file resolves nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.judge("", &who),
            Err(e) => Outcome::fail(self.describe(), format!("{}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::procfs::fake;
    use crate::checks::testing::{ctx, FakeHosts};

    const LINKED: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n172.17.0.2\thaha 551b2985d420 c1 # link\n172.17.0.3\t1e8cd36da3af\n";

    #[test]
    fn lookup_like_libc_files() {
        assert_eq!(lookup(LINKED, "haha"), Some("172.17.0.2".parse().unwrap()));
        assert_eq!(lookup(LINKED, "C1"), Some("172.17.0.2".parse().unwrap()));
        assert_eq!(lookup(LINKED, "link"), None, "comments are not names");
        assert_eq!(lookup(LINKED, "c2"), None);
    }

    #[test]
    fn reads_the_container_view() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proc");
        fake::process(&p, 100, 1, &["init"], &[("pid", 7)]);
        fake::process(&p, 200, 100, &["sleep", "3602"], &[("pid", 7)]);
        std::fs::create_dir_all(p.join("200/root/etc")).unwrap();
        std::fs::write(p.join("200/root/etc/hosts"), LINKED).unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut chk = ResolveCheck {
            of: ProcRef {
                host: Some("vm1".into()),
                cmdline: Some("^sleep 3602$".into()),
            },
            name: "haha".into(),
            ip: Some("172.17.0.2".into()),
            present: true,
        };
        assert!(chk.probe(&c).passed());
        chk.ip = Some("172.17.0.3".into());
        assert!(!chk.probe(&c).passed());
        chk.ip = None;
        chk.name = "c2".into();
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("no entry for c2"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
        chk.present = false;
        assert!(chk.probe(&c).passed());
        // the host init has no /etc/hosts in this fake tree: nothing resolves
        chk.of.cmdline = None;
        chk.name = "haha".into();
        assert!(chk.probe(&c).passed());
    }
}
