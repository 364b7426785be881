//! berthd's side of `docker build`: the builder crate's [`Backend`] over the daemon's services.
//! Step containers go through the normal create/start path (default bridge network, so a RUN
//! reaches a lab's hub), file steps use bare rw layers, commits and the cache go to the store.
//!
//! The builder is synchronous and runs on a blocking thread; the async daemon calls are made
//! with the runtime's handle.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_build::backend::{Backend, BackendError, Commit, Image, Output};
use berth_storage::{ContainerConfig, Digest, Store};
use tokio::runtime::Handle;

use super::distribution as dist;
use super::lifecycle::WaitCondition;
use super::Daemon;
use crate::container::config::{Config, CreateRequest, HostConfig};

pub struct BuildBackend {
    d: Arc<Daemon>,
    store: Arc<Store>,
    rt: Handle,
}

fn failed(e: impl std::fmt::Display) -> BackendError {
    BackendError::Failed(e.to_string())
}

impl BuildBackend {
    pub fn new(d: Arc<Daemon>, store: Arc<Store>, rt: Handle) -> Self {
        BuildBackend { d, store, rt }
    }

    fn local(&self, name: &str) -> Option<Image> {
        let id = self.store.resolve_image(name).ok()?;
        let config = self.store.image_container_config(&id).ok()?;
        Some(Image { id: id.as_str().to_string(), config, os: "linux".into() })
    }

    fn pull(&self, name: &str, out: &mut dyn Output) -> Result<(), BackendError> {
        let reference = dist::pull_reference(name, "").map_err(failed)?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cfg = self.d.config.clone();
        let store = self.store.clone();
        let task = self.rt.spawn(async move { dist::pull::pull(&cfg, store, &reference, Default::default(), tx).await });
        // Forward progress while the pull runs; the channel closes when it is done.
        while let Some(m) = self.rt.block_on(rx.recv()) {
            let v: serde_json::Value = serde_json::from_str(&m.to_json_line()).unwrap_or_default();
            if let Err(e) = out.progress(&v) {
                task.abort();
                return Err(e);
            }
        }
        let status = self.rt.block_on(task).map_err(failed)?.map_err(|e| BackendError::NotFound(e.to_string()))?;
        out.progress(&serde_json::json!({"status": status}))?;
        Ok(())
    }

    /// Follow a container's json-file log from `pos`, sending whole lines to `out`.
    fn forward_log(&self, path: &std::path::Path, pos: &mut u64, out: &mut dyn Output) -> Result<(), BackendError> {
        let Ok(mut f) = std::fs::File::open(path) else { return Ok(()) };
        if f.seek(SeekFrom::Start(*pos)).is_err() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let _ = f.read_to_end(&mut buf);
        let complete = buf.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
        if complete == 0 {
            return Ok(());
        }
        *pos += complete as u64;
        // What came out together goes out as one message; stderr in red, as dockerd's build
        // stream does (streamformatter's StderrWriter wraps each write in ESC[91m … ESC[0m).
        let mut runs: Vec<(bool, String)> = Vec::new();
        for e in crate::shim::log::read_entries(&buf[..complete]) {
            let err = e.stream == "stderr";
            match runs.last_mut() {
                Some((s, text)) if *s == err => text.push_str(&e.log),
                _ => runs.push((err, e.log)),
            }
        }
        for (err, text) in runs {
            if err {
                out.stream(&format!("\x1b[91m{text}\x1b[0m"))?;
            } else {
                out.stream(&text)?;
            }
        }
        Ok(())
    }
}

impl Backend for BuildBackend {
    fn image(&self, name: &str, pull: bool, out: &mut dyn Output) -> Result<Image, BackendError> {
        if !pull {
            if let Some(i) = self.local(name) {
                return Ok(i);
            }
        }
        self.pull(name, out)?;
        self.local(name).ok_or_else(|| BackendError::NotFound(format!("No such image: {}", super::images::with_default_tag(name))))
    }

    fn cached_child(&self, parent: &str, config: &ContainerConfig) -> Result<Option<Image>, BackendError> {
        let p = Digest::parse(parent).map_err(failed)?;
        Ok(self.store.cached_child(&p, config).and_then(|id| self.local(id.as_str())))
    }

    fn create_container(&self, image: &str, config: &ContainerConfig) -> Result<String, BackendError> {
        // The image config's vocabulary and the API's are the same JSON; a field that does not
        // convert is a bug to report, not a default to fall back to.
        let v = serde_json::to_value(config).map_err(failed)?;
        let mut cfg: Config = serde_json::from_value(v).map_err(|e| failed(format!("step config: {e}")))?;
        cfg.image = image.to_string();
        let req = CreateRequest { config: cfg, host_config: HostConfig::default(), networking_config: None };
        let (id, _warnings) = self.d.create(None, req).map_err(failed)?;
        Ok(id)
    }

    fn run_container(&self, id: &str, out: &mut dyn Output) -> Result<i64, BackendError> {
        let c = self.d.get(id).map_err(failed)?;
        let log = PathBuf::from(&c.record.log_path);
        let d = self.d.clone();
        let id2 = id.to_string();
        self.rt.block_on(async move { d.start(&id2).await }).map_err(failed)?;
        let d = self.d.clone();
        let id2 = id.to_string();
        let mut wait = self.rt.spawn(async move { d.wait(&id2, WaitCondition::NotRunning).await });
        let mut pos = 0u64;
        loop {
            let done = self.rt.block_on(async {
                tokio::select! {
                    r = &mut wait => Some(r),
                    _ = tokio::time::sleep(Duration::from_millis(20)) => None,
                }
            });
            if let Err(e) = self.forward_log(&log, &mut pos, out) {
                // The client is gone: the step stops here.
                let d = self.d.clone();
                let id2 = id.to_string();
                let _ = self.rt.block_on(async move { d.kill(&id2, Some("KILL")).await });
                return Err(e);
            }
            if let Some(r) = done {
                let code = r.map_err(failed)?.map_err(failed)?;
                // The shim may flush the last lines just after the exit is recorded.
                std::thread::sleep(Duration::from_millis(5));
                self.forward_log(&log, &mut pos, out)?;
                return Ok(code);
            }
        }
    }

    fn create_layer(&self, id: &str, image: &str) -> Result<(), BackendError> {
        let img = Digest::parse(image).map_err(failed)?;
        self.store.create_rw_layer(id, &img).map(|_| ()).map_err(failed)
    }

    fn mount(&self, id: &str) -> Result<PathBuf, BackendError> {
        self.store.mount(id).map_err(failed)
    }

    fn unmount(&self, id: &str) -> Result<(), BackendError> {
        self.store.unmount(id).map_err(failed)
    }

    fn commit(&self, c: &Commit) -> Result<String, BackendError> {
        let opts = berth_storage::CommitOptions {
            image: Some(Digest::parse(c.parent).map_err(failed)?),
            container_config: c.container_config.clone(),
            author: c.author.to_string(),
            created_by: c.container_config.cmd.clone().unwrap_or_default().join(" "),
            config: Some(c.config.clone()),
            omit_container: !c.record_container,
            ..Default::default()
        };
        let id = self.store.commit(c.id, &opts).map_err(failed)?;
        Ok(id.as_str().to_string())
    }

    fn remove(&self, id: &str, is_container: bool) -> Result<(), BackendError> {
        if is_container {
            let d = self.d.clone();
            let id = id.to_string();
            self.rt.block_on(async move { d.remove(&id, true, true).await }).map_err(failed)
        } else {
            match self.store.remove_rw_layer(id) {
                Err(e) if e.kind() == berth_storage::ErrorKind::NotFound => Ok(()),
                r => r.map_err(failed),
            }
        }
    }

    fn tag(&self, image: &str, reference: &str) -> Result<(), BackendError> {
        self.store.tag(image, reference).map_err(failed)?;
        self.d.image_event(image, &super::images::with_default_tag(reference), "tag");
        Ok(())
    }

    fn download(&self, url: &str, out: &mut dyn Write) -> Result<Option<i64>, BackendError> {
        http_get(url, out)
    }
}

/// ADD's `http://` sources: a plain HTTP/1.1 GET (the labs' hubs serve plain HTTP; https is
/// refused with a clear message rather than fetched unverified).
fn http_get(url: &str, out: &mut dyn Write) -> Result<Option<i64>, BackendError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| failed(format!("{url}: only http:// URLs can be added")))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
    let mut s = std::net::TcpStream::connect(&addr).map_err(|e| failed(format!("{url}: {e}")))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: berth-builder\r\n\r\n").map_err(|e| failed(format!("{url}: {e}")))?;
    let mut r = std::io::BufReader::new(s);
    let mut head = String::new();
    let mut last_modified = None;
    let mut status = String::new();
    loop {
        head.clear();
        let n = std::io::BufRead::read_line(&mut r, &mut head).map_err(|e| failed(format!("{url}: {e}")))?;
        if n == 0 || head == "\r\n" || head == "\n" {
            break;
        }
        if status.is_empty() {
            status = head.trim().to_string();
            continue;
        }
        if let Some((k, v)) = head.split_once(':') {
            if k.eq_ignore_ascii_case("last-modified") {
                last_modified = chrono::DateTime::parse_from_rfc2822(v.trim()).ok().map(|t| t.timestamp());
            }
        }
    }
    let code: u16 = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    if code != 200 {
        return Err(failed(format!("failed to GET {url} with status {}", status.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))));
    }
    std::io::copy(&mut r, out).map_err(|e| failed(format!("{url}: {e}")))?;
    Ok(last_modified)
}
