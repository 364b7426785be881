//! berthd's own log: `tracing` events written to stderr as dockerd's logrus text lines,
//! `time="2026-12-07T22:40:15.123456789Z" level=warning msg="…" key=value`, filtered by the
//! daemon's `log-level` (flag over daemon.json).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Docker's `log-level` (as validated by the config: debug, info, warn, error, fatal) as a
/// level. tracing has no fatal: it is error. Anything else is info, the default.
pub fn level_filter(level: &str) -> LevelFilter {
    match level {
        "debug" => LevelFilter::DEBUG,
        "warn" | "warning" => LevelFilter::WARN,
        "error" | "fatal" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    }
}

/// The filter for a `log-level`: that level for berth's crates (`berth`, `berth_registry`, …:
/// targets match by prefix), and dependencies (hyper, h2, rustls, reqwest through `log`) no
/// chattier than info, or their debug lines would drown the daemon's. The netlink crates warn
/// on every link dump of a kernel newer than they know (`IFLA_INET6_CONF … expecting 236, got
/// 240`): only their errors are shown.
pub fn filter(level: &str) -> Targets {
    let own = level_filter(level);
    Targets::new()
        .with_default(own.min(LevelFilter::INFO))
        .with_target("berth", own)
        .with_target("netlink_", own.min(LevelFilter::ERROR))
}

/// Installs the stderr logger; a second call (or one after another subscriber) does nothing.
pub fn init(level: &str) {
    let _ = subscriber(level, std::io::stderr).try_init();
}

/// The subscriber `init` installs, writing to `w` (tests give a buffer).
pub fn subscriber<W>(level: &str, w: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(w).event_format(Logrus);
    tracing_subscriber::registry().with(filter(level)).with(fmt)
}

/// logrus's level names (`WARN` is `warning`).
pub fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warning",
        Level::ERROR => "error",
    }
}

/// The event formatter: logrus's `TextFormatter` as dockerd sets it up (full RFC 3339 time
/// with nanoseconds, no colours); fields after `msg`, sorted by key as logrus does.
pub struct Logrus;

impl<S, N> FormatEvent<S, N> for Logrus
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
        w.write_str(&line(&time, event.metadata().level(), &f.msg, f.fields))
    }
}

/// One log line, newline included.
pub fn line(time: &str, level: &Level, msg: &str, mut fields: Vec<(String, String)>) -> String {
    let mut out = format!("time={} level={} msg={}", value(time), level_name(level), value(msg));
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in fields {
        let _ = write!(out, " {k}={}", value(&v));
    }
    out.push('\n');
    out
}

/// logrus quotes a value unless it is only `[A-Za-z0-9-._/@^+]` (an empty one stays bare), with
/// Go's `%q`: `\"`, `\\`, `\n`, … and `\x..` / `\u....` for other unprintables.
fn value(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._/@^+".contains(c);
    if s.chars().all(plain) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The event's `message` and its other fields (Display for `%x` and errors, Debug for `?x`).
/// `log.*` fields (what the `log` bridge adds: target, file, line) are left out.
#[derive(Default)]
struct Fields {
    msg: String,
    fields: Vec<(String, String)>,
}

impl Fields {
    fn put(&mut self, field: &Field, v: String) {
        match field.name() {
            "message" => self.msg = v,
            n if n.starts_with("log.") => {}
            n => self.fields.push((n.to_string(), v)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn logrus_lines() {
        let t = "2026-12-07T22:40:15.123456789Z";
        assert_eq!(
            line(t, &Level::WARN, "mirror failed", vec![]),
            "time=\"2026-12-07T22:40:15.123456789Z\" level=warning msg=\"mirror failed\"\n"
        );
        assert_eq!(line(t, &Level::INFO, "x", vec![]), format!("time=\"{t}\" level=info msg=x\n"));
        assert!(line(t, &Level::DEBUG, "", vec![]).contains(" level=debug msg=\n"));
        assert!(line(t, &Level::ERROR, "a", vec![]).contains(" level=error msg=a\n"));
        // Go's %q: quotes and backslashes escaped, the line stays one line.
        assert_eq!(
            line(t, &Level::ERROR, "say \"hi\"\nthen C:\\x\tend\x01", vec![]),
            format!("time=\"{t}\" level=error msg=\"say \\\"hi\\\"\\nthen C:\\\\x\\tend\\x01\"\n")
        );
        // Fields sorted by key, quoted only when needed; unicode kept.
        let fields = vec![
            ("network".to_string(), "br-1".to_string()),
            ("error".to_string(), "no such file: /run/x".to_string()),
            ("container".to_string(), "ab12".to_string()),
            ("name".to_string(), "café".to_string()),
        ];
        assert_eq!(
            line(t, &Level::WARN, "teardown failed", fields),
            format!("time=\"{t}\" level=warning msg=\"teardown failed\" container=ab12 error=\"no such file: /run/x\" name=\"café\" network=br-1\n")
        );
    }

    #[test]
    fn config_levels() {
        assert_eq!(level_filter("debug"), LevelFilter::DEBUG);
        assert_eq!(level_filter("info"), LevelFilter::INFO);
        assert_eq!(level_filter("warn"), LevelFilter::WARN);
        assert_eq!(level_filter("error"), LevelFilter::ERROR);
        assert_eq!(level_filter("fatal"), LevelFilter::ERROR);
        let f = filter("warn");
        assert!(f.would_enable("berth::daemon::network", &Level::WARN));
        assert!(!f.would_enable("berth::daemon::network", &Level::INFO));
        assert!(f.would_enable("berth_registry::transfer::pull", &Level::WARN));
        assert!(!f.would_enable("hyper::proto", &Level::INFO));
        let f = filter("debug");
        assert!(f.would_enable("berth::daemon::lifecycle", &Level::DEBUG));
        assert!(f.would_enable("berth_net::dns", &Level::DEBUG));
        assert!(!f.would_enable("berth::daemon::lifecycle", &Level::TRACE));
        // Dependencies stay at info when berth logs debug.
        assert!(!f.would_enable("h2::codec", &Level::DEBUG));
        assert!(f.would_enable("rustls::conn", &Level::INFO));
        assert!(!f.would_enable("netlink_packet_route::link", &Level::WARN));
        assert!(f.would_enable("netlink_packet_route::link", &Level::ERROR));
        let f = filter("fatal");
        assert!(f.would_enable("berth", &Level::ERROR) && !f.would_enable("berth", &Level::WARN));
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(level: &str, f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let w = buf.clone();
        tracing::subscriber::with_default(subscriber(level, move || w.clone()), f);
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn subscriber_filters_and_formats() {
        let emit = || {
            tracing::debug!("details");
            tracing::info!(container = "ab12", "started");
            tracing::warn!(error = %std::io::Error::other("boom \"x\""), network = "br-1", "teardown failed");
            tracing::error!("bad");
        };
        let out = logged("warn", emit);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("time=\"") && lines[0].contains("Z\" level=warning msg=\"teardown failed\""), "{out}");
        assert!(lines[0].ends_with(" error=\"boom \\\"x\\\"\" network=br-1"), "{out}");
        assert!(lines[1].ends_with(" level=error msg=bad"), "{out}");
        let out = logged("info", emit);
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(out.contains(" level=info msg=started container=ab12\n"), "{out}");
        assert_eq!(logged("debug", emit).lines().count(), 4);
        assert_eq!(logged("fatal", emit).lines().count(), 1);
    }
}
