//! `berth events`: `GET /events` with Docker's `--since/--until` conversion, `--filter` and
//! `--format`, printed as the docker CLI does (`<time> <Type> <Action> <ID> (<k=v, …>)`).

use std::io::{BufRead, BufReader, Write};

use clap::Args;
use serde_json::{json, Value};

use super::format::{compact_json, Template};
use super::{CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format")]
    format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long = "since")]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long = "until")]
    until: Option<String>,
}

/// Go's `time.ParseDuration` for the units `docker events --since 10m` accepts.
fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mult;
        rest = &rest[u..];
    }
    Some(total)
}

/// timetypes.GetTimestamp: a Unix time passes through; a duration is "that long ago"; an
/// RFC 3339 time or date becomes `secs.nanos`.
pub fn get_timestamp(value: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    if !value.contains(['-', ':']) {
        if value.parse::<f64>().is_ok() {
            return Ok(value.to_string());
        }
        if let Some(d) = parse_duration(value) {
            let t = now - chrono::Duration::nanoseconds((d * 1e9) as i64);
            return Ok(format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos()));
        }
    }
    let t = chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S").map(|n| n.and_utc())
        })
        .or_else(|_| chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()))
        .map_err(|_| format!("failed to parse value as time or duration: {value:?}"))?;
    Ok(format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos()))
}

/// `2024-01-02T03:04:05.000000006Z` (Go's RFC3339NanoFixed in local time).
fn fixed_time(nanos: i64) -> String {
    let t = chrono::DateTime::from_timestamp(nanos.div_euclid(1_000_000_000), nanos.rem_euclid(1_000_000_000) as u32)
        .unwrap_or_default();
    fixed_in(t.with_timezone(&chrono::Local))
}

fn fixed_in<Tz: chrono::TimeZone>(t: chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    use chrono::Offset;
    let base = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    if t.offset().fix().local_minus_utc() == 0 {
        format!("{base}Z")
    } else {
        format!("{base}{}", t.format("%:z"))
    }
}

/// The docker CLI's `prettyPrintEvent`.
pub fn pretty(ev: &Value) -> String {
    let mut o = String::new();
    if let Some(n) = ev["timeNano"].as_i64().filter(|n| *n != 0) {
        o.push_str(&fixed_time(n));
        o.push(' ');
    } else if let Some(t) = ev["time"].as_i64().filter(|t| *t != 0) {
        o.push_str(&fixed_time(t * 1_000_000_000));
        o.push(' ');
    }
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    o.push_str(&format!("{} {} {}", s(&ev["Type"]), s(&ev["Action"]), s(&ev["Actor"]["ID"])));
    if let Some(attrs) = ev["Actor"]["Attributes"].as_object().filter(|a| !a.is_empty()) {
        // serde_json maps are sorted, as the CLI sorts the keys.
        let kv: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
        o.push_str(&format!(" ({})", kv.join(", ")));
    }
    o
}

/// The event as the Go template sees it (struct field names, not JSON tags).
fn template_value(ev: &Value) -> Value {
    json!({
        "Status": ev["status"], "ID": ev["id"], "From": ev["from"], "Type": ev["Type"], "Action": ev["Action"],
        "Actor": ev["Actor"], "Scope": ev["scope"], "Time": ev["time"], "TimeNano": ev["timeNano"],
    })
}

pub fn events(c: &Client, a: EventsArgs) -> CliResult {
    let usage = |m: String| Failure::new(format!("{m}\n\nRun 'berth events --help' for more information"), 125);
    let now = chrono::Utc::now();
    let mut q = Vec::new();
    if let Some(s) = &a.since {
        q.push(format!("since={}", enc(&get_timestamp(s, now).map_err(usage)?)));
    }
    if let Some(u) = &a.until {
        q.push(format!("until={}", enc(&get_timestamp(u, now).map_err(usage)?)));
    }
    if !a.filter.is_empty() {
        let mut m = serde_json::Map::new();
        for f in &a.filter {
            let (k, v) = f.split_once('=').ok_or_else(|| usage(format!("bad format of filter (expected name=value)")))?;
            m.entry(k.to_lowercase()).or_insert_with(|| json!({})).as_object_mut().expect("object").insert(v.to_string(), json!(true));
        }
        q.push(format!("filters={}", enc(&Value::Object(m).to_string())));
    }
    let tmpl = match a.format.as_deref().filter(|f| !f.is_empty() && f.trim() != "{{json .}}") {
        Some(f) => Some(Template::parse(f).map_err(|e| Failure::new(e.to_string(), 1))?),
        None => None,
    };
    let raw_json = a.format.as_deref().map(|f| f.trim() == "{{json .}}").unwrap_or(false);
    let path = if q.is_empty() { "/events".to_string() } else { format!("/events?{}", q.join("&")) };
    let mut r = c.request("GET", &path, None)?.check()?;
    let rd = BufReader::new(r.reader());
    let mut out = std::io::stdout();
    for l in rd.lines() {
        let l = l.map_err(|e| Failure::new(e.to_string(), 1))?;
        if l.trim().is_empty() {
            continue;
        }
        let ev: Value = serde_json::from_str(&l).map_err(|e| Failure::new(format!("invalid event: {e}"), 1))?;
        let line = match (&tmpl, raw_json) {
            (_, true) => compact_json(&ev),
            (Some(t), _) => t.render(&template_value(&ev)),
            (None, _) => pretty(&ev),
        };
        // Each event goes out at once: `berth events` is watched live.
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_the_docker_cli() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(get_timestamp("1704164645", now).unwrap(), "1704164645");
        assert_eq!(get_timestamp("10m", now).unwrap(), "1704164045.000000000");
        assert_eq!(get_timestamp("1h30m", now).unwrap(), "1704159245.000000000");
        assert_eq!(get_timestamp("2024-01-02T03:04:05.5Z", now).unwrap(), "1704164645.500000000");
        assert_eq!(get_timestamp("2024-01-02", now).unwrap(), "1704153600.000000000");
        assert!(get_timestamp("yesterday", now).is_err());
    }

    #[test]
    fn pretty_line() {
        let t = chrono::DateTime::from_timestamp(1704164645, 6).unwrap();
        assert_eq!(fixed_in(t), "2024-01-02T03:04:05.000000006Z");
        let plus2 = chrono::FixedOffset::east_opt(7200).unwrap();
        assert_eq!(fixed_in(t.with_timezone(&plus2)), "2024-01-02T05:04:05.000000006+02:00");
        let ev = json!({"Type": "container", "Action": "die", "Actor": {"ID": "abc", "Attributes": {"name": "x", "exitCode": "3"}},
                        "time": 1704164645, "timeNano": 1704164645000000006i64});
        let p = pretty(&ev);
        assert_eq!(p.split_once(' ').unwrap().1, "container die abc (exitCode=3, name=x)");
    }
}
