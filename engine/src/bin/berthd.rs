//! `berthd`: the daemon serving the Docker Engine API 1.41.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use berth::daemon::config::{DaemonConfig, Flags};
use berth::daemon::images::ImageBackend;
use berth::daemon::storage::StoreBackend;
use berth::daemon::Daemon;

#[derive(Parser, Debug)]
#[command(name = "berthd", about = "A self-sufficient runtime for containers (Docker Engine API 1.41)", version)]
struct Args {
    /// Daemon socket(s) to connect to (unix:///path, tcp://addr:port)
    #[arg(short = 'H', long = "host")]
    hosts: Vec<String>,
    /// Daemon configuration file
    #[arg(long = "config-file")]
    config_file: Option<PathBuf>,
    /// Root directory of persistent berth state
    #[arg(long = "data-root")]
    data_root: Option<PathBuf>,
    /// Root directory for execution state files
    #[arg(long = "exec-root")]
    exec_root: Option<PathBuf>,
    /// Path to use for daemon PID file
    #[arg(short = 'p', long = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Storage driver to use
    #[arg(short = 's', long = "storage-driver")]
    storage_driver: Option<String>,
    /// Default OCI runtime for containers (runc or berth)
    #[arg(long = "default-runtime")]
    default_runtime: Option<String>,
    /// Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")
    #[arg(short = 'l', long = "log-level")]
    log_level: Option<String>,
    /// Set parent cgroup for all containers
    #[arg(long = "cgroup-parent")]
    cgroup_parent: Option<String>,
}

fn berth_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_BINARY") {
        return p.into();
    }
    let me = std::env::current_exe().unwrap_or_default();
    me.parent().map(|d| d.join("berth")).unwrap_or_else(|| "berth".into())
}

fn image_backend(cfg: &DaemonConfig) -> anyhow::Result<Arc<dyn ImageBackend>> {
    let kind = if cfg.storage_driver.is_empty() { Some(berth_storage::DriverKind::Auto) } else { berth_storage::DriverKind::parse(&cfg.storage_driver) };
    let kind = kind
        .with_context(|| format!("unknown storage driver \"{}\" (supported: overlay2, vfs)", cfg.storage_driver))?;
    let store = berth_storage::Store::open(&cfg.data_root, kind).with_context(|| format!("storage at {}", cfg.data_root.display()))?;
    Ok(Arc::new(StoreBackend { store: Arc::new(store) }))
}

fn main() {
    let a = Args::parse();
    let flags = Flags {
        hosts: a.hosts,
        config_file: a.config_file,
        data_root: a.data_root,
        exec_root: a.exec_root,
        pidfile: a.pidfile,
        storage_driver: a.storage_driver,
        default_runtime: a.default_runtime,
        log_level: a.log_level,
        cgroup_parent: a.cgroup_parent,
    };
    let cfg = match DaemonConfig::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berthd: {e}");
            std::process::exit(1);
        }
    };
    // Errors before this point (flags, daemon.json) went to stderr plainly.
    berth::daemon::logging::init(&cfg.log_level);
    if let Err(e) = run(cfg) {
        // Like dockerd's "failed to start daemon: …": the last line, plain, for humans.
        eprintln!("berthd: {e:#}");
        std::process::exit(1);
    }
}

fn run(cfg: DaemonConfig) -> anyhow::Result<()> {
    tracing::info!("Starting up");
    tracing::debug!(config = %serde_json::to_string(&cfg).unwrap_or_default(), "Effective configuration");
    std::fs::create_dir_all(&cfg.data_root).with_context(|| format!("data root {}", cfg.data_root.display()))?;
    std::fs::create_dir_all(&cfg.exec_root).with_context(|| format!("exec root {}", cfg.exec_root.display()))?;
    if let Ok(old) = std::fs::read_to_string(&cfg.pidfile) {
        if let Ok(pid) = old.trim().parse::<i32>() {
            // SAFETY: existence probe only.
            if pid != std::process::id() as i32 && unsafe { libc::kill(pid, 0) } == 0 && std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "berthd" {
                    anyhow::bail!("pid file found, ensure berthd is not running or delete {}", cfg.pidfile.display());
                }
            }
        }
    }
    std::fs::write(&cfg.pidfile, std::process::id().to_string()).with_context(|| format!("pidfile {}", cfg.pidfile.display()))?;
    let images = image_backend(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let daemon = Daemon::new(cfg.clone(), images, berth_binary()).map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!("Loading containers: start.");
        daemon.recover().await;
        tracing::info!("Loading containers: done.");
        tracing::info!(
            version = berth::ENGINE_VERSION,
            "storage-driver" = %daemon.images.driver_name(),
            "default-runtime" = %cfg.default_runtime,
            "Berth daemon"
        );
        tracing::info!("Daemon has completed initialization");
        let d = daemon.clone();
        let server = tokio::spawn(async move { berth::api::server::serve(d).await });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        tokio::select! {
            r = server => { r??; }
            _ = term.recv() => tracing::info!("Processing signal 'terminated'"),
            _ = int.recv() => tracing::info!("Processing signal 'interrupt'"),
        }
        // Containers keep running under their shims; the next berthd re-attaches to them.
        daemon.net_shutdown();
        let _ = std::fs::remove_file(&cfg.pidfile);
        for h in &cfg.hosts {
            if let Ok(berth::daemon::config::ListenAddr::Unix(p)) = berth::daemon::config::parse_host(h) {
                let _ = std::fs::remove_file(p);
            }
        }
        tracing::info!("Daemon shutdown complete");
        anyhow::Ok(())
    })
}
