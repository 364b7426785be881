//! Exec endpoints: create, start (hijacked unless detached), resize, inspect.

use std::sync::Arc;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::Request;
use serde::Deserialize;
use serde_json::json;

use super::query::Query;
use super::response::{self, Resp};
use super::router::json_body;
use crate::daemon::exec::ExecConfig;
use crate::daemon::Daemon;

pub async fn create(d: &Arc<Daemon>, id: &str, req: Request<Incoming>) -> Resp {
    let cfg: ExecConfig = match json_body(req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match d.exec_create(id, cfg) {
        Ok(id) => response::json(201, &json!({"Id": id})),
        Err(e) => response::error(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
}

pub async fn start(d: &Arc<Daemon>, id: &str, mut req: Request<Incoming>) -> Resp {
    let body = match http_body_util::BodyExt::collect(req.body_mut()).await {
        Ok(b) => b.to_bytes(),
        Err(e) => return response::message(400, &e.to_string()),
    };
    let sb: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return response::message(400, &e.to_string()),
        }
    };
    let e = match d.exec_get(id) {
        Ok(e) => e,
        Err(e) => return response::error(&e),
    };
    if sb.detach {
        return match d.exec_start(id, false).await {
            Ok(_) => response::empty(200),
            Err(e) => response::error(&e),
        };
    }
    let tty = e.config.tty || sb.tty;
    if !req.headers().contains_key(http::header::UPGRADE) {
        return match d.exec_start(id, true).await {
            Ok(stream) => super::attach::hijack(&mut req, tty, async move { stream }),
            Err(e) => response::error(&e),
        };
    }
    // As 20.10: upgrade first, then start; a start error is written into the stream (stdout)
    // and the exit code is left for `GET /exec/{id}/json`.
    let (d, id) = (d.clone(), id.to_string());
    // The detach keys of exec create (checked there), for a TTY exec with stdin; a detach
    // leaves the process running and logs `exec_detach`.
    let detach = (tty && e.config.attach_stdin).then(|| {
        let keys = super::attach::escape::daemon_keys(&e.config.detach_keys, "escape")
            .unwrap_or_else(|_| super::attach::escape::DEFAULT_KEYS.to_vec());
        let (d, cid, id) = (d.clone(), e.container_id.clone(), id.clone());
        super::attach::Detach {
            keys,
            on_detach: Box::new(move || d.container_event_ref(&cid, "exec_detach", &[("execID", id)])) as Box<dyn FnOnce() + Send>,
        }
    });
    super::attach::hijack_with(&mut req, move |mut io| async move {
        use tokio::io::AsyncWriteExt;
        match d.exec_start(&id, true).await {
            Ok(Some(stream)) => {
                super::attach::bridge(io, stream, tty, detach).await;
            }
            Ok(None) => {
                let _ = io.shutdown().await;
            }
            Err(e) => {
                let msg = format!("{e}\r\n");
                let out = if tty { msg.into_bytes() } else { crate::shim::proto::frame(crate::shim::proto::STDOUT, msg.as_bytes()) };
                let _ = io.write_all(&out).await;
                let _ = io.shutdown().await;
            }
        }
    })
}

pub fn resize(d: &Daemon, id: &str, q: &Query) -> Resp {
    let h = q.int("h").unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    let w = q.int("w").unwrap_or(0).clamp(0, u16::MAX as i64) as u16;
    match d.exec_resize(id, h, w) {
        Ok(()) => response::empty(200),
        Err(e) => response::error(&e),
    }
}

pub fn inspect(d: &Daemon, id: &str) -> Resp {
    let e = match d.exec_get(id) {
        Ok(e) => e,
        Err(e) => return response::error(&e),
    };
    // The shim records the exit before closing the attach stream; trust it over our monitor,
    // which may not have caught up when the CLI asks right after the stream ended.
    let dir = d.config.exec_root.join("exec").join(id);
    let (running, code) = match crate::shim::proto::read_exit_file(&dir) {
        Some(x) => (false, Some(x.exit_code)),
        None => (e.running, e.exit_code),
    };
    let args = e.config.cmd.clone().unwrap_or_default();
    response::json(
        200,
        &json!({
            "CanRemove": false,
            "ContainerID": e.container_id,
            // moby keeps the parsed keys ([]byte: base64 in JSON; empty when none were given).
            "DetachKeys": super::attach::escape::to_bytes(&e.config.detach_keys)
                .ok()
                .filter(|_| !e.config.detach_keys.is_empty())
                .map(|k| base64::engine::general_purpose::STANDARD.encode(k))
                .unwrap_or_default(),
            "ExitCode": code,
            "ID": e.id,
            "OpenStderr": e.config.attach_stderr,
            "OpenStdin": e.config.attach_stdin,
            "OpenStdout": e.config.attach_stdout,
            "ProcessConfig": {
                "arguments": args.get(1..).unwrap_or(&[]),
                "entrypoint": args.first().cloned().unwrap_or_default(),
                "privileged": e.config.privileged,
                "tty": e.config.tty,
                "user": e.config.user,
            },
            "Running": running,
            "Pid": e.pid,
        }),
    )
}
