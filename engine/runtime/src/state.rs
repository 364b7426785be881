//! Container state under `--root`: `<root>/<id>/state.json` (written atomically) and
//! `<root>/<id>/exec.fifo`, whose existence means "created, not yet started".

use crate::cgroups::AnyManager;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/run/berth/runtime";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container does not exist")]
    NotExist,
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container id {0:?}: only letters, digits, '_', '-', '.' are allowed")]
    BadId(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// What berth remembers about a container (a superset of the OCI state).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    /// /proc/<pid>/stat start time: tells our init from a recycled pid.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Option<AnyManager>,
}

/// The OCI state document `state ID` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub status: &'static str,
    pub pid: i32,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
}

pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_-.+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StateError::BadId(id.into()))
    }
}

pub fn container_dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Claims `<root>/<id>` (mkdir is the lock: a second create with the same id fails here).
pub fn claim(root: &Path, id: &str) -> Result<PathBuf, StateError> {
    validate_id(id)?;
    std::fs::create_dir_all(root).map_err(io(root))?;
    let dir = container_dir(root, id);
    match std::fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StateError::Exists(id.into())),
        Err(e) => Err(StateError::Io { path: dir, source: e }),
    }
}

impl State {
    pub fn load(root: &Path, id: &str) -> Result<State, StateError> {
        validate_id(id)?;
        let path = container_dir(root, id).join("state.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::NotExist),
            Err(e) => return Err(StateError::Io { path, source: e }),
        };
        serde_json::from_str(&text).map_err(|source| StateError::Json { path, source })
    }

    /// Writes state.json via a temp file and rename, so readers never see half a file.
    pub fn save(&self, root: &Path) -> Result<(), StateError> {
        let dir = container_dir(root, &self.id);
        let tmp = dir.join("state.json.tmp");
        let text = serde_json::to_vec(self).expect("state serializes");
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        let path = dir.join("state.json");
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    pub fn dir(&self, root: &Path) -> PathBuf {
        container_dir(root, &self.id)
    }

    pub fn status(&self, root: &Path) -> Status {
        if !process_alive(self.pid, self.start_time) {
            Status::Stopped
        } else if self.dir(root).join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    pub fn oci<'a>(&'a self, status: Status) -> OciState<'a> {
        OciState {
            oci_version: &self.oci_version,
            id: &self.id,
            status: status.as_str(),
            pid: if status == Status::Stopped { 0 } else { self.pid },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            owner: &self.owner,
            annotations: &self.annotations,
        }
    }
}

/// (state char, start time) from /proc/<pid>/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parens: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((state, start)) => start == start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

/// RFC 3339 UTC timestamp with nanoseconds, like runc's `created`.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str) -> State {
        State {
            oci_version: "1.0.2".into(),
            id: id.into(),
            pid: std::process::id() as i32,
            start_time: proc_stat(std::process::id() as i32).unwrap().1,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroup: None,
        }
    }

    #[test]
    fn claim_save_load_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let dir = claim(&root, "c1").unwrap();
        assert!(matches!(claim(&root, "c1"), Err(StateError::Exists(_))));
        assert_eq!(claim(&root, "c1").unwrap_err().to_string(), "container with id exists: c1");
        let s = state("c1");
        s.save(&root).unwrap();
        let loaded = State::load(&root, "c1").unwrap();
        assert_eq!(loaded.pid, s.pid);
        assert_eq!(loaded.status(&root), Status::Running);
        std::fs::write(dir.join(EXEC_FIFO), "").unwrap();
        assert_eq!(loaded.status(&root), Status::Created);
        let stale = State { start_time: s.start_time + 1, ..loaded };
        assert_eq!(stale.status(&root), Status::Stopped);
        assert_eq!(stale.oci(Status::Stopped).pid, 0);
        assert!(matches!(State::load(&root, "nope"), Err(StateError::NotExist)));
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("abc-1_2.3").is_ok());
        for bad in ["", "..", "a/b", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
