//! Rendering of pull/push/load progress streams: indicatif bars (one line per layer) on a
//! terminal, Docker's plain lines otherwise (`jsonmessage.Display` with isTerminal=false:
//! byte-progress lines and `aux` records are skipped, `stream` text prints as it is, others
//! print as `<id>: <status>`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// An `error` in the stream: the operation failed after it started.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamError(pub String);

fn has_bytes(m: &Value) -> bool {
    let d = &m["progressDetail"];
    d["current"].as_i64().unwrap_or(0) > 0 || d["total"].as_i64().unwrap_or(0) > 0
}

fn error_of(m: &Value) -> Option<String> {
    m["errorDetail"]["message"].as_str().or_else(|| m["error"].as_str()).map(String::from)
}

/// One message as a plain line, or `None` when Docker's non-terminal display skips it.
pub fn plain_line(m: &Value) -> Option<String> {
    if m.get("aux").is_some() || has_bytes(m) {
        return None;
    }
    let status = m["status"].as_str().unwrap_or("");
    Some(match m["id"].as_str() {
        Some(id) if !id.is_empty() => format!("{id}: {status}"),
        _ => status.to_string(),
    })
}

/// Reads the stream to its end; `Err` with the first error message in it.
/// With `tty`, `out` must be stdout (the bars are drawn there).
pub fn display(body: &mut dyn Read, out: &mut dyn Write, tty: bool) -> Result<Vec<Value>, StreamError> {
    display_with(body, out, tty.then_some(ProgressDrawTarget::stdout as fn() -> ProgressDrawTarget))
}

/// As [`display`], everything on stderr (the implicit pull of `run`/`create`, whose stdout is
/// the container's).
pub fn display_on_stderr(body: &mut dyn Read, tty: bool) -> Result<Vec<Value>, StreamError> {
    display_with(body, &mut std::io::stderr(), tty.then_some(ProgressDrawTarget::stderr as fn() -> ProgressDrawTarget))
}

fn display_with(body: &mut dyn Read, out: &mut dyn Write, bars: Option<fn() -> ProgressDrawTarget>) -> Result<Vec<Value>, StreamError> {
    let mut bars = bars.map(Bars::new);
    let mut all = Vec::new();
    for line in BufReader::new(body).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let Ok(m) = serde_json::from_str::<Value>(&line) else { continue };
        if let Some(e) = error_of(&m) {
            if let Some(b) = &mut bars {
                b.finish(out);
            }
            return Err(StreamError(e));
        }
        match (&mut bars, m["stream"].as_str()) {
            (Some(b), _) => b.show(&m, out),
            (None, Some(s)) => {
                let _ = write!(out, "{s}");
            }
            (None, None) => {
                if let Some(l) = plain_line(&m) {
                    let _ = writeln!(out, "{l}");
                }
            }
        }
        all.push(m);
    }
    if let Some(b) = &mut bars {
        b.finish(out);
    }
    Ok(all)
}

/// The bars of the layers since the last line that was not about a layer.
struct Bars {
    target: fn() -> ProgressDrawTarget,
    mp: MultiProgress,
    by_id: HashMap<String, ProgressBar>,
}

impl Bars {
    fn new(target: fn() -> ProgressDrawTarget) -> Bars {
        Bars { target, mp: MultiProgress::with_draw_target(target()), by_id: HashMap::new() }
    }

    fn show(&mut self, m: &Value, out: &mut dyn Write) {
        if m.get("aux").is_some() {
            return;
        }
        if let Some(s) = m["stream"].as_str() {
            self.finish(out);
            let _ = write!(out, "{s}");
            let _ = out.flush();
            return;
        }
        let status = m["status"].as_str().unwrap_or("").to_string();
        let Some(id) = m["id"].as_str().filter(|i| !i.is_empty()) else {
            self.finish(out);
            let _ = writeln!(out, "{status}");
            let _ = out.flush();
            return;
        };
        let mp = &self.mp;
        let bar = self.by_id.entry(id.to_string()).or_insert_with(|| {
            let b = mp.add(ProgressBar::new(0));
            b.set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("template"));
            b.set_prefix(id.to_string());
            b
        });
        if has_bytes(m) {
            let d = &m["progressDetail"];
            let (cur, total) = (d["current"].as_u64().unwrap_or(0), d["total"].as_u64().unwrap_or(0));
            bar.set_style(
                ProgressStyle::with_template("{prefix}: {msg} [{bar:50.cyan/blue}] {bytes}/{total_bytes}")
                    .expect("template")
                    .progress_chars("=> "),
            );
            bar.set_length(total.max(cur));
            bar.set_position(cur);
        } else {
            bar.set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("template"));
        }
        bar.set_message(status);
    }

    /// Leaves the bars drawn as they are and moves below them: a line that is not about a
    /// layer goes there (jsonmessage, too, forgets its progress lines at such a line), and
    /// later layers get new bars.
    fn finish(&mut self, out: &mut dyn Write) {
        if self.by_id.is_empty() {
            return;
        }
        for (_, b) in self.by_id.drain() {
            b.abandon();
        }
        self.mp = MultiProgress::with_draw_target((self.target)());
        // The cursor is at the end of the last bar.
        let _ = writeln!(out);
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_like_docker() {
        let stream = concat!(
            "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n",
            "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"ae5674c27963\"}\r\n",
            "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":3,\"total\":9},\"progress\":\"[=>   ]\",\"id\":\"ae5674c27963\"}\r\n",
            "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"ae5674c27963\"}\r\n",
            "{\"progressDetail\":{},\"aux\":{\"Tag\":\"latest\"}}\r\n",
            "{\"status\":\"Digest: sha256:abc\"}\r\n",
        );
        let mut out = Vec::new();
        display(&mut stream.as_bytes(), &mut out, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "latest: Pulling from library/busybox\nae5674c27963: Pulling fs layer\nae5674c27963: Pull complete\nDigest: sha256:abc\n"
        );
        let load = concat!(
            "{\"status\":\"Loading layer\",\"progressDetail\":{\"current\":512,\"total\":1024},\"progress\":\"[=>  ]\",\"id\":\"c3adca36456c\"}\r\n",
            "{\"stream\":\"Loaded image: busybox:latest\\n\"}\r\n",
            "{\"stream\":\"Loaded image ID: sha256:abc\\n\"}\r\n",
        );
        let mut out = Vec::new();
        display(&mut load.as_bytes(), &mut out, false).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "Loaded image: busybox:latest\nLoaded image ID: sha256:abc\n");
        let bad = "{\"status\":\"x\"}\n{\"errorDetail\":{\"message\":\"boom\"},\"error\":\"boom\"}\n{\"status\":\"never\"}\n";
        let mut out = Vec::new();
        assert_eq!(display(&mut bad.as_bytes(), &mut out, false).unwrap_err(), StreamError("boom".into()));
        assert_eq!(String::from_utf8(out).unwrap(), "x\n");
    }
}
