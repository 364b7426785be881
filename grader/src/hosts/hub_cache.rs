//! The hub's registry storage, built once per fixture set and shared read-only by every lab's
//! hub (each overlays it copy-on-write): pushing nginx and httpd for every provisioning — and
//! the regression suite provisions a fresh lab per broken variant — would take far too long.
//!
//! `<cache>/<key>/` is a `docker-registry` filesystem root (`docker/registry/v2/…`), where key
//! is a hash of the archives' names and contents. It is built in a sandbox lab of its own: a
//! host whose berthd loads every archive and pushes it to docker-registry through the real
//! protocol (`hub::provision_hub`); the registry's storage is then moved into the cache. An
//! exclusive `flock` on `<cache>/<key>.lock` makes parallel labs wait for one build.

use super::{hub, io, Config, HostError, VirtualLab};
use crate::catalog::{HostSpec, Lab, Service};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Marker written last: a storage dir without it is an interrupted build.
const COMPLETE: &str = ".complete";

/// Content hashes already computed by this process, by (path, size, mtime): the regression
/// suite provisions hundreds of labs from one process.
type Seen = std::collections::HashMap<(PathBuf, u64, std::time::SystemTime), [u8; 32]>;
static SEEN: std::sync::Mutex<Option<Seen>> = std::sync::Mutex::new(None);

/// The cache key of a fixture set: names and contents (sha256) of every `<name>.tar`.
pub fn key(images_dir: &Path) -> Result<String, HostError> {
    let mut h = Sha256::new();
    for name in hub::fixture_images(images_dir)? {
        let p = images_dir.join(format!("{name}.tar"));
        h.update(name.as_bytes());
        h.update([0]);
        h.update(file_hash(&p)?);
    }
    Ok(hex(&h.finalize()[..8]))
}

fn file_hash(p: &Path) -> Result<[u8; 32], HostError> {
    let meta = std::fs::metadata(p).map_err(io(p))?;
    let id = (p.to_path_buf(), meta.len(), meta.modified().map_err(io(p))?);
    if let Some(d) = SEEN.lock().ok().and_then(|s| s.as_ref()?.get(&id).copied()) {
        return Ok(d);
    }
    let mut h = Sha256::new();
    {
        let mut f = std::fs::File::open(p).map_err(io(p))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(io(p))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    let d: [u8; 32] = h.finalize().into();
    if let Ok(mut s) = SEEN.lock() {
        s.get_or_insert_with(Default::default).insert(id, d);
    }
    Ok(d)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The registry storage holding every fixture image of `config.images_dir`, built if missing.
pub fn ensure(config: &Config) -> Result<PathBuf, HostError> {
    let images = config
        .images_dir
        .as_deref()
        .ok_or_else(|| HostError::Helper("the lab hub needs the fixture images (no fixtures directory configured): run `cargo xtask fixtures`".into()))?;
    let cache = config.hub_cache();
    std::fs::create_dir_all(&cache).map_err(io(&cache))?;
    let key = key(images)?;
    let dir = cache.join(&key);
    if dir.join(COMPLETE).is_file() {
        return Ok(dir);
    }
    let lock_path = cache.join(format!("{key}.lock"));
    let lock = std::fs::File::create(&lock_path).map_err(io(&lock_path))?;
    // SAFETY: flock on a descriptor we own; it is released when `lock` is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(&lock_path)(std::io::Error::last_os_error()));
    }
    if dir.join(COMPLETE).is_file() {
        return Ok(dir);
    }
    let started = Instant::now();
    build(config, images, &cache, &key, &dir)?;
    eprintln!(
        "lab hub: registry storage for the fixture images built in {:.1}s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(dir)
}

/// The one-host sandbox lab the storage is built in.
fn builder_lab(key: &str) -> Lab {
    let ready = serde_json::json!([
        { "kind": "file", "host": "hub", "path": "/run/berth.sock", "type": "socket" },
    ]);
    Lab {
        id: format!("hub-build-{key}"),
        title: Default::default(),
        intro: Default::default(),
        objectives: vec![],
        lan: "10.1.1.0/24".into(),
        hosts: vec![HostSpec {
            name: "hub".into(),
            address: "10.1.1.10/24".into(),
            hostname: None,
            role: None,
            services: vec![Service {
                name: "berthd".into(),
                start: "berthd -H unix:///run/berth.sock --data-root /var/lib/berth --cgroup-parent /$BERTH_CGROUP".into(),
                ready: serde_json::from_value(ready).expect("valid ready check"),
                timeout_secs: 30.0,
            }],
            images: vec![],
            is_hub: false,
        }],
        hub: crate::catalog::Hub::Enabled(false),
        steps: vec![],
        quiz: vec![],
        file: PathBuf::new(),
        dir: PathBuf::new(),
    }
}

fn build(
    config: &Config,
    images: &Path,
    cache: &Path,
    key: &str,
    dir: &Path,
) -> Result<(), HostError> {
    let mut cfg = config.clone();
    cfg.state_root = cache.join("build");
    let lab = builder_lab(key);
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let r = (|| {
        hub::provision_hub(&vl, "hub", images)?;
        // Stop the registry so the storage is quiescent before it moves.
        let out = vl.run(
            "hub",
            "kill $(pidof docker-registry) && while pidof docker-registry >/dev/null; do sleep 0.05; done",
            Duration::from_secs(20),
        )?;
        if out.status != 0 {
            return Err(HostError::Helper(format!(
                "stopping the hub builder's registry: {}",
                out.stderr.trim()
            )));
        }
        let storage = vl
            .host_state("hub")?
            .dir
            .join("tmp")
            .join(hub::REGISTRY_DIR.trim_start_matches("/tmp/"))
            .join("storage");
        let partial = cache.join(format!("{key}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&storage, &partial).map_err(io(&storage))?;
        std::fs::write(partial.join(COMPLETE), b"").map_err(io(&partial))?;
        std::fs::rename(&partial, dir).map_err(io(dir))
    })();
    let t = vl.teardown();
    r?;
    t
}
