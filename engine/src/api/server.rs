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
                if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o660)) {
                    tracing::warn!(error = %e, "can't set the mode of {}", p.display());
                }
                tracing::info!("API listen on {}", p.display());
                let d = daemon.clone();
                tasks.push(tokio::spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok((s, _)) => serve_conn(d.clone(), TokioIo::new(s)),
                            Err(e) => accept_failed(e).await,
                        }
                    }
                }));
            }
            ListenAddr::Tcp(a) => {
                let l = tokio::net::TcpListener::bind(&a).await.map_err(|source| ServerError::Tcp { addr: a.clone(), source })?;
                // dockerd's warning for a plain-TCP socket (anyone who can reach it is root here).
                tracing::warn!("Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.");
                tracing::info!("API listen on {a}");
                let d = daemon.clone();
                tasks.push(tokio::spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok((s, _)) => serve_conn(d.clone(), TokioIo::new(s)),
                            Err(e) => accept_failed(e).await,
                        }
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

/// A failed `accept` (out of file descriptors, mostly): logged, and a short pause so that a
/// persistent failure does not spin.
async fn accept_failed(e: std::io::Error) {
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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
        if let Err(e) = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, svc).with_upgrades().await {
            tracing::debug!(error = %e, "API connection");
        }
    });
}
