//! The daemon's in-memory state: containers by id and name, their live bookkeeping, and
//! container creation.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::config::DaemonConfig;
use super::error::DaemonError;
use super::images::{self, ImageBackend};
use super::names;
use crate::container::config::{CreateRequest, Restart};
use crate::container::record::{Container, Record, State};
use crate::container::store::ContainerStore;
use crate::shim::runtime::Runtime;
use crate::util::{ids, time};

/// A client waiting in `attach` for the container to start (the CLI attaches before start).
pub struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tx: tokio::sync::oneshot::Sender<std::os::unix::net::UnixStream>,
}

/// Bookkeeping that is not persisted.
#[derive(Default)]
pub struct Live {
    /// Incremented at every exit (for `wait?condition=next-exit`).
    pub exit_seq: u64,
    pub pending_attach: Vec<PendingAttach>,
    /// Whether a monitor task is watching the shim.
    pub monitored: bool,
    /// A start is in progress (guards against double start).
    pub starting: bool,
}

pub struct Inner {
    pub containers: BTreeMap<String, Container>,
    pub live: HashMap<String, Live>,
    /// Exit codes of removed containers, for `wait?condition=removed`.
    pub removed: HashMap<String, i64>,
}

pub struct Daemon {
    pub config: DaemonConfig,
    pub store: ContainerStore,
    pub images: Arc<dyn ImageBackend>,
    pub runtime: Runtime,
    /// The `berth` binary (for `berth shim` and `berth runtime`).
    pub berth_binary: PathBuf,
    pub inner: Mutex<Inner>,
    /// Bumped on every state change; waiters re-check their condition.
    pub changed: watch::Sender<u64>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub execs: Mutex<HashMap<String, super::exec::Exec>>,
    pub events: super::events::Events,
    /// Container networking (bridges, endpoints, ports, DNS).
    pub net: super::network::NetService,
}

impl Daemon {
    pub fn new(config: DaemonConfig, images: Arc<dyn ImageBackend>, berth_binary: PathBuf) -> Result<Arc<Self>, DaemonError> {
        let store = ContainerStore::new(config.data_root.join("containers"))?;
        std::fs::create_dir_all(config.exec_root.join("containers"))
            .map_err(|e| DaemonError::System(format!("{}: {e}", config.exec_root.display())))?;
        let runtime = Runtime::resolve(&config.default_runtime, &berth_binary, &config.exec_root);
        let net = super::network::NetService::open(&config)?;
        let (changed, _) = watch::channel(0);
        let d = Arc::new(Daemon {
            config,
            store,
            images,
            runtime,
            berth_binary,
            inner: Mutex::new(Inner { containers: BTreeMap::new(), live: HashMap::new(), removed: HashMap::new() }),
            changed,
            started_at: chrono::Utc::now(),
            execs: Mutex::new(HashMap::new()),
            events: Default::default(),
            net,
        });
        let (loaded, errs) = d.store.load_all();
        for e in errs {
            tracing::error!(error = %e, "skipping a container that can't be loaded");
        }
        let mut g = d.inner.lock().unwrap();
        for c in loaded {
            g.live.insert(c.id().to_string(), Live::default());
            g.containers.insert(c.id().to_string(), c);
        }
        drop(g);
        Ok(d)
    }

    pub fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// Exec-root directory of a container (bundle + shim state).
    pub fn state_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("containers").join(id)
    }

    /// Resolve a user's reference: full id, name (with or without `/`), or unique id prefix.
    pub fn resolve(&self, r: &str) -> Result<String, DaemonError> {
        let g = self.inner.lock().unwrap();
        resolve_in(&g.containers, r)
    }

    pub fn get(&self, r: &str) -> Result<Container, DaemonError> {
        let g = self.inner.lock().unwrap();
        let id = resolve_in(&g.containers, r)?;
        Ok(g.containers[&id].clone())
    }

    /// Apply `f` to a container and persist it.
    pub fn update<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> Result<T, DaemonError> {
        let mut g = self.inner.lock().unwrap();
        let c = g.containers.get_mut(id).ok_or_else(|| DaemonError::no_such_container(id))?;
        let hc_before = serde_json::to_value(&c.host_config).ok();
        let t = f(c);
        self.store.save_record(c)?;
        if serde_json::to_value(&c.host_config).ok() != hc_before {
            self.store.save_host_config(c)?;
        }
        drop(g);
        self.notify();
        Ok(t)
    }

    pub fn create(&self, name: Option<&str>, req: CreateRequest) -> Result<(String, Vec<String>), DaemonError> {
        let CreateRequest { mut config, mut host_config, networking_config } = req;
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            if !names::valid_name(n) {
                return Err(DaemonError::InvalidParameter(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        if config.image.is_empty() {
            return Err(DaemonError::InvalidParameter("No image was specified".into()));
        }
        let restart = Restart::from_policy(&host_config.restart_policy).map_err(DaemonError::InvalidParameter)?;
        if host_config.auto_remove && restart != Restart::No {
            return Err(DaemonError::InvalidParameter("can't create 'AutoRemove' container with restart policy".into()));
        }
        if let Restart::OnFailure(n) = restart {
            if n < 0 {
                return Err(DaemonError::InvalidParameter("maximum retry count cannot be negative".into()));
            }
        }
        host_config.verify_resources(crate::container::config::num_cpus()).map_err(DaemonError::InvalidParameter)?;
        for b in host_config.binds.iter().flatten() {
            crate::container::spec::parse_bind(b, &self.volumes_root())?;
        }
        let image = self.images.lookup(&config.image)?;
        images::merge_config(&mut config, &image.config);
        // `--entrypoint ""` (and a builder's RUN) send `[""]`: no entrypoint at all.
        if config.entrypoint.as_deref() == Some(&[String::new()][..]) {
            config.entrypoint = None;
        }
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(DaemonError::InvalidParameter("No command specified".into()));
        }
        host_config.fill_defaults(&self.runtime.name);
        let (netcfg, warnings) = self.net_prepare(&mut config, &host_config, networking_config.as_ref())?;
        let id = ids::generate_id();
        if config.hostname.is_empty() {
            config.hostname = ids::short_id(&id).to_string();
        }
        let dir = self.store.dir(&id);
        let mut g = self.inner.lock().unwrap();
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = format!("/{}", n.trim_start_matches('/'));
                if let Some(other) = g.containers.values().find(|c| c.record.name == n) {
                    return Err(DaemonError::Conflict(format!(
                        "Conflict. The container name \"{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id()
                    )));
                }
                n
            }
            None => generate_name(&g.containers, &id),
        };
        let path = &dir;
        let record = Record {
            state: State::default(),
            id: id.clone(),
            created: time::now(),
            managed: false,
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            image: image.id.clone(),
            log_path: path.join(format!("{id}-json.log")).display().to_string(),
            name,
            driver: self.images.driver_name(),
            os: "linux".into(),
            restart_count: 0,
            has_been_started_before: false,
            has_been_manually_stopped: false,
            hostname_path: path.join("hostname").display().to_string(),
            hosts_path: path.join("hosts").display().to_string(),
            resolv_conf_path: path.join("resolv.conf").display().to_string(),
            shm_path: String::new(),
            mount_points: Default::default(),
            exec_ids: vec![],
        };
        let mut c = Container { record, host_config };
        // Anonymous volumes: every `Volumes` path (image VOLUME, `-v /path`) no bind covers.
        let bound: Vec<String> = c
            .host_config
            .binds
            .iter()
            .flatten()
            .filter_map(|b| b.split(':').nth(1).map(super::archive::clean))
            .collect();
        for spec in c.record.config.volumes.clone().unwrap_or_default().keys() {
            // As Docker (`filepath.Clean`): `VOLUME ["/var/www/html/"]` is the same place as
            // `-v /x:/var/www/html`, which covers it; a second mount there would hide the bind.
            let dest = &super::archive::clean(spec);
            if bound.iter().any(|b| b == dest) || c.record.mount_points.contains_key(dest) {
                continue;
            }
            let name = ids::generate_id();
            let source = self.volumes_root().join(&name).join("_data");
            c.record.mount_points.insert(
                dest.clone(),
                serde_json::json!({"Type": "volume", "Name": name, "Source": source, "Destination": dest,
                                   "Driver": "local", "RW": true, "Mode": "", "Propagation": "", "Anonymous": true}),
            );
        }
        // Reserve the name under the lock; roll back on any failure below.
        g.containers.insert(id.clone(), c.clone());
        g.live.insert(id.clone(), Live::default());
        drop(g);
        let res = (|| -> Result<(), DaemonError> {
            self.store.create_dir(&id)?;
            netcfg.save(&dir)?;
            crate::container::files::write_all(&dir, &c.record.config.hostname, &[])
                .map_err(|e| DaemonError::System(format!("{}: {e}", dir.display())))?;
            self.images.create_rootfs(&id, &image.id)?;
            self.store.save(&c)?;
            Ok(())
        })();
        if let Err(e) = res {
            let mut g = self.inner.lock().unwrap();
            g.containers.remove(&id);
            g.live.remove(&id);
            drop(g);
            if let Err(e) = self.images.remove_rootfs(&id) {
                tracing::warn!(container = %id, error = %e, "can't remove the rootfs of a container whose creation failed");
            }
            if let Err(e) = self.store.remove(&id) {
                tracing::warn!(container = %id, error = %e, "can't remove the record of a container whose creation failed");
            }
            return Err(e);
        }
        self.notify();
        self.container_event(&c, "create", &[]);
        Ok((id, warnings))
    }

    pub fn volumes_root(&self) -> PathBuf {
        self.config.data_root.join("volumes")
    }

    pub fn rename(&self, r: &str, new: &str) -> Result<(), DaemonError> {
        if !names::valid_name(new) {
            return Err(DaemonError::InvalidParameter(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let new = format!("/{}", new.trim_start_matches('/'));
        let mut g = self.inner.lock().unwrap();
        let id = resolve_in(&g.containers, r)?;
        if g.containers[&id].record.name == new {
            return Err(DaemonError::InvalidParameter("Renaming a container with the same name as its current name".into()));
        }
        if let Some(other) = g.containers.values().find(|c| c.record.name == new) {
            return Err(DaemonError::Conflict(format!(
                "Error when allocating new name: Conflict. The container name \"{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id()
            )));
        }
        let c = g.containers.get_mut(&id).expect("resolved");
        let old = std::mem::replace(&mut c.record.name, new);
        self.store.save_record(c)?;
        let c = c.clone();
        drop(g);
        self.container_event(&c, "rename", &[("oldName", old)]);
        Ok(())
    }
}

fn generate_name(containers: &BTreeMap<String, Container>, id: &str) -> String {
    let taken = |n: &str| containers.values().any(|c| c.record.name == n);
    for i in 0..6 {
        let n = format!("/{}", names::random_name(i));
        if !taken(&n) {
            return n;
        }
    }
    format!("/{}", ids::short_id(id))
}

pub fn resolve_in(containers: &BTreeMap<String, Container>, r: &str) -> Result<String, DaemonError> {
    if r.is_empty() {
        return Err(DaemonError::no_such_container(r));
    }
    if containers.contains_key(r) {
        return Ok(r.to_string());
    }
    let name = format!("/{}", r.trim_start_matches('/'));
    if let Some(c) = containers.values().find(|c| c.record.name == name) {
        return Ok(c.id().to_string());
    }
    if ids::is_hex_prefix(r) {
        let m: Vec<&String> = containers.keys().filter(|k| k.starts_with(r)).collect();
        if m.len() == 1 {
            return Ok(m[0].clone());
        }
        if m.len() > 1 {
            return Err(DaemonError::InvalidParameter(format!("multiple IDs found with provided prefix: {r}")));
        }
    }
    Err(DaemonError::no_such_container(r))
}
