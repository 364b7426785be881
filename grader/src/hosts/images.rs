//! Fixture images loaded into a host's engine at provisioning: each `images = [...]` entry is
//! `<images dir>/<name>.tar`, streamed to the host's berthd as `POST /images/load` through the
//! socket as the host sees it (`/proc/<init>/root/run/berth.sock`), so no CLI is involved and
//! the archive's path does not have to be visible inside the host.

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
        post_archive(&sock, path).map_err(|e| {
            HostError::Helper(format!(
                "loading fixture image {img} ({}) into {}'s engine: {e}",
                path.display(),
                h.name
            ))
        })?;
    }
    Ok(())
}

/// `POST /images/load` with the archive as body; the engine streams JSON progress lines and
/// reports a failed load as an `error` line inside a 200 response (as dockerd does).
fn post_archive(sock: &Path, archive: &Path) -> Result<(), String> {
    let mut f = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut s = UnixStream::connect(sock).map_err(|e| {
        format!(
            "cannot connect to {}: {e} (is berthd running?)",
            sock.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let head = format!(
        "POST /images/load?quiet=1 HTTP/1.0\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    std::io::copy(&mut f, &mut s).map_err(|e| e.to_string())?;
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
