//! Progress events shaped like Docker's JSON progress lines (the `/images/create` and
//! `/images/{name}/push` streams), so the daemon can forward them unchanged and the CLI can
//! render them as Docker's CLI does.

use serde::Serialize;
use std::sync::Mutex;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// One JSON progress line: `{"status":…,"progressDetail":{…},"progress":…,"id":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressMessage {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The push's final `{"Tag","Digest","Size"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl ProgressMessage {
    /// A line without id (`Digest: …`, `The push refers to repository […]`).
    pub fn status(status: impl Into<String>) -> Self {
        ProgressMessage {
            status: status.into(),
            ..Default::default()
        }
    }
    /// A per-layer state line with an empty `progressDetail`, as Docker sends them.
    pub fn layer(id: &str, status: impl Into<String>) -> Self {
        ProgressMessage {
            status: status.into(),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.to_string()),
            ..Default::default()
        }
    }
    /// `Downloading` / `Pushing` with byte counts and the rendered bar.
    pub fn bytes(id: &str, status: &str, current: u64, total: u64) -> Self {
        ProgressMessage {
            status: status.into(),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            progress: Some(render_bar(current, total)),
            id: Some(id.to_string()),
            aux: None,
        }
    }
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("progress serialises")
    }
}

/// Receives progress; implemented for channels and closures. Must not block.
pub trait ProgressSink: Send + Sync {
    fn emit(&self, msg: ProgressMessage);
}

/// Discards progress.
pub struct NoProgress;
impl ProgressSink for NoProgress {
    fn emit(&self, _: ProgressMessage) {}
}

impl ProgressSink for tokio::sync::mpsc::UnboundedSender<ProgressMessage> {
    fn emit(&self, msg: ProgressMessage) {
        let _ = self.send(msg);
    }
}

/// Collects every message (tests, and callers that print at the end).
#[derive(Debug, Default)]
pub struct ProgressLog(pub Mutex<Vec<ProgressMessage>>);
impl ProgressSink for ProgressLog {
    fn emit(&self, msg: ProgressMessage) {
        self.0.lock().unwrap().push(msg);
    }
}
impl ProgressLog {
    pub fn messages(&self) -> Vec<ProgressMessage> {
        self.0.lock().unwrap().clone()
    }
}

/// Docker's `JSONProgress.String()` as the daemon renders it (width 200: the bar is shown):
/// `[=====>      ]  3.678kB/300.3kB`; the total is omitted when current exceeds it.
pub fn render_bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let pct = ((current as f64 / total as f64 * 100.0) as i64 / 2).clamp(0, 50) as usize;
    let bar = format!("[{}>{}] ", "=".repeat(pct), " ".repeat(50 - pct));
    if current > total {
        format!("{bar}{:>8}", human_size(current))
    } else {
        format!("{bar}{:>8}/{}", human_size(current), human_size(total))
    }
}

/// go-units `HumanSize`: decimal units, 4 significant digits (`%.4g`).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", format_g4(v), UNITS[i])
}

/// `%.4g` for 0 ≤ v < 1000: 4 significant digits, trailing zeros dropped.
fn format_g4(v: f64) -> String {
    let int_digits = if v < 1.0 {
        1
    } else {
        (v.log10().floor() as usize) + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(3678), "3.678kB");
        assert_eq!(human_size(300285), "300.3kB");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(2_500_000), "2.5MB");
        assert_eq!(human_size(0), "0B");
    }

    #[test]
    fn docker_json_shape() {
        let m = ProgressMessage::bytes("ae5674c27963", "Downloading", 3678, 300285);
        assert_eq!(
            m.to_json_line(),
            format!(
                r#"{{"status":"Downloading","progressDetail":{{"current":3678,"total":300285}},"progress":"[>{}]  3.678kB/300.3kB","id":"ae5674c27963"}}"#,
                " ".repeat(50)
            )
        );
        assert_eq!(
            ProgressMessage::layer("ae5674c27963", "Pull complete").to_json_line(),
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"ae5674c27963"}"#
                .replace("Pulling fs layer", "Pull complete")
        );
        // push example of docker-internals §5.6: current > total shows only current
        assert!(
            render_bar(512, 6).ends_with("]     512B"),
            "{}",
            render_bar(512, 6)
        );
    }
}
