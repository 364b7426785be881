//! `--init`: Docker's docker-init is tini. The binary is bind-mounted read-only at
//! `/sbin/docker-init` and becomes PID 1 (`docker-init -- cmd…`), reaping zombies and
//! forwarding signals to the command.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::error::DaemonError;

pub const INIT_IN_CONTAINER: &str = "/sbin/docker-init";

/// Where tini's static build lives on Debian (`apt-get install tini`): the container's libc
/// is unknown, so only a static init works in every image.
const FALLBACK: &str = "/usr/bin/tini-static";

/// The init binary: `init-path`, else `docker-init` in PATH (as dockerd), else tini-static.
pub fn resolve(configured: Option<&Path>) -> Result<PathBuf, DaemonError> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(DaemonError::System(format!("docker-init binary not found at {}: no such file or directory", p.display())))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let c = dir.join("docker-init");
        if c.is_file() {
            return Ok(c);
        }
    }
    if Path::new(FALLBACK).is_file() {
        return Ok(FALLBACK.into());
    }
    Err(DaemonError::System("exec: \"docker-init\": executable file not found in $PATH (install tini: apt-get install tini)".into()))
}

/// Mount the init and put it in front of the process args.
pub fn apply(spec: &mut Value, init: &Path) {
    if let Some(m) = spec["mounts"].as_array_mut() {
        m.push(json!({"destination": INIT_IN_CONTAINER, "type": "bind", "source": init, "options": ["bind", "ro"]}));
    }
    let args = spec["process"]["args"].as_array().cloned().unwrap_or_default();
    let mut full = vec![json!(INIT_IN_CONTAINER), json!("--")];
    full.extend(args);
    spec["process"]["args"] = Value::Array(full);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepends_and_mounts() {
        let mut s = json!({"process": {"args": ["sh", "-c", "x"]}, "mounts": []});
        apply(&mut s, Path::new("/usr/bin/tini-static"));
        assert_eq!(s["process"]["args"], json!(["/sbin/docker-init", "--", "sh", "-c", "x"]));
        assert_eq!(s["mounts"][0]["options"], json!(["bind", "ro"]));
        assert_eq!(s["mounts"][0]["source"], "/usr/bin/tini-static");
        let e = resolve(Some(Path::new("/nonexistent/init"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/init"), "{e}");
    }
}
