//! The classic builder's dispatcher (moby `builder/dockerfile`): stages, steps, build args, the
//! cache probe before every step, and what each instruction does to the image being built.
//!
//! Every step ends as an image whose `container_config.Cmd` encodes the step
//! (`#(nop)  ENV A=1`, `|1 X=y /bin/sh -c make`): that is both its `docker history` line and
//! its cache key ([`Backend::cached_child`]).

use std::collections::BTreeMap;
use std::time::Duration;

use berth_storage::ContainerConfig;
use serde_json::{json, Value};

use crate::backend::{Backend, BackendError, Commit, Output};
use crate::context::Context;
use crate::copy::{self, CopyError};
use crate::dockerfile::shell_lex::ShellLex;
use crate::dockerfile::{self, ArgDecl, CmdLine, Command, CopySpec, Dockerfile, Health, Instruction, KeyValue, ParseError, Stage};
use crate::gofmt;

/// `PATH` the classic builder adds when the base image has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Build args every Dockerfile may use without declaring them.
const BUILTIN_ARGS: [&str; 8] = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"];

#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// `-f`: the Dockerfile's path inside the context.
    pub dockerfile: String,
    /// `-t` (each `name[:tag]`).
    pub tags: Vec<String>,
    /// `--build-arg K=V` (`None`: `--build-arg K` with no value and none in the client's env).
    pub build_args: BTreeMap<String, Option<String>>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    /// `--rm` (default true): remove step containers after each successful step.
    pub remove: bool,
    /// `--force-rm`: remove them even when the step failed.
    pub force_remove: bool,
    pub labels: BTreeMap<String, String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            dockerfile: "Dockerfile".into(),
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            remove: true,
            force_remove: false,
            labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Found before anything was built (400 from `POST /build`).
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Invalid(String),
    /// A step failed.
    #[error("{0}")]
    Step(String),
    /// A RUN exited non-zero: `The command '/bin/sh -c false' returned a non-zero code: 1`.
    #[error("{message}")]
    Run { message: String, code: i64 },
    #[error("{0}")]
    Backend(#[from] BackendError),
}

impl BuildError {
    /// The exit code `docker build` should end with.
    pub fn code(&self) -> i64 {
        match self {
            BuildError::Run { code, .. } => *code,
            _ => 1,
        }
    }
}

fn step_err(e: impl std::fmt::Display) -> BuildError {
    BuildError::Step(e.to_string())
}

/// Build args of one stage (moby's `BuildArgs`).
#[derive(Clone, Debug, Default)]
struct Args {
    /// Declared in this stage: name → default.
    allowed: BTreeMap<String, Option<String>>,
    /// Declared before the first FROM: name → value (after `--build-arg`).
    meta: BTreeMap<String, Option<String>>,
}

impl Args {
    fn value(&self, key: &str, from_opts: &BTreeMap<String, Option<String>>) -> Option<String> {
        if let Some(Some(v)) = from_opts.get(key) {
            return Some(v.clone());
        }
        match self.allowed.get(key) {
            Some(Some(d)) => Some(d.clone()),
            _ => self.meta.get(key).cloned().flatten(),
        }
    }

    /// `K=V` for every declared arg with a value (and builtin ones given on the command line),
    /// except those the image's ENV sets.
    fn filter_allowed(&self, env: &[String], from_opts: &BTreeMap<String, Option<String>>) -> Vec<String> {
        let mut keys: Vec<&String> = self.allowed.keys().collect();
        for b in from_opts.keys().filter(|k| BUILTIN_ARGS.contains(&k.as_str())) {
            if !keys.contains(&b) {
                keys.push(b);
            }
        }
        keys.sort();
        let mut out = Vec::new();
        for k in keys {
            if env.iter().any(|e| e.split('=').next() == Some(k.as_str())) {
                continue;
            }
            if let Some(v) = self.value(k, from_opts) {
                out.push(format!("{k}={v}"));
            }
        }
        out
    }
}

/// The state of the stage being built.
struct State {
    image_id: String,
    /// The `config` of `image_id` (what dockerd merges into a step container's config).
    image_config: ContainerConfig,
    config: ContainerConfig,
    maintainer: String,
    args: Args,
    cmd_set: bool,
}

impl State {
    fn shell(&self) -> Vec<String> {
        match &self.config.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => vec!["/bin/sh".into(), "-c".into()],
        }
    }

    fn env(&self) -> Vec<String> {
        self.config.env.clone().unwrap_or_default()
    }
}

/// The result of a build.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub image_id: String,
}

pub struct Builder<'a> {
    backend: &'a dyn Backend,
    ctx: &'a Context,
    opts: &'a BuildOptions,
    out: &'a mut dyn Output,
    lex: ShellLex,
    /// Image of each finished stage, by index, and its name.
    stages: Vec<(Option<String>, String)>,
    /// Build args some ARG declared (for the "not consumed" warning).
    referenced: std::collections::BTreeSet<String>,
    /// Step containers still to remove (moby's `containerManager`).
    tmp_containers: Vec<String>,
}

fn short(id: &str) -> &str {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    &h[..h.len().min(12)]
}

/// Read the Dockerfile from the context (`dockerfile` falls back to `Dockerfile` and back, as
/// Docker does for the default name) and parse it.
pub fn read_dockerfile(ctx: &Context, name: &str) -> Result<Dockerfile, BuildError> {
    let clean = copy::clean_source(name).ok_or_else(|| BuildError::Invalid(format!("Cannot locate specified Dockerfile: {name}")))?;
    let mut bytes = ctx.root().read_small(&clean, 64 << 20).map_err(|e| BuildError::Invalid(format!("{name}: {e}")))?;
    let mut read = clean.clone();
    if bytes.is_none() && name == "Dockerfile" {
        bytes = ctx.root().read_small("dockerfile", 64 << 20).map_err(|e| BuildError::Invalid(format!("{name}: {e}")))?;
        read = "dockerfile".into();
    }
    let Some(bytes) = bytes else {
        return Err(BuildError::Invalid(format!("Cannot locate specified Dockerfile: {name}")));
    };
    if bytes.is_empty() {
        return Err(BuildError::Invalid(format!("the Dockerfile ({name}) cannot be empty")));
    }
    // `-f` files are named in Docker's "failed to parse <name>: …" errors.
    let df = dockerfile::parse(&bytes).map_err(|e| BuildError::Invalid(e.docker_message(name)))?;
    remove_ignored(ctx, &read)?;
    Ok(df)
}

/// moby's `removeDockerfile`: once the Dockerfile is read, `.dockerignore` and the Dockerfile
/// leave the context when `.dockerignore` excludes them (the client always sends both, and a
/// Dockerfile given with `-f` from outside the context arrives under a random name that the
/// client adds to `.dockerignore`), so `COPY . /app` does not copy them.
fn remove_ignored(ctx: &Context, dockerfile: &str) -> Result<(), BuildError> {
    let Some(text) = ctx.root().read_small(".dockerignore", 64 << 20).map_err(|e| BuildError::Invalid(format!(".dockerignore: {e}")))? else {
        return Ok(());
    };
    let ignore = crate::dockerignore::DockerIgnore::parse(&text).map_err(|e| BuildError::Invalid(e.to_string()))?;
    for f in [".dockerignore", dockerfile] {
        if ignore.is_excluded(f) {
            ctx.remove(f).map_err(|e| BuildError::Invalid(format!("removing {f} from the build context: {e}")))?;
        }
    }
    Ok(())
}

impl<'a> Builder<'a> {
    pub fn new(backend: &'a dyn Backend, ctx: &'a Context, opts: &'a BuildOptions, out: &'a mut dyn Output) -> Self {
        Builder { backend, ctx, opts, out, lex: ShellLex { escape: '\\' }, stages: Vec::new(), referenced: Default::default(), tmp_containers: Vec::new() }
    }

    fn say(&mut self, s: &str) -> Result<(), BuildError> {
        Ok(self.out.stream(s)?)
    }

    /// Run the whole build: every stage up to `--target`, then the tags.
    pub fn build(&mut self, mut df: Dockerfile) -> Result<Built, BuildError> {
        self.lex = ShellLex { escape: df.escape };
        if df.stages.is_empty() {
            return Err(BuildError::Invalid("file with no instructions".into()));
        }
        if let Some(t) = self.opts.target.as_deref().filter(|t| !t.is_empty()) {
            let t = t.to_lowercase();
            let Some(i) = df.stages.iter().position(|s| s.name.as_deref() == Some(t.as_str())) else {
                return Err(BuildError::Invalid(format!("failed to reach build target {t} in Dockerfile")));
            };
            df.stages.truncate(i + 1);
        } else if !self.opts.labels.is_empty() {
            // `--label` becomes a last LABEL step (moby's `NodeFromLabels`, keys sorted).
            let kvs: Vec<KeyValue> = self.opts.labels.iter().map(|(k, v)| KeyValue { key: gofmt::quote(k), value: format!("'{v}'") }).collect();
            let original = format!("LABEL {}", self.opts.labels.iter().map(|(k, v)| format!("{}='{v}'", gofmt::quote(k))).collect::<Vec<_>>().join(" "));
            let last = df.stages.last_mut().expect("checked above");
            let line = last.commands.last().map(|c| c.source.end_line).unwrap_or(last.source.end_line);
            last.commands.push(Command {
                source: dockerfile::Source { start_line: line, end_line: line, original },
                instruction: Instruction::Label(kvs),
            });
        }
        let total = df.meta_args.len() + df.stages.iter().map(|s| 1 + s.commands.len()).sum::<usize>();
        let mut step = 0usize;
        // Meta args: declared before FROM, usable in FROM lines.
        let mut meta: BTreeMap<String, Option<String>> = BTreeMap::new();
        for a in &df.meta_args {
            step += 1;
            self.say(&format!("Step {step}/{total} : ARG {}\n", arg_text(a)))?;
            let env: Vec<String> = meta.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
            let default = a.default.as_ref().map(|d| self.expand(d, &env)).transpose()?;
            let v = match self.opts.build_args.get(&a.name) {
                Some(Some(v)) => Some(v.clone()),
                _ => default,
            };
            self.referenced.insert(a.name.clone());
            meta.insert(a.name.clone(), v);
        }
        let mut state: Option<State> = None;
        for stage in &df.stages {
            step += 1;
            self.say(&format!("Step {step}/{total} : {}\n", stage.source.original))?;
            let mut st = self.from(stage, &meta)?;
            st.config.image = st.image_id.clone();
            if let Some(triggers) = st.config.on_build.take().filter(|t| !t.is_empty()) {
                self.triggers(&mut st, &triggers)?;
                st.config.image = st.image_id.clone();
            }
            // After the base image's triggers, as moby prints it: the stage's image so far.
            self.say(&format!(" ---> {}\n", short(&st.image_id)))?;
            for cmd in &stage.commands {
                step += 1;
                self.say(&format!("Step {step}/{total} : {}\n", cmd.source.original))?;
                self.dispatch_with_cleanup(&mut st, &cmd.instruction)?;
                st.config.image = st.image_id.clone();
                self.say(&format!(" ---> {}\n", short(&st.image_id)))?;
            }
            self.out.aux(&st.image_id)?;
            self.stages.push((stage.name.clone(), st.image_id.clone()));
            state = Some(st);
        }
        let unused: Vec<&String> = self.opts.build_args.keys().filter(|k| !self.referenced.contains(*k) && !BUILTIN_ARGS.contains(&k.as_str())).collect();
        if !unused.is_empty() {
            let list = unused.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
            self.say(&format!("[Warning] One or more build-args [{list}] were not consumed\n"))?;
        }
        let id = state.expect("at least one stage").image_id;
        self.say(&format!("Successfully built {}\n", short(&id)))?;
        for t in &self.opts.tags {
            self.backend.tag(&id, t)?;
            self.say(&format!("Successfully tagged {}\n", with_latest(t)))?;
        }
        Ok(Built { image_id: id })
    }

    /// Dispatch one instruction; then remove the step's containers as `--rm`/`--force-rm` say.
    fn dispatch_with_cleanup(&mut self, st: &mut State, i: &Instruction) -> Result<(), BuildError> {
        let res = self.dispatch(st, i);
        if self.opts.force_remove || (self.opts.remove && res.is_ok()) {
            for id in std::mem::take(&mut self.tmp_containers) {
                self.backend.remove(&id, true)?;
                self.say(&format!("Removing intermediate container {}\n", short(&id)))?;
            }
        } else {
            self.tmp_containers.clear();
        }
        res
    }

    fn expand(&self, word: &str, env: &[String]) -> Result<String, BuildError> {
        let look = |k: &str| env.iter().find_map(|e| e.split_once('=').filter(|(n, _)| *n == k).map(|(_, v)| v.to_string()));
        self.lex.process_word(word, &look).map_err(step_err)
    }

    fn expand_words(&self, word: &str, env: &[String]) -> Result<Vec<String>, BuildError> {
        let look = |k: &str| env.iter().find_map(|e| e.split_once('=').filter(|(n, _)| *n == k).map(|(_, v)| v.to_string()));
        self.lex.process_words(word, &look).map_err(step_err)
    }

    /// The environment builder-side expansion sees: ENV, then the build args ENV does not set.
    fn expansion_env(&self, st: &State) -> Vec<String> {
        let env = st.env();
        let mut all = env.clone();
        all.extend(st.args.filter_allowed(&env, &self.opts.build_args));
        all
    }

    fn from(&mut self, stage: &Stage, meta: &BTreeMap<String, Option<String>>) -> Result<State, BuildError> {
        let env: Vec<String> = meta.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();
        let name = self.expand(&stage.base, &env)?;
        if name.is_empty() {
            return Err(BuildError::Step(format!("base name ({}) should not be blank", stage.base)));
        }
        let lname = name.to_lowercase();
        let image = if let Some((_, id)) = self.stages.iter().rev().find(|(n, _)| n.as_deref() == Some(lname.as_str())) {
            let id = id.clone();
            self.backend.image(&id, false, self.out)?
        } else if lname == "scratch" {
            return Err(BuildError::Step("FROM scratch is not supported by berth's builder yet".into()));
        } else {
            self.backend.image(&name, self.opts.pull, self.out)?
        };
        let image_config = image.config.clone();
        let mut config = image.config.clone();
        let env = config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.split('=').next() == Some("PATH")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }
        config.open_stdin = false;
        config.stdin_once = false;
        Ok(State {
            image_id: image.id,
            image_config,
            config,
            maintainer: String::new(),
            args: Args { allowed: BTreeMap::new(), meta: meta.clone() },
            cmd_set: false,
        })
    }

    fn triggers(&mut self, st: &mut State, triggers: &[String]) -> Result<(), BuildError> {
        let s = if triggers.len() > 1 { "s" } else { "" };
        self.say(&format!("# Executing {} build trigger{s}\n", triggers.len()))?;
        for t in triggers {
            let df = dockerfile::parse(format!("FROM scratch\n{t}\n").as_bytes())?;
            let cmds = &df.stages[0].commands;
            if cmds.len() != 1 {
                return Err(BuildError::Step("onbuild trigger should be a single expression".into()));
            }
            st.config.image = st.image_id.clone();
            self.dispatch_with_cleanup(st, &cmds[0].instruction)?;
        }
        Ok(())
    }

    /// The cache probe: an image built locally on the current parent with this step's config.
    fn probe_cache(&mut self, st: &mut State, cc: &ContainerConfig) -> Result<bool, BuildError> {
        if self.opts.no_cache {
            return Ok(false);
        }
        match self.backend.cached_child(&st.image_id, cc)? {
            Some(img) => {
                self.say(" ---> Using cache\n")?;
                // Only the image changes: the stage's config stays as the steps made it.
                st.image_id = img.id;
                st.image_config = img.config;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Create a step container (`---> Running in <id>`).
    fn create(&mut self, st: &State, cfg: &ContainerConfig) -> Result<String, BuildError> {
        let id = self.backend.create_container(&st.image_id, cfg)?;
        self.tmp_containers.push(id.clone());
        self.say(&format!(" ---> Running in {}\n", short(&id)))?;
        Ok(id)
    }

    fn commit_container(&mut self, st: &mut State, id: &str, cc: &ContainerConfig, record_container: bool) -> Result<(), BuildError> {
        let mut config = st.config.clone();
        config.image = st.image_id.clone();
        let new = self.backend.commit(&Commit {
            id,
            parent: &st.image_id,
            config: &config,
            container_config: cc,
            author: &st.maintainer,
            record_container,
        })?;
        st.image_id = new;
        st.image_config = config;
        Ok(())
    }

    /// A metadata step: `#(nop) ` + comment in the cache key; a container created and committed
    /// (an empty layer), as the classic builder does.
    fn commit_comment(&mut self, st: &mut State, comment: &str) -> Result<(), BuildError> {
        let mut cc = st.config.clone();
        cc.image = st.image_id.clone();
        let mut cmd = st.shell();
        cmd.push("#(nop) ".into());
        cmd.push(comment.into());
        cc.cmd = Some(cmd);
        if self.probe_cache(st, &cc)? {
            return Ok(());
        }
        let id = self.create(st, &cc)?;
        as_created(st, &mut cc, &id);
        self.commit_container(st, &id, &cc, true)
    }

    fn resolve_cmd(&self, st: &State, c: &CmdLine) -> Vec<String> {
        match c {
            CmdLine::Exec(v) => v.clone(),
            CmdLine::Shell(s) => {
                let mut v = st.shell();
                v.push(s.clone());
                v
            }
        }
    }

    fn dispatch(&mut self, st: &mut State, i: &Instruction) -> Result<(), BuildError> {
        let env = self.expansion_env(st);
        match i {
            Instruction::Env(kvs) => {
                let mut msg = String::from("ENV");
                let mut pairs = Vec::new();
                for kv in kvs {
                    pairs.push((self.expand(&kv.key, &env)?, self.expand(&kv.value, &env)?));
                }
                let list = st.config.env.get_or_insert_with(Vec::new);
                for (k, v) in pairs {
                    msg.push_str(&format!(" {k}={v}"));
                    let new = format!("{k}={v}");
                    match list.iter_mut().find(|e| e.split('=').next() == Some(k.as_str())) {
                        Some(slot) => *slot = new,
                        None => list.push(new),
                    }
                }
                self.commit_comment(st, &msg)
            }
            Instruction::Label(kvs) => {
                let mut msg = String::from("LABEL");
                for kv in kvs {
                    let (k, v) = (self.expand(&kv.key, &env)?, self.expand(&kv.value, &env)?);
                    msg.push_str(&format!(" {k}={v}"));
                    st.config.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
                }
                self.commit_comment(st, &msg)
            }
            Instruction::Maintainer(m) => {
                st.maintainer = m.clone();
                self.commit_comment(st, &format!("MAINTAINER {m}"))
            }
            Instruction::Expose(words) => {
                let mut ports = Vec::new();
                for w in words {
                    ports.extend(self.expand_words(w, &env)?);
                }
                let set = st.config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in &ports {
                    for spec in parse_port_spec(p).map_err(BuildError::Step)? {
                        set.insert(spec, json!({}));
                    }
                }
                self.commit_comment(st, &format!("EXPOSE {}", ports.join(" ")))
            }
            Instruction::Volume(words) => {
                let mut vols = Vec::new();
                for w in words {
                    let v = self.expand(w, &env)?;
                    if v.trim().is_empty() {
                        return Err(BuildError::Step("VOLUME specified can not be an empty string".into()));
                    }
                    vols.push(v);
                }
                let set = st.config.volumes.get_or_insert_with(BTreeMap::new);
                for v in &vols {
                    set.insert(v.clone(), json!({}));
                }
                self.commit_comment(st, &format!("VOLUME [{}]", vols.join(" ")))
            }
            Instruction::User(u) => {
                st.config.user = self.expand(u, &env)?;
                let u = st.config.user.clone();
                self.commit_comment(st, &format!("USER {u}"))
            }
            Instruction::StopSignal(s) => {
                let s = self.expand(s, &env)?;
                if !valid_signal(&s) {
                    return Err(BuildError::Step(format!("Invalid signal: {s}")));
                }
                st.config.stop_signal = Some(s.clone());
                self.commit_comment(st, &format!("STOPSIGNAL {s}"))
            }
            Instruction::Arg(decls) => {
                let mut parts = Vec::new();
                for a in decls {
                    let default = a.default.as_ref().map(|d| self.expand(d, &env)).transpose()?;
                    parts.push(match &default {
                        Some(d) => format!("{}={d}", a.name),
                        None => a.name.clone(),
                    });
                    self.referenced.insert(a.name.clone());
                    st.args.allowed.insert(a.name.clone(), default);
                }
                self.commit_comment(st, &format!("ARG {}", parts.join(" ")))
            }
            Instruction::Cmd(c) => {
                let cmd = self.resolve_cmd(st, c);
                st.config.cmd = Some(cmd.clone());
                st.cmd_set = true;
                self.commit_comment(st, &format!("CMD {}", gofmt::quote_list(&cmd)))
            }
            Instruction::Entrypoint(c) => {
                let ep = self.resolve_cmd(st, c);
                st.config.entrypoint = Some(ep.clone());
                if !st.cmd_set {
                    st.config.cmd = None;
                }
                self.commit_comment(st, &format!("ENTRYPOINT {}", gofmt::quote_list(&ep)))
            }
            Instruction::Shell(v) => {
                st.config.shell = Some(v.clone());
                // `%v`, not `%q`, in moby's dispatchShell.
                self.commit_comment(st, &format!("SHELL [{}]", v.join(" ")))
            }
            Instruction::OnBuild(t) => {
                st.config.on_build.get_or_insert_with(Vec::new).push(t.clone());
                self.commit_comment(st, &format!("ONBUILD {t}"))
            }
            Instruction::Healthcheck(h) => {
                let (value, text) = health(h);
                if let Some(old) = st.config.healthcheck.as_ref().and_then(|h| h.get("Test")).and_then(Value::as_array) {
                    let old: Vec<String> = old.iter().filter_map(|v| v.as_str().map(String::from)).collect();
                    if !old.is_empty() && old[0] != "NONE" {
                        self.say(&format!("Note: overriding previous HEALTHCHECK: [{}]\n", old.join(" ")))?;
                    }
                }
                st.config.healthcheck = Some(value);
                self.commit_comment(st, &format!("HEALTHCHECK {text}"))
            }
            Instruction::Workdir(p) => self.workdir(st, p, &env),
            Instruction::Run(c) => self.run(st, c),
            Instruction::Copy(spec) => self.copy(st, spec, "COPY", &env),
            Instruction::Add(spec) => self.copy(st, spec, "ADD", &env),
        }
    }

    fn workdir(&mut self, st: &mut State, p: &str, env: &[String]) -> Result<(), BuildError> {
        let p = self.expand(p, env)?;
        // moby's normalizeWorkdir: an absolute path is kept as written (`/a/../b` stays), a
        // relative one is joined to the current one and cleaned (filepath.Join).
        st.config.working_dir = if p.starts_with('/') {
            p
        } else {
            clean_abs(&format!("/{}/{p}", st.config.working_dir))
        };
        let wd = st.config.working_dir.clone();
        let mut cc = st.config.clone();
        cc.image = st.image_id.clone();
        let mut cmd = st.shell();
        cmd.push(format!("#(nop) WORKDIR {wd}"));
        cc.cmd = Some(cmd);
        if self.probe_cache(st, &cc)? {
            return Ok(());
        }
        let id = self.create(st, &cc)?;
        as_created(st, &mut cc, &id);
        let root = self.backend.mount(&id)?;
        let res = crate::inroot::Root::open(&root).and_then(|r| r.mkdir_all(&cc.working_dir, 0o755, (0, 0)));
        self.backend.unmount(&id)?;
        res.map_err(|e| step_err(format!("mkdir {wd}: {e}")))?;
        self.commit_container(st, &id, &cc, true)
    }

    fn run(&mut self, st: &mut State, c: &CmdLine) -> Result<(), BuildError> {
        let cmd = self.resolve_cmd(st, c);
        let env = st.env();
        let args = st.args.filter_allowed(&env, &self.opts.build_args);
        // The cache key and history name the build args RUN saw: `|2 A=1 B=2 /bin/sh -c …`,
        // except builtin proxy args no ARG declared (moby's prependEnvOnCmd keeps only
        // `IsReferencedOrNotBuiltin` ones, and still writes `|0` when those were all).
        let mut save = cmd.clone();
        if !args.is_empty() {
            let keyed: Vec<&String> = args
                .iter()
                .filter(|kv| {
                    let k = kv.split('=').next().unwrap_or("");
                    st.args.allowed.contains_key(k) || !BUILTIN_ARGS.contains(&k)
                })
                .collect();
            let mut pre = vec![format!("|{}", keyed.len())];
            pre.extend(keyed.into_iter().cloned());
            pre.extend(save);
            save = pre;
        }
        let mut probe = st.config.clone();
        probe.image = st.image_id.clone();
        probe.cmd = Some(save.clone());
        // An empty ENTRYPOINT for the step: Cmd runs as is.
        probe.entrypoint = None;
        if self.probe_cache(st, &probe)? {
            return Ok(());
        }
        let mut run = st.config.clone();
        run.image = st.image_id.clone();
        run.cmd = Some(cmd.clone());
        let mut full_env = env;
        full_env.extend(args);
        run.env = Some(full_env);
        run.entrypoint = Some(vec![String::new()]);
        run.healthcheck = None;
        // dockerd cleans a container's WorkingDir when it creates it (`WORKDIR /a/../b` runs
        // in /b, and no /a appears in the layer).
        if !run.working_dir.is_empty() {
            run.working_dir = clean_abs(&run.working_dir);
        }
        let id = self.create(st, &run)?;
        let code = self.backend.run_container(&id, self.out)?;
        if code != 0 {
            return Err(BuildError::Run { message: format!("The command '{}' returned a non-zero code: {code}", cmd.join(" ")), code });
        }
        self.commit_container(st, &id, &probe, true)
    }

    fn copy(&mut self, st: &mut State, spec: &CopySpec, cmd_name: &str, env: &[String]) -> Result<(), BuildError> {
        let dest_raw = self.expand(&spec.dest, env)?;
        let mut srcs = Vec::new();
        for s in &spec.sources {
            srcs.push(self.expand(s, env)?);
        }
        let chown = spec.chown.as_ref().map(|c| self.expand(c, env)).transpose()?.filter(|c| !c.is_empty());
        let from = spec.from.as_ref().map(|f| self.expand(f, env)).transpose()?;
        let failed = |e: CopyError| match e {
            CopyError::Source(m) => BuildError::Step(format!("{cmd_name} failed: {m}")),
            CopyError::Dest(m) => BuildError::Step(m),
        };
        let urls: Vec<&String> = srcs.iter().filter(|s| s.starts_with("http://") || s.starts_with("https://")).collect();
        if cmd_name == "COPY" && !urls.is_empty() {
            return Err(BuildError::Step(format!("{cmd_name} failed: source can't be a URL for COPY")));
        }
        // Where the sources come from: the context, another stage, or an image.
        let mut from_layer: Option<String> = None;
        let downloaded;
        let src_ctx_owned;
        let src_ctx: &Context = if let Some(f) = &from {
            let image = match f.parse::<usize>() {
                Ok(n) => self.stages.get(n).map(|(_, id)| id.clone()).ok_or_else(|| BuildError::Step(format!("invalid from flag value {f}: refers to current build stage")))?,
                Err(_) => match self.stages.iter().rev().find(|(n, _)| n.as_deref() == Some(f.to_lowercase().as_str())) {
                    Some((_, id)) => id.clone(),
                    // moby wraps what getImageMount says (a failed pull…) with the flag.
                    None => self
                        .backend
                        .image(f, false, self.out)
                        .map_err(|e| match e {
                            BackendError::Cancelled => e.into(),
                            e => BuildError::Step(format!("invalid from flag value {f}: {e}")),
                        })?
                        .id,
                },
            };
            let lid = format!("build-from-{}", random_hex());
            self.backend.create_layer(&lid, &image)?;
            from_layer = Some(lid.clone());
            let root = match self.backend.mount(&lid) {
                Ok(r) => r,
                Err(e) => {
                    let _ = self.backend.remove(&lid, false);
                    return Err(e.into());
                }
            };
            src_ctx_owned = Context::from_dir(&root).map_err(step_err)?;
            &src_ctx_owned
        } else if !urls.is_empty() {
            downloaded = self.download_all(&srcs)?;
            &downloaded.0
        } else {
            self.ctx
        };
        let res = (|| -> Result<(), BuildError> {
            let sources = if urls.is_empty() {
                copy::resolve_sources(src_ctx, &srcs).map_err(failed)?
            } else {
                copy::resolve_sources(src_ctx, &downloaded_names(&srcs)).map_err(failed)?
            };
            if sources.len() > 1 && !dest_raw.ends_with('/') {
                return Err(BuildError::Step(format!("When using {cmd_name} with more than one source file, the destination must be a directory and end with a /")));
            }
            let hash = copy::sources_hash(&sources);
            let chown_comment = chown.as_ref().map(|c| format!("--chown={c}")).unwrap_or_default();
            let comment = format!("{cmd_name} {chown_comment}{hash} in {dest_raw} ");
            let mut cc = st.config.clone();
            cc.image = st.image_id.clone();
            let mut cmd = st.shell();
            cmd.push(format!("#(nop) {comment}"));
            cc.cmd = Some(cmd);
            if self.probe_cache(st, &cc)? {
                return Ok(());
            }
            let dest = if dest_raw.starts_with('/') {
                dest_raw.clone()
            } else {
                let wd = if st.config.working_dir.is_empty() { "/".to_string() } else { st.config.working_dir.clone() };
                let mut d = clean_abs(&format!("{wd}/{dest_raw}"));
                if dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.") {
                    d.push('/');
                }
                d
            };
            let lid = format!("build-{}", random_hex());
            self.backend.create_layer(&lid, &st.image_id)?;
            let res = (|| -> Result<(), BuildError> {
                let rootp = self.backend.mount(&lid)?;
                let r = (|| -> Result<(), BuildError> {
                    let root = crate::inroot::Root::open(&rootp).map_err(step_err)?;
                    let owner = match &chown {
                        Some(c) => copy::parse_chown(c, &root).map_err(failed)?,
                        None => (0, 0),
                    };
                    for s in &sources {
                        copy::copy_source(src_ctx, s, &root, &dest, owner, cmd_name == "ADD" && from.is_none() && urls.is_empty()).map_err(failed)?;
                    }
                    Ok(())
                })();
                self.backend.unmount(&lid)?;
                r?;
                self.commit_container(st, &lid, &cc, false)
            })();
            self.backend.remove(&lid, false)?;
            res
        })();
        if let Some(l) = from_layer {
            let _ = self.backend.unmount(&l);
            self.backend.remove(&l, false)?;
        }
        res
    }

    /// ADD's URL sources, fetched into a private directory that acts as their context.
    fn download_all(&mut self, srcs: &[String]) -> Result<(Context, tempfile_dir::Dir), BuildError> {
        let dir = tempfile_dir::Dir::new().map_err(step_err)?;
        for (i, s) in srcs.iter().enumerate() {
            let name = downloaded_names(std::slice::from_ref(s)).remove(0);
            let sub = dir.path().join(format!("{i}"));
            std::fs::create_dir_all(&sub).map_err(step_err)?;
            let path = dir.path().join(&name);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(step_err)?;
            }
            let mut f = std::fs::File::create(&path).map_err(step_err)?;
            let mtime = self.backend.download(s, &mut f)?;
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(step_err)?;
            if let Some(t) = mtime {
                let _ = f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64));
            }
        }
        let ctx = Context::from_dir(dir.path()).map_err(step_err)?;
        Ok((ctx, dir))
    }
}

/// Where a URL source is kept in its download directory: `<index>/<last path segment>`.
fn downloaded_names(srcs: &[String]) -> Vec<String> {
    srcs.iter()
        .enumerate()
        .map(|(i, u)| {
            let path = u.split(['?', '#']).next().unwrap_or("");
            let last = path.rsplit('/').next().filter(|s| !s.is_empty() && !s.contains("://")).unwrap_or("download");
            format!("{i}/{last}")
        })
        .collect()
}

mod tempfile_dir {
    /// A private directory removed on drop (downloads for ADD).
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new() -> std::io::Result<Dir> {
            let p = std::env::temp_dir().join(format!("berth-build-dl-{}", super::random_hex()));
            std::fs::create_dir(&p)?;
            Ok(Dir(p))
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What dockerd's container create does to the config a metadata or WORKDIR step creates its
/// container with — the struct the classic builder then commits as `container_config`: the
/// hostname becomes the container's short ID, and the image's config is merged in (moby's
/// `merge`: Labels never null, missing Env/ports/volumes added, …). The step's Healthcheck is
/// the stage's own (copyRunConfig copies the pointer), so filling its zero fields from the
/// image's shows in the image's `config` too.
fn as_created(st: &mut State, cc: &mut ContainerConfig, id: &str) {
    if cc.hostname.is_empty() {
        cc.hostname = id.chars().take(12).collect();
    }
    let img = &st.image_config;
    if cc.user.is_empty() {
        cc.user = img.user.clone();
    }
    if cc.exposed_ports.as_ref().is_none_or(|m| m.is_empty()) {
        cc.exposed_ports = img.exposed_ports.clone();
    } else if let (Some(m), Some(i)) = (cc.exposed_ports.as_mut(), img.exposed_ports.as_ref()) {
        for (k, v) in i {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if cc.env.as_ref().is_none_or(|e| e.is_empty()) {
        cc.env = img.env.clone();
    } else if let (Some(env), Some(i)) = (cc.env.as_mut(), img.env.as_ref()) {
        for e in i {
            let key = e.split('=').next().unwrap_or("");
            if !env.iter().any(|u| u.split('=').next() == Some(key)) {
                env.push(e.clone());
            }
        }
    }
    let labels = cc.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in img.labels.iter().flatten() {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if cc.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if cc.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            cc.cmd = img.cmd.clone();
            cc.args_escaped = img.args_escaped;
        }
        if cc.entrypoint.is_none() {
            cc.entrypoint = img.entrypoint.clone();
        }
    }
    if let Some(ih) = &img.healthcheck {
        match &mut cc.healthcheck {
            None => cc.healthcheck = Some(ih.clone()),
            Some(h) => {
                merge_health(h, ih);
                if let Some(sh) = st.config.healthcheck.as_mut() {
                    merge_health(sh, ih);
                }
            }
        }
    }
    if cc.working_dir.is_empty() {
        cc.working_dir = img.working_dir.clone();
    }
    // SetupWorkingDirectory, at every create: the container's WorkingDir is cleaned.
    if !cc.working_dir.is_empty() {
        cc.working_dir = clean_abs(&cc.working_dir);
    }
    if cc.volumes.as_ref().is_none_or(|v| v.is_empty()) {
        cc.volumes = img.volumes.clone();
    } else if let (Some(v), Some(i)) = (cc.volumes.as_mut(), img.volumes.as_ref()) {
        for (k, x) in i {
            v.insert(k.clone(), x.clone());
        }
    }
    if cc.stop_signal.as_deref().unwrap_or("").is_empty() {
        cc.stop_signal = img.stop_signal.clone();
    }
}

/// moby's merge of a HEALTHCHECK: the image's Test, Interval, Timeout, StartPeriod and Retries
/// fill the ones that are empty or zero.
fn merge_health(h: &mut Value, image: &Value) {
    let (Some(h), Some(i)) = (h.as_object_mut(), image.as_object()) else { return };
    if h.get("Test").and_then(Value::as_array).is_none_or(|t| t.is_empty()) {
        if let Some(t) = i.get("Test") {
            h.insert("Test".into(), t.clone());
        }
    }
    for k in ["Interval", "Timeout", "StartPeriod", "Retries"] {
        let zero = |v: Option<&Value>| v.and_then(Value::as_i64).unwrap_or(0) == 0;
        if zero(h.get(k)) && !zero(i.get(k)) {
            h.insert(k.into(), i[k].clone());
        }
    }
}

fn random_hex() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    hex::encode(b)
}

fn with_latest(t: &str) -> String {
    let last = t.rsplit('/').next().unwrap_or(t);
    if last.contains(':') || t.contains('@') {
        t.to_string()
    } else {
        format!("{t}:latest")
    }
}

fn arg_text(a: &ArgDecl) -> String {
    match &a.default {
        Some(d) => format!("{}={d}", a.name),
        None => a.name.clone(),
    }
}

/// `path.Clean` of an absolute path (`..` stops at `/`); the daemon's container paths use it too.
pub fn clean_abs(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// `nat.ParsePortSpecs` for EXPOSE: `80`, `80/tcp`, `53/udp`, `8000-8002`, in its order of
/// checks and with its messages (the port before the protocol, which is named as written).
fn parse_port_spec(p: &str) -> Result<Vec<String>, String> {
    // nat.SplitProtoPort
    let parts: Vec<&str> = p.split('/').collect();
    let (ports, proto) = match parts.as_slice() {
        [] | [""] => ("", ""),
        [port] => (*port, "tcp"),
        [port, "", ..] => (*port, "tcp"),
        [port, proto, ..] => (*port, *proto),
    };
    if ports.is_empty() {
        return Err(format!("No port specified: {p}<empty>"));
    }
    let bad = || format!("Invalid containerPort: {ports}");
    let parse = |s: &str| s.parse::<u16>().map_err(|_| bad());
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b.split('-').next().unwrap_or(b))?),
        None => {
            let n = parse(ports)?;
            (n, n)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    let lower = proto.to_lowercase();
    if !matches!(lower.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("Invalid proto: {proto}"));
    }
    Ok((lo..=hi).map(|n| format!("{n}/{lower}")).collect())
}

fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n);
    }
    let n = s.strip_prefix("SIG").unwrap_or(s);
    const NAMES: [&str; 34] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD",
        "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS", "RTMIN",
    ];
    NAMES.contains(&n) || n.starts_with("RTMIN+") || n.starts_with("RTMAX")
}

/// The config value and the history text (`%q` of moby's `HealthConfig`) of a HEALTHCHECK.
fn health(h: &Health) -> (Value, String) {
    match h {
        Health::None => (json!({"Test": ["NONE"]}), format!("&{{{} \"0s\" \"0s\" \"0s\" '\\x00'}}", gofmt::quote_list(&["NONE".to_string()]))),
        Health::Check { test, interval, timeout, start_period, retries } => {
            let test: Vec<String> = match test {
                CmdLine::Exec(v) => std::iter::once("CMD".to_string()).chain(v.iter().cloned()).collect(),
                CmdLine::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            let mut m = serde_json::Map::new();
            m.insert("Test".into(), json!(test));
            let ns = |d: &Option<Duration>| d.map(|d| d.as_nanos() as u64).unwrap_or(0);
            for (k, d) in [("Interval", interval), ("Timeout", timeout), ("StartPeriod", start_period)] {
                if ns(d) > 0 {
                    m.insert(k.into(), json!(ns(d)));
                }
            }
            if let Some(r) = retries.filter(|r| *r > 0) {
                m.insert("Retries".into(), json!(r));
            }
            let d = |x: &Option<Duration>| gofmt::quote(&gofmt::duration(x.unwrap_or_default()));
            let text = format!("&{{{} {} {} {} {}}}", gofmt::quote_list(&test), d(interval), d(timeout), d(start_period), gofmt::quote_rune(retries.unwrap_or(0)));
            (Value::Object(m), text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_paths() {
        assert_eq!(parse_port_spec("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(parse_port_spec("53/udp").unwrap(), vec!["53/udp"]);
        assert_eq!(parse_port_spec("8000-8002").unwrap().len(), 3);
        assert!(parse_port_spec("x").is_err());
        assert_eq!(parse_port_spec("80/xyz").unwrap_err(), "Invalid proto: xyz");
        assert_eq!(parse_port_spec("90-80").unwrap_err(), "Invalid containerPort: 90-80");
        assert_eq!(parse_port_spec("http/UDP").unwrap_err(), "Invalid containerPort: http");
        assert_eq!(parse_port_spec("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(clean_abs("/app/../srv/./x"), "/srv/x");
        assert_eq!(with_latest("web"), "web:latest");
        assert_eq!(with_latest("localhost:5000/web"), "localhost:5000/web:latest");
        assert_eq!(with_latest("web:v2"), "web:v2");
    }

    #[test]
    fn health_text_is_gos() {
        let (v, t) = health(&Health::Check { test: CmdLine::Exec(vec!["true".into()]), interval: Some(Duration::from_secs(30)), timeout: None, start_period: None, retries: None });
        assert_eq!(t, r#"&{["CMD" "true"] "30s" "0s" "0s" '\x00'}"#);
        assert_eq!(v, json!({"Test": ["CMD", "true"], "Interval": 30_000_000_000u64}));
    }
}
