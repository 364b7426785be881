//! A mount as the kernel reports it in `/proc/<pid>/mountinfo`: fs type, source, the bind
//! source (`root` field), options, and overlay's lowerdir chain, upperdir and workdir.

use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct MountInfo {
    pub root: String,
    pub mountpoint: String,
    pub options: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
    pub line: String,
}

impl MountInfo {
    pub fn super_opt(&self, key: &str) -> Option<&str> {
        self.super_options
            .iter()
            .find_map(|o| o.strip_prefix(key)?.strip_prefix('='))
    }
    pub fn lowerdirs(&self) -> Vec<String> {
        self.super_opt("lowerdir")
            .map(|l| l.split(':').map(String::from).collect())
            .unwrap_or_default()
    }
}

/// Undoes mountinfo's octal escapes (`\040` for space, …).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let mut post = post.splitn(3, ' ');
            if pre.len() < 6 {
                return None;
            }
            Some(MountInfo {
                root: unescape(pre[3]),
                mountpoint: unescape(pre[4]),
                options: pre[5].split(',').map(String::from).collect(),
                fstype: post.next()?.to_string(),
                source: unescape(post.next()?),
                super_options: post.next().unwrap_or("").split(',').map(unescape).collect(),
                line: line.to_string(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MountCheck {
    /// Whose mount namespace to look in.
    pub of: ProcRef,
    pub mountpoint: String,
    #[serde(default = "yes")]
    pub present: bool,
    #[serde(default)]
    pub fstype: Option<String>,
    /// Regex on the mount source.
    #[serde(default)]
    pub source: Option<String>,
    /// The path inside the source filesystem that is mounted (a bind mount's source dir).
    #[serde(default)]
    pub root: Option<String>,
    /// Per-mount options that must be set (e.g. "ro").
    /// Regex on `root`, for bind sources below paths the lab cannot know (a host's private
    /// /root is itself a bind of the lab's state dir, so the kernel shows that full path).
    #[serde(default)]
    pub root_matches: Option<String>,
    #[serde(default)]
    pub options: Vec<String>,
    /// overlay: the exact lowerdir chain, topmost first.
    #[serde(default)]
    pub lowerdir: Option<Vec<String>>,
    #[serde(default)]
    pub upperdir: Option<String>,
    #[serde(default)]
    pub workdir: Option<String>,
    /// overlay: one regex per lower layer, topmost first (the chain's length must match), for
    /// engine-made mounts whose layer ids are random.
    #[serde(default)]
    pub lowerdir_matches: Option<Vec<String>>,
    /// overlay: regexes for the upper and work dirs.
    #[serde(default)]
    pub upperdir_matches: Option<String>,
    #[serde(default)]
    pub workdir_matches: Option<String>,
}

fn yes() -> bool {
    true
}

impl MountCheck {
    pub fn describe(&self) -> String {
        if !self.present {
            return format!("nothing mounted on {} in {}", self.mountpoint, self.of);
        }
        let mut parts = vec![format!("{} mounted in {}", self.mountpoint, self.of)];
        if let Some(t) = &self.fstype {
            parts.push(format!("type {t}"));
        }
        if let Some(r) = &self.root {
            parts.push(format!("root {r}"));
        }
        if let Some(r) = &self.root_matches {
            parts.push(format!("root ~ /{r}/"));
        }
        if let Some(l) = &self.lowerdir {
            parts.push(format!("lowerdir={}", l.join(":")));
        }
        if let Some(u) = &self.upperdir {
            parts.push(format!("upperdir={u}"));
        }
        if let Some(w) = &self.workdir {
            parts.push(format!("workdir={w}"));
        }
        if let Some(l) = &self.lowerdir_matches {
            parts.push(format!("lowerdir ~ /{}/", l.join(":")));
        }
        if let Some(u) = &self.upperdir_matches {
            parts.push(format!("upperdir ~ /{u}/"));
        }
        if let Some(w) = &self.workdir_matches {
            parts.push(format!("workdir ~ /{w}/"));
        }
        if !self.options.is_empty() {
            parts.push(format!("options {}", self.options.join(",")));
        }
        parts.join(", ")
    }

    /// Mismatches between the expectation and one mount.
    fn mismatches(&self, m: &MountInfo) -> Vec<String> {
        let mut bad = Vec::new();
        if let Some(t) = &self.fstype {
            if &m.fstype != t {
                bad.push(format!("fstype {} ≠ {t}", m.fstype));
            }
        }
        if let Some(s) = &self.source {
            if !regex::Regex::new(s)
                .map(|r| r.is_match(&m.source))
                .unwrap_or(false)
            {
                bad.push(format!("source {} !~ /{s}/", m.source));
            }
        }
        if let Some(r) = &self.root {
            if &m.root != r {
                bad.push(format!("root {} ≠ {r}", m.root));
            }
        }
        if let Some(r) = &self.root_matches {
            if !regex::Regex::new(r)
                .map(|re| re.is_match(&m.root))
                .unwrap_or(false)
            {
                bad.push(format!("root {} !~ /{r}/", m.root));
            }
        }
        for o in &self.options {
            if !m.options.contains(o) {
                bad.push(format!("option {o} missing"));
            }
        }
        if let Some(l) = &self.lowerdir {
            if &m.lowerdirs() != l {
                bad.push(format!(
                    "lowerdir {} ≠ {}",
                    m.lowerdirs().join(":"),
                    l.join(":")
                ));
            }
        }
        let re_ok = |re: &str, v: &str| {
            regex::Regex::new(re)
                .map(|r| r.is_match(v))
                .unwrap_or(false)
        };
        if let Some(l) = &self.lowerdir_matches {
            let have = m.lowerdirs();
            if have.len() != l.len() || !have.iter().zip(l).all(|(h, re)| re_ok(re, h)) {
                bad.push(format!(
                    "lowerdir {} !~ /{}/ ({} layers, {} expected)",
                    have.join(":"),
                    l.join(":"),
                    have.len(),
                    l.len()
                ));
            }
        }
        for (k, want) in [
            ("upperdir", &self.upperdir_matches),
            ("workdir", &self.workdir_matches),
        ] {
            if let Some(re) = want {
                let have = m.super_opt(k).unwrap_or("(none)");
                if !re_ok(re, have) {
                    bad.push(format!("{k} {have} !~ /{re}/"));
                }
            }
        }
        for (k, want) in [("upperdir", &self.upperdir), ("workdir", &self.workdir)] {
            if let Some(w) = want {
                if m.super_opt(k) != Some(w.as_str()) {
                    bad.push(format!("{k} {} ≠ {w}", m.super_opt(k).unwrap_or("(none)")));
                }
            }
        }
        bad
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let (pid, who) = match procfs::resolve(ctx, &self.of) {
            Ok(x) => x,
            Err(e) => return Outcome::fail(expected, e),
        };
        let path = ctx.proc_root.join(procfs::pid_dir(pid)).join("mountinfo");
        let text = match procfs::read(&path) {
            Ok(t) => t,
            Err(e) => return Outcome::fail(expected, e),
        };
        let mounts = parse_mountinfo(&text);
        // The last entry for a mountpoint is the one on top, the one paths resolve to.
        let top = mounts
            .iter()
            .rev()
            .find(|m| m.mountpoint == self.mountpoint);
        match (top, self.present) {
            (None, false) => Outcome::pass(format!("no mount on {} in {who}", self.mountpoint)),
            (Some(m), false) => Outcome::fail(expected, m.line.clone()),
            (None, true) => Outcome::fail(
                expected,
                format!("no mount on {} in {who}'s mountinfo", self.mountpoint),
            ),
            (Some(m), true) => {
                let bad = self.mismatches(m);
                if bad.is_empty() {
                    Outcome::pass(m.line.clone())
                } else {
                    Outcome::fail(expected, format!("{} ({})", m.line, bad.join("; ")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::procfs::fake;
    use crate::checks::testing::{ctx, FakeHosts};

    const MI: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /mnt/ovl rw,relatime - overlay overlay rw,lowerdir=/l/b:/l/a,upperdir=/u,workdir=/w
31 22 8:1 /srv/data /mnt/my\\040data ro,relatime - ext4 /dev/sda1 rw
";

    #[test]
    fn parses_overlay_and_escapes() {
        let m = parse_mountinfo(MI);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].lowerdirs(), vec!["/l/b", "/l/a"]);
        assert_eq!(m[1].super_opt("upperdir"), Some("/u"));
        assert_eq!(m[2].mountpoint, "/mnt/my data");
        assert_eq!(m[2].root, "/srv/data");
    }

    #[test]
    fn checks_chain_order_and_reports_line() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proc");
        fake::process(&p, 100, 1, &["init"], &[("pid", 7)]);
        std::fs::write(p.join("100/mountinfo"), MI).unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut chk = MountCheck {
            of: ProcRef {
                host: Some("vm1".into()),
                cmdline: None,
            },
            mountpoint: "/mnt/ovl".into(),
            present: true,
            fstype: Some("overlay".into()),
            source: None,
            root: None,
            root_matches: None,
            options: vec![],
            lowerdir: Some(vec!["/l/b".into(), "/l/a".into()]),
            upperdir: Some("/u".into()),
            workdir: Some("/w".into()),
            lowerdir_matches: None,
            upperdir_matches: None,
            workdir_matches: None,
        };
        assert!(chk.probe(&c).passed());
        let patterns = MountCheck {
            lowerdir: None,
            upperdir: None,
            lowerdir_matches: Some(vec!["^/l/[a-z]$".into(), "^/l/a$".into()]),
            upperdir_matches: Some("^/u$".into()),
            ..chk.clone()
        };
        assert!(patterns.probe(&c).passed());
        let one_layer = MountCheck {
            lowerdir_matches: Some(vec!["^/l/[a-z]$".into()]),
            ..patterns.clone()
        };
        match one_layer.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("2 layers, 1 expected"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
        chk.lowerdir = Some(vec!["/l/a".into(), "/l/b".into()]);
        match chk.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(
                    observed.starts_with("30 22 0:40")
                        && observed.contains("lowerdir /l/b:/l/a ≠ /l/a:/l/b"),
                    "{observed}"
                )
            }
            o => panic!("{o:?}"),
        }
        let bind = MountCheck {
            mountpoint: "/mnt/my data".into(),
            fstype: None,
            lowerdir: None,
            upperdir: None,
            workdir: None,
            root: Some("/srv/data".into()),
            options: vec!["ro".into()],
            ..chk.clone()
        };
        assert!(bind.probe(&c).passed());
        let elsewhere = MountCheck {
            root: None,
            root_matches: Some("/data$".into()),
            ..bind.clone()
        };
        assert!(elsewhere.probe(&c).passed());
        let other = MountCheck {
            root_matches: Some("/www$".into()),
            ..elsewhere
        };
        match other.probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.contains("root /srv/data !~ //www$/"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
        let absent = MountCheck {
            present: false,
            ..bind
        };
        assert!(!absent.probe(&c).passed());
    }
}
