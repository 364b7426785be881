//! Image endpoints over `berth-storage`: list, inspect, history, tag, remove, save (get),
//! load, import (`create?fromSrc`), commit; and the container export/changes that need storage.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};

use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::{Daemon, DaemonError};

fn store(d: &Daemon) -> Result<Arc<berth_storage::Store>, Resp> {
    d.images.store().ok_or_else(|| response::message(500, "image store is not available"))
}

fn err(e: berth_storage::StorageError) -> Resp {
    response::error(&DaemonError::from(e))
}

/// The request body as a blocking `Read` (fed by a task that polls the body).
pub(crate) struct BodyReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.cur = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

pub(crate) fn body_reader(req: Request<Incoming>) -> BodyReader {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(16);
    let mut body = req.into_body();
    tokio::spawn(async move {
        while let Some(f) = body.frame().await {
            let Ok(f) = f else { break };
            if let Ok(data) = f.into_data() {
                let tx = tx.clone();
                if tokio::task::spawn_blocking(move || tx.send(data)).await.map(|r| r.is_err()).unwrap_or(true) {
                    break;
                }
            }
        }
    });
    BodyReader { rx, cur: Bytes::new() }
}

/// A blocking `Write` feeding a streaming response body.
pub(crate) struct ChannelWriter(pub(crate) tokio::sync::mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.blocking_send(Bytes::copy_from_slice(b)).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn containers_refs(d: &Daemon) -> Vec<berth_storage::ContainerRef> {
    d.inner
        .lock()
        .unwrap()
        .containers
        .values()
        .filter_map(|c| {
            Some(berth_storage::ContainerRef {
                id: c.id().to_string(),
                image: berth_storage::Digest::parse(&c.record.image).ok()?,
                running: c.record.state.running,
            })
        })
        .collect()
}

pub async fn list(d: &Arc<Daemon>, q: &Query) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut f = berth_storage::ImageFilters { all: q.bool("all"), ..Default::default() };
    if let Some(fs) = q.get("filters").filter(|f| !f.is_empty()) {
        let v: Value = match serde_json::from_str(fs) {
            Ok(v) => v,
            Err(e) => return response::message(400, &format!("invalid filter: {e}")),
        };
        let keys = |k: &str| -> Vec<String> {
            match &v[k] {
                Value::Object(m) => m.keys().cloned().collect(),
                Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
                _ => vec![],
            }
        };
        f.reference = keys("reference");
        f.label = keys("label");
        f.dangling = keys("dangling").first().map(|x| x == "true" || x == "1");
    }
    let in_use: std::collections::HashMap<String, i64> = containers_refs(d).into_iter().fold(Default::default(), |mut m, c| {
        *m.entry(c.image.as_str().to_string()).or_default() += 1;
        m
    });
    match tokio::task::spawn_blocking(move || s.list_images(&f)).await.expect("list panicked") {
        Ok(v) => {
            let out: Vec<Value> = v
                .iter()
                .map(|i| {
                    let mut j = i.to_json();
                    let _ = in_use.get(i.id.as_str());
                    j["Containers"] = json!(-1);
                    j
                })
                .collect();
            response::json(200, &out)
        }
        Err(e) => err(e),
    }
}

pub async fn inspect(d: &Arc<Daemon>, name: &str) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = name.to_string();
    match tokio::task::spawn_blocking(move || s.inspect_image(&n)).await.expect("inspect panicked") {
        Ok(v) => response::json(200, &v),
        // Docker's image-inspect 404 text: `no such image: x: No such image: x:latest`.
        Err(berth_storage::StorageError::NoSuchImage(r)) => response::message(404, &format!("no such image: {name}: No such image: {r}")),
        Err(e) => err(e),
    }
}

pub async fn history(d: &Arc<Daemon>, name: &str) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let n = name.to_string();
    match tokio::task::spawn_blocking(move || s.history(&n)).await.expect("history panicked") {
        Ok(v) => response::json(200, &v.iter().map(|h| h.to_json()).collect::<Vec<_>>()),
        Err(e) => err(e),
    }
}

pub async fn tag(d: &Arc<Daemon>, name: &str, q: &Query) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let repo = q.get("repo").unwrap_or("").to_string();
    if repo.is_empty() {
        return response::message(400, "repository name must have at least one component");
    }
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    let n = name.to_string();
    let (s2, t2) = (s.clone(), target.clone());
    match tokio::task::spawn_blocking(move || s.tag(&n, &target)).await.expect("tag panicked") {
        Ok(()) => {
            if let Ok(id) = s2.resolve_image(&t2) {
                d.image_event(id.as_str(), &crate::daemon::images::with_default_tag(&t2), "tag");
            }
            response::empty(201)
        }
        Err(e) => err(e),
    }
}

pub async fn remove(d: &Arc<Daemon>, name: &str, q: &Query) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let refs = containers_refs(d);
    let (n, force, prune) = (name.to_string(), q.bool("force"), !q.bool("noprune"));
    let img = s.resolve_image(name).map(|i| i.as_str().to_string()).unwrap_or_default();
    match tokio::task::spawn_blocking(move || s.remove_image(&n, force, prune, &refs)).await.expect("rmi panicked") {
        Ok(items) => {
            for i in &items {
                match i {
                    berth_storage::RemovedItem::Untagged(_) => d.image_event(&img, &img, "untag"),
                    berth_storage::RemovedItem::Deleted(id) => d.image_event(id, id, "delete"),
                }
            }
            response::json(200, &items.iter().map(|i| i.to_json()).collect::<Vec<_>>())
        }
        Err(e) => err(e),
    }
}

/// `GET /images/get?names=…` and `GET /images/{name}/get`: a 20.10-format archive.
pub async fn save(d: &Arc<Daemon>, names: Vec<String>) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Validate first so that errors are a proper 404 rather than a broken stream.
    for n in &names {
        if let Err(e) = s.resolve_image(n) {
            return err(e);
        }
    }
    let (tx, resp) = response::channel(200, Some("application/x-tar"));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut w = ChannelWriter(tx);
        if let Err(e) = s.save(&refs, berth_storage::SaveFormat::Legacy, &mut w) {
            tracing::error!(images = ?names, error = %e, "image save failed");
        }
    });
    resp
}

fn json_lines(lines: Vec<Value>) -> Resp {
    let mut body = Vec::new();
    for l in lines {
        body.extend(serde_json::to_vec(&l).expect("json"));
        body.push(b'\n');
    }
    let (tx, resp) = response::channel(200, Some("application/json"));
    tokio::spawn(async move {
        let _ = tx.send(Bytes::from(body)).await;
    });
    resp
}

/// Docker's `progress.Reader` pacing of the `Loading layer` lines: one every 1 % of the layer
/// (at most every 512 kB), no more than one per 100 ms, and always the complete one.
#[derive(Default)]
struct LoadPacer {
    id: String,
    last_update: u64,
    next_allowed: Option<std::time::Instant>,
    done: bool,
}

impl LoadPacer {
    fn admit(&mut self, id: &str, current: u64, total: u64, now: std::time::Instant) -> bool {
        if self.id != id {
            *self = LoadPacer { id: id.to_string(), ..Default::default() };
        }
        if current >= total {
            let first = !self.done;
            self.done = true;
            return first;
        }
        let every = if total > 0 { (total / 100).min(512 * 1024) } else { 512 * 1024 };
        if current.saturating_sub(self.last_update) <= every {
            return false;
        }
        self.last_update = current;
        if self.next_allowed.is_some_and(|t| now < t) {
            return false;
        }
        self.next_allowed = Some(now + std::time::Duration::from_millis(100));
        true
    }
}

/// One line of a JSON stream as dockerd writes them (`\r\n`-terminated).
pub(crate) fn stream_line(v: &impl serde::Serialize) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("json");
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

/// `{"errorDetail":{"message":…},"error":…}`, in dockerd's key order.
fn error_line(message: &str) -> Bytes {
    #[derive(serde::Serialize)]
    struct Detail<'a> {
        message: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Line<'a> {
        #[serde(rename = "errorDetail")]
        error_detail: Detail<'a>,
        error: &'a str,
    }
    stream_line(&Line { error_detail: Detail { message }, error: message })
}

/// `POST /images/load?quiet=`: as dockerd, always a `200` JSON stream. Without `quiet` (it
/// defaults to on) each layer's `Loading layer` progress (its short diffID, bytes of its file
/// read from the archive) streams while it is read and registered; then one
/// `{"stream":"Loaded image: …\n"}` per tag (`Loaded image ID: sha256:…` when untagged). A
/// failure, before or after progress, is a `{"errorDetail":{"message":…},"error":…}` line.
pub async fn load(d: &Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let q = Query::parse(req.uri().query());
    // httputils.BoolValueOrDefault(r, "quiet", true)
    let quiet = q.get("quiet").is_none() || q.bool("quiet");
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut r = body_reader(req);
    let s2 = s.clone();
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let job = tokio::task::spawn_blocking(move || {
        if quiet {
            return s.load(&mut r);
        }
        let mut pacer = LoadPacer::default();
        let mut report = |p: berth_storage::archive::load::LayerProgress<'_>| {
            let short = &p.diff_id.hex()[..12];
            if pacer.admit(short, p.current, p.total, std::time::Instant::now()) {
                let m = berth_registry::ProgressMessage::bytes(short, "Loading layer", p.current, p.total);
                let _ = ptx.send(stream_line(&m));
            }
        };
        s.load_with_progress(&mut r, Some(&mut report))
    });
    let (tx, resp) = response::channel(200, Some("application/json"));
    let d = d.clone();
    tokio::spawn(async move {
        // Ends when the load is over (it drops the sender).
        while let Some(b) = prx.recv().await {
            let _ = tx.send(b).await;
        }
        let tail = match job.await {
            Ok(Ok(lines)) => {
                for l in &lines {
                    let r = l.strip_prefix("Loaded image ID: ").or_else(|| l.strip_prefix("Loaded image: ")).unwrap_or(l);
                    if let Ok(id) = s2.resolve_image(r) {
                        d.image_event(id.as_str(), id.as_str(), "load");
                    }
                }
                lines.iter().map(|l| stream_line(&json!({"stream": format!("{l}\n")}))).collect()
            }
            Ok(Err(e)) => {
                let m = DaemonError::from(e).to_string();
                tracing::debug!(error = %m, "image load failed");
                vec![error_line(&m)]
            }
            Err(e) => {
                let m = format!("load panicked: {e}");
                tracing::error!(error = %m, "image load failed");
                vec![error_line(&m)]
            }
        };
        for b in tail {
            let _ = tx.send(b).await;
        }
    });
    resp
}

/// `POST /images/create`: `fromSrc=-` imports the body; `fromImage` (pull) needs the registry.
pub async fn create(d: &Arc<Daemon>, q: &Query, req: Request<Incoming>) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if q.get("fromImage").is_some() {
        return super::distribution::pull(d, q, req.headers()).await;
    }
    let Some(src) = q.get("fromSrc") else {
        return response::message(400, "either fromImage or fromSrc must be given");
    };
    if src != "-" {
        return response::message(400, &format!("importing from {src} is not supported: use fromSrc=-"));
    }
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{r}:{t}"),
        None => r.to_string(),
    });
    let tagged = reference.clone();
    let opts = berth_storage::ImportOptions {
        reference,
        message: q.get("message").filter(|m| !m.is_empty()).map(String::from),
        changes: q.all("changes"),
        source: src.to_string(),
    };
    let mut r = body_reader(req);
    match tokio::task::spawn_blocking(move || s.import(&mut r, &opts)).await.expect("import panicked") {
        Ok(id) => {
            if let Some(r) = &tagged {
                d.image_event(id.as_str(), &crate::daemon::images::with_default_tag(r), "tag");
            }
            d.image_event(id.as_str(), id.as_str(), "import");
            json_lines(vec![json!({"status": id.as_str()})])
        }
        Err(e) => err(e),
    }
}

pub async fn commit(d: &Arc<Daemon>, q: &Query) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let c = match d.get(q.get("container").unwrap_or("")) {
        Ok(c) => c,
        Err(e) => return response::error(&e),
    };
    let container_config: berth_storage::ContainerConfig = serde_json::to_value(&c.record.config)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{r}:{t}"),
        None => r.to_string(),
    });
    let mut created_by = vec![c.record.path.clone()];
    created_by.extend(c.record.args.clone());
    let opts = berth_storage::CommitOptions {
        image: berth_storage::Digest::parse(&c.record.image).ok(),
        container_config,
        reference,
        author: q.get("author").unwrap_or("").to_string(),
        comment: q.get("comment").unwrap_or("").to_string(),
        changes: q.all("changes").into_iter().flat_map(|c| c.lines().map(String::from).collect::<Vec<_>>()).filter(|c| !c.is_empty()).collect(),
        created_by: created_by.join(" "),
        ..Default::default()
    };
    let id = c.id().to_string();
    let (comment, image_ref) = (opts.comment.clone(), opts.reference.clone().unwrap_or_default());
    match tokio::task::spawn_blocking(move || s.commit(&id, &opts)).await.expect("commit panicked") {
        Ok(img) => {
            if !image_ref.is_empty() {
                d.image_event(img.as_str(), &crate::daemon::images::with_default_tag(&image_ref), "tag");
            }
            d.container_event(&c, "commit", &[("comment", comment), ("imageID", img.as_str().to_string()), ("imageRef", image_ref)]);
            response::json(201, &json!({"Id": img.as_str()}))
        }
        Err(e) => err(e),
    }
}

pub async fn export(d: &Arc<Daemon>, r: &str) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = match d.resolve(r) {
        Ok(id) => id,
        Err(e) => return response::error(&e),
    };
    let (tx, resp) = response::channel(200, Some("application/x-tar"));
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter(tx);
        if let Err(e) = s.export_container(&id, &mut w) {
            tracing::error!(container = %id, error = %e, "container export failed");
        }
    });
    resp
}

pub async fn changes(d: &Arc<Daemon>, r: &str) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let id = match d.resolve(r) {
        Ok(id) => id,
        Err(e) => return response::error(&e),
    };
    match tokio::task::spawn_blocking(move || s.changes(&id)).await.expect("changes panicked") {
        Ok(ch) => response::json(200, &ch.iter().map(|c| json!({"Path": c.path, "Kind": c.api_kind()})).collect::<Vec<_>>()),
        Err(e) => err(e),
    }
}

/// `POST /images/prune?filters={"dangling":{"false":true}}` (= `-a`).
pub async fn prune(d: &Arc<Daemon>, q: &Query) -> Resp {
    let s = match store(d) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let all = q
        .get("filters")
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .map(|v| v["dangling"].get("false").is_some() || v["dangling"].get("0").is_some())
        .unwrap_or(false);
    let refs = containers_refs(d);
    match tokio::task::spawn_blocking(move || s.prune_images(all, &refs)).await.expect("prune panicked") {
        Ok(r) => response::json(
            200,
            &json!({"ImagesDeleted": r.deleted.iter().map(|i| i.to_json()).collect::<Vec<_>>(), "SpaceReclaimed": r.space_reclaimed}),
        ),
        Err(e) => err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn load_progress_paced_like_docker() {
        let t0 = Instant::now();
        let mut p = LoadPacer::default();
        // 1 % of 10 000 = 100 bytes between lines; the first goes out at once.
        assert!(!p.admit("aaa", 100, 10_000, t0));
        assert!(p.admit("aaa", 101, 10_000, t0));
        // Far enough, but within 100 ms of the last line.
        assert!(!p.admit("aaa", 5_000, 10_000, t0 + Duration::from_millis(50)));
        assert!(!p.admit("aaa", 5_050, 10_000, t0 + Duration::from_millis(150)), "needs 1 % since the last update");
        assert!(p.admit("aaa", 5_200, 10_000, t0 + Duration::from_millis(150)));
        // The complete line always, once.
        assert!(p.admit("aaa", 10_000, 10_000, t0 + Duration::from_millis(151)));
        assert!(!p.admit("aaa", 10_000, 10_000, t0 + Duration::from_millis(500)));
        // A new layer starts afresh; big layers step by at most 512 kB.
        assert!(p.admit("bbb", 10_000, 10_000, t0 + Duration::from_millis(152)));
        assert!(!p.admit("ccc", 512 * 1024, 100 << 20, t0));
        assert!(p.admit("ccc", 512 * 1024 + 1, 100 << 20, t0));
    }

    #[test]
    fn load_lines_are_dockers() {
        assert_eq!(&error_line("bad \"x\"")[..], b"{\"errorDetail\":{\"message\":\"bad \\\"x\\\"\"},\"error\":\"bad \\\"x\\\"\"}\r\n");
        let m = berth_registry::ProgressMessage::bytes("c3adca36456c", "Loading layer", 1_064_960, 2_129_920);
        assert_eq!(
            String::from_utf8(stream_line(&m).to_vec()).unwrap(),
            format!(
                "{{\"status\":\"Loading layer\",\"progressDetail\":{{\"current\":1064960,\"total\":2129920}},\"progress\":\"[{}>{}]  1.065MB/2.13MB\",\"id\":\"c3adca36456c\"}}\r\n",
                "=".repeat(25),
                " ".repeat(25)
            )
        );
    }
}
