//! Checks read kernel truth (proc, cgroupfs, sockets from inside a namespace), one kind per file.
//! `probe` evaluates a check once; `latch::Latch` adds retry-until-deadline and latching.

pub mod address;
pub mod cgroup;
pub mod command;
pub mod connectivity;
pub mod engine;
pub mod environ;
pub mod events;
pub mod file;
pub mod glob;
pub mod http;
pub mod latch;
pub mod link;
pub mod mount;
pub mod mysql;
pub mod namespace;
pub mod netlink;
pub mod netns;
pub mod oom;
pub mod process;
pub mod procfs;
pub mod quiz;
pub mod resolve;
pub mod route;
pub mod tcp;
pub mod uname;

use crate::catalog::QuizItem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckSpec {
    Namespace(namespace::NamespaceCheck),
    Cgroup(cgroup::CgroupCheck),
    OomKill(oom::OomCheck),
    Mount(mount::MountCheck),
    File(file::FileCheck),
    Process(process::ProcessCheck),
    Tcp(tcp::TcpCheck),
    Http(http::HttpCheck),
    Command(command::CommandCheck),
    Quiz(quiz::QuizCheck),
    Engine(engine::EngineCheck),
    Link(link::LinkCheck),
    Address(address::AddressCheck),
    Route(route::RouteCheck),
    Connectivity(connectivity::ConnectivityCheck),
    Resolve(resolve::ResolveCheck),
    Environ(environ::EnvironCheck),
    Uname(uname::UnameCheck),
    EngineEvents(events::EngineEventsCheck),
    Mysql(mysql::MysqlCheck),
}

/// A process: a host's init (`host` only), a process on a host by command line regex, or the
/// machine itself (neither).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcRef {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub cmdline: Option<String>,
}

impl std::fmt::Display for ProcRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.host, &self.cmdline) {
            (Some(h), Some(c)) => write!(f, "process /{c}/ on {h}"),
            (Some(h), None) => write!(f, "host {h}"),
            (None, Some(c)) => write!(f, "process /{c}/ on the machine"),
            (None, None) => write!(f, "the machine"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Pass { observed: String },
    Fail { expected: String, observed: String },
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass { .. })
    }
    pub fn fail(expected: impl Into<String>, observed: impl Into<String>) -> Outcome {
        Outcome::Fail {
            expected: expected.into(),
            observed: observed.into(),
        }
    }
    pub fn pass(observed: impl Into<String>) -> Outcome {
        Outcome::Pass {
            observed: observed.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CmdOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// What checks need to know about a running lab; the runner implements it over real hosts,
/// unit tests over fakes.
pub trait Hosts: Sync {
    /// Global pid of the host's init process.
    fn pid(&self, host: &str) -> Option<i32>;
    /// The host's cgroup, relative to each hierarchy's root (e.g. "berth-lab-x-1a2b/vm1").
    fn cgroup(&self, host: &str) -> Option<String>;
    /// Runs `sh -c cmd` inside the host.
    fn run(&self, host: &str, cmd: &str, timeout: Duration) -> Result<CmdOutput, String>;
}

pub struct Ctx<'a> {
    pub proc_root: PathBuf,
    pub cgroup_root: PathBuf,
    pub hosts: &'a dyn Hosts,
    pub quiz: &'a [QuizItem],
    /// The student's quiz answers: item id -> letter.
    pub answers: BTreeMap<String, String>,
}

impl CheckSpec {
    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        match self {
            CheckSpec::Namespace(c) => c.probe(ctx),
            CheckSpec::Cgroup(c) => c.probe(ctx),
            CheckSpec::OomKill(c) => c.probe(ctx),
            CheckSpec::Mount(c) => c.probe(ctx),
            CheckSpec::File(c) => c.probe(ctx),
            CheckSpec::Process(c) => c.probe(ctx),
            CheckSpec::Tcp(c) => c.probe(ctx),
            CheckSpec::Http(c) => c.probe(ctx),
            CheckSpec::Command(c) => c.probe(ctx),
            CheckSpec::Quiz(c) => c.probe(ctx),
            CheckSpec::Engine(c) => c.probe(ctx),
            CheckSpec::Link(c) => c.probe(ctx),
            CheckSpec::Address(c) => c.probe(ctx),
            CheckSpec::Route(c) => c.probe(ctx),
            CheckSpec::Connectivity(c) => c.probe(ctx),
            CheckSpec::Resolve(c) => c.probe(ctx),
            CheckSpec::Environ(c) => c.probe(ctx),
            CheckSpec::Uname(c) => c.probe(ctx),
            CheckSpec::EngineEvents(c) => c.probe(ctx),
            CheckSpec::Mysql(c) => c.probe(ctx),
        }
    }

    /// A one-line description for reports ("pid namespace of … differs from host vm1").
    pub fn describe(&self) -> String {
        match self {
            CheckSpec::Namespace(c) => c.describe(),
            CheckSpec::Cgroup(c) => c.describe(),
            CheckSpec::OomKill(c) => c.describe(),
            CheckSpec::Mount(c) => c.describe(),
            CheckSpec::File(c) => c.describe(),
            CheckSpec::Process(c) => c.describe(),
            CheckSpec::Tcp(c) => c.describe(),
            CheckSpec::Http(c) => c.describe(),
            CheckSpec::Command(c) => c.describe(),
            CheckSpec::Quiz(c) => c.describe(),
            CheckSpec::Engine(c) => c.describe(),
            CheckSpec::Link(c) => c.describe(),
            CheckSpec::Address(c) => c.describe(),
            CheckSpec::Route(c) => c.describe(),
            CheckSpec::Connectivity(c) => c.describe(),
            CheckSpec::Resolve(c) => c.describe(),
            CheckSpec::Environ(c) => c.describe(),
            CheckSpec::Uname(c) => c.describe(),
            CheckSpec::EngineEvents(c) => c.describe(),
            CheckSpec::Mysql(c) => c.describe(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Namespace(_) => "namespace",
            CheckSpec::Cgroup(_) => "cgroup",
            CheckSpec::OomKill(_) => "oom_kill",
            CheckSpec::Mount(_) => "mount",
            CheckSpec::File(_) => "file",
            CheckSpec::Process(_) => "process",
            CheckSpec::Tcp(_) => "tcp",
            CheckSpec::Http(_) => "http",
            CheckSpec::Command(_) => "command",
            CheckSpec::Quiz(_) => "quiz",
            CheckSpec::Engine(_) => "engine",
            CheckSpec::Link(_) => "link",
            CheckSpec::Address(_) => "address",
            CheckSpec::Route(_) => "route",
            CheckSpec::Connectivity(_) => "connectivity",
            CheckSpec::Resolve(_) => "resolve",
            CheckSpec::Environ(_) => "environ",
            CheckSpec::Uname(_) => "uname",
            CheckSpec::EngineEvents(_) => "engine_events",
            CheckSpec::Mysql(_) => "mysql",
        }
    }

    /// (sub-field, host name) pairs this check refers to, for validation.
    pub fn host_refs(&self) -> Vec<(String, String)> {
        let pr = |f: &str, r: &ProcRef| r.host.clone().map(|h| (format!("{f}.host"), h));
        let h = |f: &str, h: &str| Some((f.to_string(), h.to_string()));
        let v: Vec<Option<(String, String)>> = match self {
            CheckSpec::Namespace(c) => vec![pr("a", &c.a), pr("b", &c.b)],
            CheckSpec::Cgroup(c) => vec![
                c.of.as_ref().and_then(|r| pr("of", r)),
                c.host.as_deref().and_then(|x| h("host", x)),
            ],
            CheckSpec::OomKill(c) => vec![
                c.of.as_ref().and_then(|r| pr("of", r)),
                c.host.as_deref().and_then(|x| h("host", x)),
            ],
            CheckSpec::Mount(c) => vec![pr("of", &c.of)],
            CheckSpec::File(c) => vec![h("host", &c.host)],
            CheckSpec::Process(c) => vec![h("host", &c.host)],
            CheckSpec::Tcp(c) => vec![h("from", &c.from)],
            CheckSpec::Http(c) => vec![h("from", &c.from)],
            CheckSpec::Command(c) => vec![h("host", &c.host)],
            CheckSpec::Quiz(_) => vec![],
            CheckSpec::Engine(c) => vec![h("host", &c.host)],
            CheckSpec::Link(c) => vec![
                pr("of", &c.of),
                c.peer.as_ref().and_then(|p| pr("peer.of", &p.of)),
            ],
            CheckSpec::Address(c) => vec![pr("of", &c.of)],
            CheckSpec::Route(c) => vec![pr("of", &c.of)],
            CheckSpec::Connectivity(c) => vec![pr("from", &c.from)],
            CheckSpec::Resolve(c) => vec![pr("of", &c.of)],
            CheckSpec::Environ(c) => vec![pr("of", &c.of)],
            CheckSpec::Uname(c) => vec![pr("of", &c.of), pr("same_as", &c.same_as)],
            CheckSpec::EngineEvents(c) => vec![h("host", &c.host)],
            CheckSpec::Mysql(c) => vec![h("from", &c.from)],
        };
        v.into_iter().flatten().collect()
    }

    pub fn quiz_items(&self) -> Vec<String> {
        match self {
            CheckSpec::Quiz(q) => vec![q.item.clone()],
            _ => vec![],
        }
    }

    /// Static validation of regexes and values: Err((sub-field, message)).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let re = |f: &str, r: &Option<String>| match r {
            Some(r) => regex::Regex::new(r)
                .map(|_| ())
                .map_err(|e| (f.to_string(), format!("bad regex: {e}"))),
            None => Ok(()),
        };
        match self {
            CheckSpec::Namespace(c) => {
                re("a.cmdline", &c.a.cmdline)?;
                re("b.cmdline", &c.b.cmdline)?;
                namespace::validate_ns(&c.ns).map_err(|m| ("ns".to_string(), m))
            }
            CheckSpec::Cgroup(c) => {
                re("matches", &c.matches)?;
                cgroup::validate_target(c.of.as_ref(), c.host.as_deref(), c.path.as_deref())
                    .map_err(|m| ("of".to_string(), m))
            }
            CheckSpec::OomKill(c) => {
                cgroup::validate_target(c.of.as_ref(), c.host.as_deref(), c.path.as_deref())
                    .map_err(|m| ("of".to_string(), m))
            }
            CheckSpec::Mount(c) => {
                re("source", &c.source)?;
                re("root_matches", &c.root_matches)
            }
            CheckSpec::File(c) => re("content", &c.content),
            CheckSpec::Process(c) => re("cmdline", &Some(c.cmdline.clone())),
            CheckSpec::Http(c) => re("body", &c.body),
            CheckSpec::Command(c) => re("stdout", &c.stdout),
            CheckSpec::Tcp(c) => {
                c.to.parse::<std::net::SocketAddr>()
                    .map(|_| ())
                    .map_err(|e| ("to".into(), format!("{e}")))
            }
            CheckSpec::Link(c) => {
                re("of.cmdline", &c.of.cmdline)?;
                re("name", &Some(c.name.clone()))
            }
            CheckSpec::Address(c) => {
                re("of.cmdline", &c.of.cmdline)?;
                netlink::parse_ip_prefix(&c.ip)
                    .map(|_| ())
                    .map_err(|e| ("ip".into(), e))
            }
            CheckSpec::Route(c) => {
                re("of.cmdline", &c.of.cmdline)?;
                c.validate()
            }
            CheckSpec::Connectivity(c) => {
                re("from.cmdline", &c.from.cmdline)?;
                c.to.parse::<std::net::SocketAddr>()
                    .map(|_| ())
                    .map_err(|e| ("to".into(), format!("{e}")))
            }
            CheckSpec::Resolve(c) => {
                re("of.cmdline", &c.of.cmdline)?;
                c.validate()
            }
            CheckSpec::Environ(c) => {
                re("of.cmdline", &c.of.cmdline)?;
                re("value", &c.value)
            }
            CheckSpec::Engine(c) => re("matches", &c.matches),
            CheckSpec::Uname(c) => {
                re("of.cmdline", &c.of.cmdline)?;
                re("same_as.cmdline", &c.same_as.cmdline)
            }
            CheckSpec::EngineEvents(c) => c.validate(),
            CheckSpec::Mysql(c) => c.validate(),
            CheckSpec::Quiz(_) => Ok(()),
        }
    }
}

#[cfg(test)]
pub mod testing {
    //! A fake `Hosts` for unit tests.
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct FakeHosts {
        pub pids: BTreeMap<String, i32>,
        pub cgroups: BTreeMap<String, String>,
        pub outputs: Mutex<Vec<CmdOutput>>,
    }

    impl Hosts for FakeHosts {
        fn pid(&self, host: &str) -> Option<i32> {
            self.pids.get(host).copied()
        }
        fn cgroup(&self, host: &str) -> Option<String> {
            self.cgroups.get(host).cloned()
        }
        fn run(&self, _host: &str, _cmd: &str, _t: Duration) -> Result<CmdOutput, String> {
            self.outputs
                .lock()
                .unwrap()
                .pop()
                .ok_or_else(|| "no output scripted".to_string())
        }
    }

    pub fn ctx<'a>(root: &std::path::Path, hosts: &'a FakeHosts) -> Ctx<'a> {
        Ctx {
            proc_root: root.join("proc"),
            cgroup_root: root.join("cgroup"),
            hosts,
            quiz: &[],
            answers: BTreeMap::new(),
        }
    }
}
