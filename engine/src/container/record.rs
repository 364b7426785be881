//! The container record: what `config.v2.json` holds, and the state machine's states.

use serde::{Deserialize, Serialize};

use crate::container::config::{Config, HostConfig};
use crate::util::time::{self, ZERO_TIME};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub removal_in_progress: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    pub health: Option<serde_json::Value>,
}

impl Default for State {
    fn default() -> Self {
        State {
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            removal_in_progress: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            health: None,
        }
    }
}

impl State {
    /// `State.Status` of the API: created|running|paused|restarting|removing|exited|dead.
    pub fn status(&self) -> &'static str {
        if self.running {
            if self.paused {
                return "paused";
            }
            if self.restarting {
                return "restarting";
            }
            return "running";
        }
        if self.removal_in_progress {
            return "removing";
        }
        if self.dead {
            return "dead";
        }
        if self.started_at == ZERO_TIME {
            return "created";
        }
        "exited"
    }

    /// The human `Status` column of `docker ps` (moby `container/state.go` `String()`).
    pub fn human(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let since = |t: &str| time::parse(t).map(|t| (now - t).num_seconds()).unwrap_or(0);
        if self.running {
            if self.paused {
                return format!("Up {} (Paused)", time::human_duration(since(&self.started_at)));
            }
            if self.restarting {
                return format!("Restarting ({}) {} ago", self.exit_code, time::human_duration(since(&self.finished_at)));
            }
            return format!("Up {}", time::human_duration(since(&self.started_at)));
        }
        if self.removal_in_progress {
            return "Removal In Progress".into();
        }
        if self.dead {
            return "Dead".into();
        }
        if self.started_at == ZERO_TIME {
            return "Created".into();
        }
        if self.finished_at == ZERO_TIME {
            return String::new();
        }
        format!("Exited ({}) {} ago", self.exit_code, time::human_duration(since(&self.finished_at)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub state: State,
    #[serde(rename = "ID")]
    pub id: String,
    pub created: String,
    pub managed: bool,
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    /// Image ID (`sha256:…`).
    pub image: String,
    pub log_path: String,
    /// With a leading `/`.
    pub name: String,
    pub driver: String,
    #[serde(rename = "OS")]
    pub os: String,
    pub restart_count: i64,
    pub has_been_started_before: bool,
    pub has_been_manually_stopped: bool,
    pub hostname_path: String,
    pub hosts_path: String,
    pub resolv_conf_path: String,
    pub shm_path: String,
    #[serde(default)]
    pub mount_points: serde_json::Map<String, serde_json::Value>,
    #[serde(default, rename = "ExecIDs")]
    pub exec_ids: Vec<String>,
}

/// A container: its record plus its stored host config.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub record: Record,
    pub host_config: HostConfig,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// `Command` column of the list API: path + args, args with spaces single-quoted.
    pub fn command_line(&self) -> String {
        let mut parts = vec![self.record.path.clone()];
        for a in &self.record.args {
            if a.contains(' ') {
                parts.push(format!("'{a}'"));
            } else {
                parts.push(a.clone());
            }
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn statuses() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 28, 0, 1, 0).unwrap();
        let mut s = State::default();
        assert_eq!(s.status(), "created");
        assert_eq!(s.human(now), "Created");
        s.running = true;
        s.started_at = "2026-11-28T00:00:35.5Z".into();
        assert_eq!(s.status(), "running");
        assert_eq!(s.human(now), "Up 24 seconds");
        s.running = false;
        s.exit_code = 137;
        s.finished_at = "2026-11-28T00:00:59Z".into();
        assert_eq!(s.status(), "exited");
        assert_eq!(s.human(now), "Exited (137) 1 second ago");
    }
}
