//! Fixture images put into a host's engine at provisioning. Each `images = [...]` entry names
//! `<images dir>/<name>.tar`. In a lab with a hub the host's berthd pulls it through its
//! registry mirror (`POST /images/create?fromImage=<name>`: a real pull, so the image has its
//! RepoDigests as after `docker pull`); in a lab without one (`hub = false`) the archive is
//! streamed as `POST /images/load`. Both go through the socket as the host sees it
//! (`/proc/<init>/root/run/berth.sock`), so no CLI is involved.

use super::{HostError, VirtualLab};
use crate::catalog::{HostSpec, Lab};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The socket the host's engine serves (the berthd service's `-H unix:///run/berth.sock`).
const SOCKET: &str = "run/berth.sock";

/// The archive of every image the lab's hosts need, or an error naming the first missing one.
pub fn archives(
    lab: &Lab,
    dir: Option<&Path>,
) -> Result<Vec<(String, String, PathBuf)>, HostError> {
    let mut out = Vec::new();
    for h in &lab.hosts {
        for img in &h.images {
            let missing = |path: String| HostError::MissingImage {
                lab: lab.id.clone(),
                host: h.name.clone(),
                image: img.clone(),
                path,
            };
            let Some(dir) = dir else {
                return Err(missing("no fixtures directory configured".into()));
            };
            let p = dir.join(format!("{img}.tar"));
            if !p.is_file() {
                return Err(missing(p.display().to_string()));
            }
            out.push((h.name.clone(), img.clone(), p));
        }
    }
    Ok(out)
}

/// Writes `/etc/berth/daemon.json` naming the hub as registry mirror, unless the host already
/// has one (a lab may ship its own): done before the host's services start.
pub(super) fn mirror_config(vl: &VirtualLab, h: &HostSpec, hub_ip: &str) -> Result<(), HostError> {
    let cmd = format!(
        "mkdir -p /etc/berth && if [ ! -e /etc/berth/daemon.json ]; then printf '%s' '{}' > /etc/berth/daemon.json; fi",
        super::hub::daemon_json(hub_ip).trim_end()
    );
    let out = vl.run(&h.name, &cmd, Duration::from_secs(10))?;
    if out.status != 0 {
        return Err(HostError::Helper(format!(
            "writing {}'s /etc/berth/daemon.json: {}",
            h.name,
            out.stderr.trim()
        )));
    }
    Ok(())
}

fn socket(vl: &VirtualLab, host: &str) -> Result<PathBuf, HostError> {
    let pid = vl
        .host_state(host)?
        .init
        .as_ref()
        .map(|p| p.pid)
        .unwrap_or(0);
    Ok(vl
        .config
        .proc_root
        .join(pid.to_string())
        .join("root")
        .join(SOCKET))
}

/// Pulls the host's images through its engine (and so through the hub, its mirror).
pub(super) fn pull(vl: &VirtualLab, h: &HostSpec) -> Result<(), HostError> {
    if h.images.is_empty() {
        return Ok(());
    }
    let sock = socket(vl, &h.name)?;
    for img in &h.images {
        let q = format!("/images/create?fromImage={img}&tag=latest");
        request(&sock, "POST", &q, None).map_err(|e| {
            HostError::Helper(format!(
                "pulling fixture image {img} into {}'s engine through the lab hub: {e}",
                h.name
            ))
        })?;
    }
    Ok(())
}

/// Loads the host's images into its engine.
pub(super) fn load(
    vl: &VirtualLab,
    h: &HostSpec,
    archives: &[(String, String, PathBuf)],
) -> Result<(), HostError> {
    let pid = vl
        .host_state(&h.name)?
        .init
        .as_ref()
        .map(|p| p.pid)
        .unwrap_or(0);
    let sock = vl
        .config
        .proc_root
        .join(pid.to_string())
        .join("root")
        .join(SOCKET);
    for (_, img, path) in archives.iter().filter(|(host, _, _)| *host == h.name) {
        request(&sock, "POST", "/images/load?quiet=1", Some(path)).map_err(|e| {
            HostError::Helper(format!(
                "loading fixture image {img} ({}) into {}'s engine: {e}",
                path.display(),
                h.name
            ))
        })?;
    }
    Ok(())
}

/// A request with an optional file as body (`POST /images/load`, `POST /images/create`); the
/// engine streams JSON progress lines and reports a failure as an `error` line inside a 200
/// response (as dockerd does).
fn request(sock: &Path, method: &str, path: &str, body: Option<&Path>) -> Result<(), String> {
    let mut f = match body {
        Some(b) => Some(std::fs::File::open(b).map_err(|e| e.to_string())?),
        None => None,
    };
    let len = match &f {
        Some(f) => f.metadata().map_err(|e| e.to_string())?.len(),
        None => 0,
    };
    let mut s = UnixStream::connect(sock).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is berthd running?)",
            sock.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(300))).ok();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    if let Some(f) = f.as_mut() {
        std::io::copy(f, &mut s).map_err(|e| e.to_string())?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("truncated HTTP response")?;
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    if status != "200" {
        return Err(format!("HTTP {status}: {}", body.trim()));
    }
    if let Some(line) = body.lines().find(|l| l.contains("\"error\"")) {
        return Err(line.trim().to_string());
    }
    Ok(())
}
