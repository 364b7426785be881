//! A cgroup limit file's value, for cgroup v1 (`<root>/<controller>/<path>/<file>`) and v2
//! (`<root>/<path>/<file>`, or `<root>/unified/…` on hybrid machines).

use super::{procfs, Ctx, Outcome, ProcRef};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupCheck {
    pub controller: String,
    /// The cgroup of this process…
    #[serde(default)]
    pub of: Option<ProcRef>,
    /// …or the cgroup `path` below this host's own cgroup.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// The v1 file name (e.g. memory.limit_in_bytes).
    pub file: String,
    /// The v2 file name if it differs (e.g. memory.max).
    #[serde(default)]
    pub file_v2: Option<String>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub matches: Option<String>,
}

pub fn validate_target(
    of: Option<&ProcRef>,
    host: Option<&str>,
    path: Option<&str>,
) -> Result<(), String> {
    match (of, host) {
        (Some(_), None) if path.is_none() => Ok(()),
        (None, Some(_)) => Ok(()),
        _ => Err(
            "give either `of` (a process) or `host` (+ optional `path` below the host's cgroup)"
                .into(),
        ),
    }
}

/// A resolved cgroup directory, and whether it is a v2 one.
pub struct CgroupDir {
    pub dir: PathBuf,
    pub v2: bool,
}

/// Finds the cgroup directory of a process or of a host-relative path, for `controller`.
pub fn locate(
    ctx: &Ctx,
    controller: &str,
    of: Option<&ProcRef>,
    host: Option<&str>,
    path: Option<&str>,
) -> Result<(CgroupDir, String), String> {
    let v1_root = ctx.cgroup_root.join(controller);
    let v1 = v1_root.is_dir();
    let rel = if let Some(r) = of {
        let (pid, who) = procfs::resolve(ctx, r)?;
        let lines = procfs::cgroups(&ctx.proc_root, pid)?;
        let line = if v1 {
            lines
                .iter()
                .find(|(_, c, _)| c.split(',').any(|c| c == controller))
        } else {
            lines.iter().find(|(id, c, _)| id == "0" && c.is_empty())
        };
        let (_, _, p) = line.ok_or_else(|| format!("{who} is in no {controller} cgroup"))?;
        (p.clone(), who)
    } else {
        let h = host.unwrap_or_default();
        let base = ctx
            .hosts
            .cgroup(h)
            .ok_or_else(|| format!("host {h} has no cgroup (not running?)"))?;
        let mut p = format!("/{base}");
        if let Some(sub) = path {
            p = format!("{p}/{}", sub.trim_start_matches('/'));
        }
        (p, format!("host {h}"))
    };
    let rel_path = rel.0.trim_start_matches('/');
    let dir = if v1 {
        v1_root.join(rel_path)
    } else if ctx.cgroup_root.join("unified/cgroup.controllers").exists()
        && !ctx.cgroup_root.join("cgroup.controllers").exists()
    {
        ctx.cgroup_root.join("unified").join(rel_path)
    } else {
        ctx.cgroup_root.join(rel_path)
    };
    Ok((CgroupDir { dir, v2: !v1 }, rel.1))
}

impl CgroupCheck {
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
        let want = match (&self.equals, &self.matches) {
            (Some(v), _) => format!("= {v}"),
            (None, Some(r)) => format!("~ /{r}/"),
            _ => "exists".into(),
        };
        format!("{} {} of {target} {want}", self.controller, self.file)
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let (cg, who) = match locate(
            ctx,
            &self.controller,
            self.of.as_ref(),
            self.host.as_deref(),
            self.path.as_deref(),
        ) {
            Ok(x) => x,
            Err(e) => return Outcome::fail(expected, e),
        };
        let file = if cg.v2 {
            self.file_v2.as_ref().unwrap_or(&self.file)
        } else {
            &self.file
        };
        let path = cg.dir.join(file);
        let value = match procfs::read(&path) {
            Ok(v) => v.trim().to_string(),
            Err(e) => return Outcome::fail(expected, format!("{who}: {e}")),
        };
        let observed = format!("{} = {value}", path.display());
        let ok = match (&self.equals, &self.matches) {
            (Some(v), _) => &value == v,
            (None, Some(r)) => regex::Regex::new(r)
                .map(|r| r.is_match(&value))
                .unwrap_or(false),
            _ => true,
        };
        if ok {
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

    fn check(of: Option<ProcRef>, host: Option<&str>, path: Option<&str>) -> CgroupCheck {
        CgroupCheck {
            controller: "pids".into(),
            of,
            host: host.map(Into::into),
            path: path.map(Into::into),
            file: "pids.max".into(),
            file_v2: None,
            equals: Some("5".into()),
            matches: None,
        }
    }

    #[test]
    fn v1_by_process_and_by_host_path() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proc");
        fake::process(&p, 100, 1, &["init"], &[("pid", 7)]);
        fake::process(&p, 200, 100, &["sleep", "3002"], &[("pid", 7)]);
        std::fs::write(
            p.join("200/cgroup"),
            "5:pids:/lab/vm1/limited\n4:memory:/lab/vm1\n0::/\n",
        )
        .unwrap();
        let d = t.path().join("cgroup/pids/lab/vm1/limited");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("pids.max"), "5\n").unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            cgroups: [("vm1".to_string(), "lab/vm1".to_string())].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let of = ProcRef {
            host: Some("vm1".into()),
            cmdline: Some("^sleep 3002".into()),
        };
        assert!(check(Some(of), None, None).probe(&c).passed());
        assert!(check(None, Some("vm1"), Some("limited")).probe(&c).passed());
        std::fs::write(d.join("pids.max"), "max\n").unwrap();
        match check(None, Some("vm1"), Some("limited")).probe(&c) {
            Outcome::Fail { observed, .. } => {
                assert!(observed.ends_with("pids.max = max"), "{observed}")
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn v2_uses_unified_path_and_v2_file_name() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("proc");
        fake::process(&p, 100, 1, &["init"], &[("pid", 7)]);
        std::fs::write(p.join("100/cgroup"), "0::/lab/vm1\n").unwrap();
        let d = t.path().join("cgroup/lab/vm1");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(t.path().join("cgroup/cgroup.controllers"), "memory pids\n").unwrap();
        std::fs::write(d.join("memory.max"), "8388608\n").unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let chk = CgroupCheck {
            controller: "memory".into(),
            of: Some(ProcRef {
                host: Some("vm1".into()),
                cmdline: None,
            }),
            host: None,
            path: None,
            file: "memory.limit_in_bytes".into(),
            file_v2: Some("memory.max".into()),
            equals: Some("8388608".into()),
            matches: None,
        };
        assert!(chk.probe(&c).passed(), "{:?}", chk.probe(&c));
    }
}
