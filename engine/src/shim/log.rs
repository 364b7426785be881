//! Docker's json-file log driver: one `{"log":…,"stream":…,"time":…}` object per line,
//! lines split at `\n` and at 16 KiB, a trailing partial line flushed without `\n`.

use std::io::{BufRead, Write};

use serde::Deserialize;

pub const MAX_LINE: usize = 16 * 1024;

/// Encode one entry exactly as Docker does (Go's JSON escaping of `<`, `>`, `&`).
pub fn encode_entry(log: &[u8], stream: &str, time: &str) -> String {
    let text = String::from_utf8_lossy(log);
    let js = serde_json::to_string(&text).expect("string serializes");
    let js = go_escape(&js);
    format!("{{\"log\":{js},\"stream\":\"{stream}\",\"time\":\"{time}\"}}\n")
}

fn go_escape(s: &str) -> String {
    s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

/// Splits a byte stream into log messages (one per line, max 16 KiB each).
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; returns complete messages.
    pub fn push(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            match self.pending.iter().position(|b| *b == b'\n') {
                Some(i) if i < MAX_LINE => {
                    out.push(self.pending.drain(..=i).collect());
                }
                _ if self.pending.len() >= MAX_LINE => {
                    out.push(self.pending.drain(..MAX_LINE).collect());
                }
                _ => break,
            }
        }
        out
    }

    /// At EOF: whatever is left, without a newline.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if self.pending.is_empty() { None } else { Some(std::mem::take(&mut self.pending)) }
    }
}

/// A json-file log writer shared by the stdout and stderr pumps.
pub struct LogWriter {
    file: std::fs::File,
}

impl LogWriter {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o640).open(path)?;
        Ok(LogWriter { file })
    }

    pub fn write(&mut self, msg: &[u8], stream: &str) -> std::io::Result<()> {
        let line = encode_entry(msg, stream, &crate::util::time::now());
        self.file.write_all(line.as_bytes())
    }
}

/// A parsed log entry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Read every entry of a log (bad lines are skipped, as Docker does for a torn last line).
pub fn read_entries<R: BufRead>(r: R) -> Vec<Entry> {
    r.lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_format_is_dockers() {
        assert_eq!(
            encode_entry(b"hello <b>&\n", "stdout", "2026-11-28T00:12:45.959554679Z"),
            "{\"log\":\"hello \\u003cb\\u003e\\u0026\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-28T00:12:45.959554679Z\"}\n"
        );
    }

    #[test]
    fn splitter_lines_chunks_and_tail() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"a\nb"), vec![b"a\n".to_vec()]);
        assert_eq!(s.push(b"c\n"), vec![b"bc\n".to_vec()]);
        let big = vec![b'x'; MAX_LINE + 10];
        let out = s.push(&big);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(s.finish(), Some(vec![b'x'; 10]));
        assert_eq!(s.finish(), None);
    }
}
