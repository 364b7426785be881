//! Listening on every `-H` address (unix and tcp) and serving HTTP/1.1 with upgrades.

use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::daemon::config::{parse_host, ListenAddr};
use crate::daemon::Daemon;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("can't create unix socket {path}: {source}")]
    Unix { path: String, source: std::io::Error },
    #[error("can't listen on tcp {addr}: {source}")]
    Tcp { addr: String, source: std::io::Error },
    #[error("{0}")]
    Config(#[from] crate::daemon::config::ConfigError),
}

/// Bind every host, then serve forever (each listener on its own task).
pub async fn serve(daemon: Arc<Daemon>) -> Result<(), ServerError> {
    let mut tasks = Vec::new();
    for h in &daemon.config.hosts {
        match parse_host(h)? {
            ListenAddr::Unix(p) => {
                if let Some(dir) = p.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::remove_file(&p);
                let l = tokio::net::UnixListener::bind(&p)
                    .map_err(|source| ServerError::Unix { path: p.display().to_string(), source })?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o660));
                let d = daemon.clone();
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok((s, _)) = l.accept().await else { continue };
                        serve_conn(d.clone(), TokioIo::new(s));
                    }
                }));
            }
            ListenAddr::Tcp(a) => {
                let l = tokio::net::TcpListener::bind(&a).await.map_err(|source| ServerError::Tcp { addr: a.clone(), source })?;
                let d = daemon.clone();
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok((s, _)) = l.accept().await else { continue };
                        serve_conn(d.clone(), TokioIo::new(s));
                    }
                }));
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn serve_conn<I>(daemon: Arc<Daemon>, io: TokioIo<I>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let svc = service_fn(move |req| {
            let d = daemon.clone();
            async move { Ok::<_, std::convert::Infallible>(super::router::route(d, req).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, svc)
            .with_upgrades()
            .await;
    });
}
