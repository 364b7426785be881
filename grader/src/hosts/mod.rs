//! Virtual hosts: a lab-private LAN (a bridge in its own network namespace) and one host per
//! `[[hosts]]` entry (own net, mount, uts, pid, ipc namespaces; private /var/lib/berth, /run,
//! /etc (overlay, so /etc/berth and /etc/hosts are the host's), /root, /tmp; its own cgroup).
//! Everything is recorded in `<state_root>/<lab id>/state.json` for `reset`.

mod cleanup;
pub mod exec;
mod host;
pub mod hub;
pub mod hub_cache;
pub mod images;
pub mod init;
mod lan;
mod registry_tags;
pub mod state;

pub use cleanup::{leftovers, reset, reset_all, reset_orphans};
pub use state::{HostState, LabState, Proc};

use crate::catalog::Lab;
use crate::checks::{CmdOutput, Hosts};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Helper(String),
    #[error("lab {0} is already running (open a shell with `cargo xtask lab shell {0}`, or `cargo xtask lab reset {0}`)")]
    AlreadyRunning(String),
    #[error("lab {0} is not running (start it with `cargo xtask lab {0}`)")]
    NotRunning(String),
    #[error("lab {lab} has no host {host:?} (hosts: {known})")]
    NoHost {
        lab: String,
        host: String,
        known: String,
    },
    #[error("host {host} is not running any more (its init process died); `cargo xtask lab reset {lab}` and start again")]
    HostDead { lab: String, host: String },
    #[error("cannot find the berth-lab-host helper binary: {0}")]
    NoHelper(String),
    #[error("lab {lab}, host {host}: fixture image {image} is missing ({path}): run `cargo xtask fixtures`")]
    MissingImage {
        lab: String,
        host: String,
        image: String,
        path: String,
    },
    #[error("reset of {dir} left: {what}")]
    Leftovers { dir: String, what: String },
}

pub(crate) fn io(path: impl AsRef<Path>) -> impl FnOnce(std::io::Error) -> HostError {
    let path = path.as_ref().display().to_string();
    move |source| HostError::Io { path, source }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Parent of every lab's state dir (default `target/labs`).
    pub state_root: PathBuf,
    /// The `berth-lab-host` binary.
    pub helper: PathBuf,
    pub proc_root: PathBuf,
    pub cgroup_root: PathBuf,
    /// Where fixture image archives (`<name>.tar`) are found: `$BERTH_FIXTURES/images` by
    /// default; callers that know the workspace set `<workspace>/target/fixtures/images`.
    pub images_dir: Option<PathBuf>,
    /// Where the hub's registry storage is built once per fixture set and shared by every
    /// lab (`hub_cache`): `$BERTH_HUB_CACHE`, else `hub` beside the fixtures dir holding
    /// `images_dir` (`target/fixtures/images` → `target/hub`).
    pub hub_cache: Option<PathBuf>,
    /// The Debian package repository each lab's hub serves over HTTP (`<fixtures>/apt`, built
    /// by `cargo xtask fixtures`): `$BERTH_APT_REPO`, else `apt` beside `images_dir`.
    pub apt_repo: Option<PathBuf>,
    /// Told what provisioning is doing, step by step (the lab command shows it on a spinner).
    pub progress: Progress,
}

/// A sink for "what is happening now" lines while a lab is provisioned; silent by default.
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn(Option<&str>) + Send + Sync>>);

impl Progress {
    /// `f(Some(what))` when a phase starts, `f(None)` when provisioning ended (either way).
    pub fn new(f: impl Fn(Option<&str>) + Send + Sync + 'static) -> Progress {
        Progress(Some(std::sync::Arc::new(f)))
    }
    pub fn say(&self, what: &str) {
        if let Some(f) = &self.0 {
            f(Some(what))
        }
    }
    pub fn finished(&self) {
        if let Some(f) = &self.0 {
            f(None)
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(on)" } else { "Progress(off)" })
    }
}

impl Config {
    pub fn new(state_root: impl Into<PathBuf>, helper: impl Into<PathBuf>) -> Config {
        Config {
            state_root: state_root.into(),
            helper: helper.into(),
            proc_root: "/proc".into(),
            cgroup_root: "/sys/fs/cgroup".into(),
            images_dir: std::env::var_os("BERTH_FIXTURES").map(|f| PathBuf::from(f).join("images")),
            hub_cache: std::env::var_os("BERTH_HUB_CACHE").map(PathBuf::from),
            apt_repo: std::env::var_os("BERTH_APT_REPO").map(PathBuf::from),
            progress: Progress::default(),
        }
    }

    pub fn hub_cache(&self) -> PathBuf {
        if let Some(c) = &self.hub_cache {
            return c.clone();
        }
        let beside = self
            .images_dir
            .as_deref()
            .and_then(|i| i.parent()?.parent());
        beside
            .or_else(|| self.state_root.parent())
            .unwrap_or(Path::new("."))
            .join("hub")
    }

    /// The hub's package repository, if there is one to serve.
    pub fn apt_repo(&self) -> Option<PathBuf> {
        let dir = match &self.apt_repo {
            Some(d) => d.clone(),
            None => self.images_dir.as_deref()?.parent()?.join("apt"),
        };
        dir.is_dir().then_some(dir)
    }

    /// `$BERTH_LAB_HOST`, else `berth-lab-host` next to the running executable (or one level up,
    /// for test binaries in target/debug/deps).
    pub fn find_helper() -> Result<PathBuf, HostError> {
        if let Some(p) = std::env::var_os("BERTH_LAB_HOST") {
            return Ok(p.into());
        }
        let exe = std::env::current_exe().map_err(|e| HostError::NoHelper(e.to_string()))?;
        for dir in exe.ancestors().skip(1).take(2) {
            let c = dir.join("berth-lab-host");
            if c.is_file() {
                return Ok(c);
            }
        }
        Err(HostError::NoHelper(format!(
            "not next to {} (build it with `cargo build -p berth-grader --bins`, or set BERTH_LAB_HOST)",
            exe.display()
        )))
    }

    pub fn lab_dir(&self, lab_id: &str) -> PathBuf {
        self.state_root.join(lab_id)
    }
}

/// A running lab's hosts.
#[derive(Debug)]
pub struct VirtualLab {
    pub state: LabState,
    pub config: Config,
}

impl VirtualLab {
    /// Creates the LAN and every host. On failure, whatever was created is removed again.
    pub fn provision(lab: &Lab, config: &Config) -> Result<VirtualLab, HostError> {
        let dir = config.lab_dir(&lab.id);
        if LabState::file(&dir).exists() {
            match LabState::load(&dir) {
                Ok(s)
                    if s.lan
                        .as_ref()
                        .map(|p| p.alive(&config.proc_root))
                        .unwrap_or(false) =>
                {
                    return Err(HostError::AlreadyRunning(lab.id.clone()))
                }
                _ => {
                    reset(config, &lab.id)?;
                }
            }
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let dir = dir.canonicalize().map_err(io(&dir))?;
        let state = LabState {
            lab_id: lab.id.clone(),
            lab_dir: lab.dir.canonicalize().unwrap_or_else(|_| lab.dir.clone()),
            tag: dir.display().to_string(),
            created: chrono::Utc::now().to_rfc3339(),
            lan: None,
            lan_netns: None,
            hosts: vec![],
            cgroups: vec![],
            dir: dir.clone(),
        };
        state.save().map_err(io(&dir))?;
        let mut vl = VirtualLab {
            state,
            config: config.clone(),
        };
        let built = vl.build(lab);
        config.progress.finished();
        match built {
            Ok(()) => Ok(vl),
            Err(e) => {
                let _ = reset(config, &lab.id);
                Err(e)
            }
        }
    }

    fn build(&mut self, lab: &Lab) -> Result<(), HostError> {
        // Before anything is created: a missing fixture is the student's first error, not a
        // half-built lab.
        let archives = images::archives(lab, self.config.images_dir.as_deref())?;
        let hub = lab.hub_host();
        let say = self.config.progress.clone();
        let hub_storage = match hub {
            Some(_) => {
                say.say("hub registry storage (built once per fixture set, then reused)");
                Some(hub_cache::ensure(&self.config)?)
            }
            None => None,
        };
        say.say("lab LAN");
        lan::start(self, lab)?;
        let suffix: String = format!("{:04x}", rand::random::<u16>());
        let lab_cg = format!("berth-lab-{}-{suffix}", lab.id);
        for h in &lab.hosts {
            say.say(&format!("host {} ({})", h.name, h.address));
            let storage = hub_storage.as_deref().filter(|_| h.is_hub);
            host::start(self, lab, h, &lab_cg, storage)?;
        }
        // The hub first: the other hosts' engines pull through it.
        let mut order: Vec<&crate::catalog::HostSpec> = lab.hosts.iter().collect();
        order.sort_by_key(|h| !h.is_hub);
        for h in order {
            if let (Some(hub), false) = (hub, h.is_hub) {
                let ip = hub.address.split('/').next().unwrap_or_default();
                images::mirror_config(self, h, ip)?;
            }
            for s in &h.services {
                say.say(&format!("{} on {}", s.name, h.name));
                host::start_service(self, lab, h, s)?;
            }
            say.say(&format!("images on {}", h.name));
            if hub.is_some() {
                images::pull(self, h)?;
            } else {
                images::load(self, h, &archives)?;
            }
        }
        Ok(())
    }

    /// Attaches to a running lab (another terminal, `--check`).
    pub fn attach(config: &Config, lab_id: &str) -> Result<VirtualLab, HostError> {
        let dir = config.lab_dir(lab_id);
        let state = LabState::load(&dir).map_err(|_| HostError::NotRunning(lab_id.into()))?;
        if !state
            .lan
            .as_ref()
            .map(|p| p.alive(&config.proc_root))
            .unwrap_or(false)
        {
            return Err(HostError::NotRunning(lab_id.into()));
        }
        Ok(VirtualLab {
            state,
            config: config.clone(),
        })
    }

    pub fn host_state(&self, name: &str) -> Result<&HostState, HostError> {
        let h = self.state.host(name).ok_or_else(|| HostError::NoHost {
            lab: self.state.lab_id.clone(),
            host: name.into(),
            known: self
                .state
                .hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        // A dying init has given up its namespaces before it turns into a zombie.
        let usable = |p: &Proc| {
            p.alive(&self.config.proc_root)
                && crate::checks::procfs::ns_inode(&self.config.proc_root, p.pid, "mnt").is_ok()
        };
        match &h.init {
            Some(p) if usable(p) => Ok(h),
            _ => Err(HostError::HostDead {
                lab: self.state.lab_id.clone(),
                host: name.into(),
            }),
        }
    }

    /// Runs `sh -c cmd` on a host, output captured, killed after `timeout`.
    pub fn run(&self, host: &str, cmd: &str, timeout: Duration) -> Result<CmdOutput, HostError> {
        let out = exec::run(self, self.host_state(host)?, cmd, timeout)?;
        // The helper could not enter the host (126): if the host died meanwhile, say so.
        if out.status == 126 {
            self.host_state(host)?;
        }
        Ok(out)
    }

    /// An interactive login shell on a host, on the caller's terminal.
    pub fn shell(&self, host: &str) -> Result<i32, HostError> {
        exec::shell(self, self.host_state(host)?)
    }

    /// Stops every process and removes every trace of the lab.
    pub fn teardown(self) -> Result<(), HostError> {
        reset(&self.config, &self.state.lab_id)
    }
}

impl Hosts for VirtualLab {
    fn pid(&self, host: &str) -> Option<i32> {
        self.host_state(host)
            .ok()
            .and_then(|h| h.init.as_ref().map(|p| p.pid))
    }
    fn cgroup(&self, host: &str) -> Option<String> {
        self.state.host(host).map(|h| h.cgroup.clone())
    }
    fn run(&self, host: &str, cmd: &str, timeout: Duration) -> Result<CmdOutput, String> {
        VirtualLab::run(self, host, cmd, timeout).map_err(|e| e.to_string())
    }
}
