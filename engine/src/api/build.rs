//! `POST /build` (the classic builder, API 1.41) and `POST /build/prune`.
//!
//! The body is the build context as a tar; it is unpacked on a blocking thread while it
//! arrives. The answer streams `{"stream":…}`, pull progress and `{"aux":{"ID":…}}` lines; an
//! error found before anything was sent (a bad Dockerfile, a missing one) is an ordinary HTTP
//! error, as in dockerd, and after that an `errorDetail` line (with the RUN's exit `code`).
//! When the client goes away the build stops at the next output or step.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use berth_build::backend::{BackendError, Output};
use berth_build::builder::{self, BuildError, BuildOptions};
use berth_build::context::Context;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::images::{body_reader, stream_line};
use super::query::Query;
use super::response::{self, Resp};
use crate::daemon::build::BuildBackend;
use crate::daemon::Daemon;

struct ChanOutput {
    tx: UnboundedSender<Bytes>,
    cancelled: Arc<AtomicBool>,
    /// `-q`: everything is kept back, and shown only if the build fails.
    held: Option<Vec<Bytes>>,
}

impl ChanOutput {
    fn send(&mut self, v: &Value) -> Result<(), BackendError> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(BackendError::Cancelled);
        }
        let b = stream_line(v);
        match &mut self.held {
            Some(h) => {
                h.push(b);
                Ok(())
            }
            None => self.tx.send(b).map_err(|_| BackendError::Cancelled),
        }
    }
}

impl Output for ChanOutput {
    fn stream(&mut self, text: &str) -> Result<(), BackendError> {
        self.send(&json!({ "stream": text }))
    }
    fn progress(&mut self, m: &Value) -> Result<(), BackendError> {
        self.send(m)
    }
    fn aux(&mut self, id: &str) -> Result<(), BackendError> {
        self.send(&json!({"aux": {"ID": id}}))
    }
}

fn json_map(q: &Query, key: &str) -> Result<BTreeMap<String, Option<String>>, String> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(s) => serde_json::from_str(s).map_err(|e| format!("invalid {key} value: {e}")),
    }
}

fn options(q: &Query) -> Result<BuildOptions, String> {
    let labels = json_map(q, "labels")?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
    Ok(BuildOptions {
        dockerfile: q.get("dockerfile").filter(|s| !s.is_empty()).unwrap_or("Dockerfile").to_string(),
        tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
        build_args: json_map(q, "buildargs")?,
        target: q.get("target").map(String::from),
        no_cache: q.bool("nocache"),
        pull: q.bool("pull"),
        // `rm` defaults to true (`httputils.BoolValueOrDefault(r, "rm", true)`).
        remove: q.get("rm").is_none() || q.bool("rm"),
        force_remove: q.bool("forcerm"),
        labels,
    })
}

fn error_line(e: &BuildError) -> Bytes {
    let msg = e.to_string();
    match e {
        BuildError::Run { code, .. } => stream_line(&json!({"errorDetail": {"code": code, "message": msg}, "error": msg})),
        _ => stream_line(&json!({"errorDetail": {"message": msg}, "error": msg})),
    }
}

fn status(e: &BuildError) -> u16 {
    match e {
        BuildError::Parse(_) | BuildError::Invalid(_) => 400,
        BuildError::Backend(BackendError::NotFound(_)) => 404,
        _ => 500,
    }
}

pub async fn build(d: &Arc<Daemon>, req: Request<Incoming>) -> Resp {
    let q = Query::parse(req.uri().query());
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return response::message(400, "remote build contexts (git repositories, URLs) are not supported by berthd: send the context as a tar");
    }
    if q.get("version") == Some("2") {
        return response::message(400, "BuildKit (version=2) is not supported by berthd: use the classic builder (DOCKER_BUILDKIT=0)");
    }
    let opts = match options(&q) {
        Ok(o) => o,
        Err(m) => return response::message(400, &m),
    };
    let quiet = q.bool("q");
    let Some(store) = d.images.store() else {
        return response::message(500, "image store is not available");
    };
    let body = body_reader(req);
    let dir = d.config.data_root.join("builder").join(format!("context-{}", berth_storage::ids::random_id()));
    let (tx, mut rx) = unbounded_channel::<Bytes>();
    let cancelled = Arc::new(AtomicBool::new(false));
    let backend = BuildBackend::new(d.clone(), store, tokio::runtime::Handle::current());
    let c2 = cancelled.clone();
    let mut job = tokio::task::spawn_blocking(move || -> Result<Option<String>, (BuildError, Vec<Bytes>)> {
        let mut out = ChanOutput { tx, cancelled: c2, held: if quiet { Some(Vec::new()) } else { None } };
        let res = (|| {
            if let Some(p) = dir.parent() {
                std::fs::create_dir_all(p).map_err(|e| BuildError::Step(format!("{}: {e}", p.display())))?;
            }
            let ctx = Context::from_tar(body, &dir).map_err(|e| BuildError::Invalid(e.to_string()))?;
            let df = builder::read_dockerfile(&ctx, &opts.dockerfile)?;
            builder::Builder::new(&backend, &ctx, &opts, &mut out).build(df)
        })();
        match res {
            Ok(b) => Ok(if quiet { Some(b.image_id) } else { None }),
            Err(e) => Err((e, out.held.take().unwrap_or_default())),
        }
    });
    // The first line decides: nothing sent and an error → a plain HTTP error.
    let mut result = None;
    let first = tokio::select! {
        biased;
        m = rx.recv() => m,
        r = &mut job => {
            result = Some(r);
            rx.try_recv().ok()
        }
    };
    if first.is_none() {
        let r = match result {
            Some(r) => r,
            None => (&mut job).await,
        };
        match r {
            Ok(Err((e, held))) if held.is_empty() => return response::message(status(&e), &e.to_string()),
            Err(e) => return response::message(500, &format!("build panicked: {e}")),
            other => result = Some(other),
        }
    }
    let (htx, resp) = response::channel(200, Some("application/json"));
    tokio::spawn(async move {
        let mut fw = Forward { tx: htx, gone: false };
        if let Some(b) = first {
            fw.send(b).await;
        }
        if result.is_none() {
            while let Some(b) = rx.recv().await {
                fw.send(b).await;
                if fw.gone {
                    cancelled.store(true, Ordering::Relaxed);
                }
            }
        }
        let r = match result {
            Some(r) => r,
            None => job.await,
        };
        while let Ok(b) = rx.try_recv() {
            fw.send(b).await;
        }
        match r {
            Ok(Ok(Some(id))) => fw.send(stream_line(&json!({"stream": format!("{id}\n")}))).await,
            Ok(Ok(None)) => {}
            Ok(Err((e, held))) => {
                for b in held {
                    fw.send(b).await;
                }
                fw.send(error_line(&e)).await;
            }
            Err(e) => fw.send(stream_line(&json!({"errorDetail": {"message": format!("build panicked: {e}")}, "error": format!("build panicked: {e}")}))).await,
        }
    });
    resp
}

/// Lines to the client until it goes away (then dropped, and the build told to stop).
struct Forward {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    gone: bool,
}

impl Forward {
    async fn send(&mut self, b: Bytes) {
        if !self.gone && self.tx.send(b).await.is_err() {
            self.gone = true;
        }
    }
}

/// `POST /build/prune`: the classic builder keeps no cache apart from its intermediate images
/// (which `docker image prune` removes), as dockerd 20.10 without BuildKit answers.
pub async fn prune(req: Request<Incoming>) -> Resp {
    let _ = super::router::body_bytes(req).await;
    response::json(200, &json!({"CachesDeleted": null, "SpaceReclaimed": 0}))
}
