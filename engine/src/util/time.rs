//! Docker's time renderings: RFC3339Nano timestamps and go-units `HumanDuration`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Go's zero time as Docker prints it for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// RFC3339 with nanoseconds and `Z`, Go's `RFC3339Nano` (trailing zeros trimmed).
pub fn rfc3339_nano(t: DateTime<Utc>) -> String {
    let s = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    // Go's RFC3339Nano trims trailing zeros of the fraction (and the dot if nothing remains).
    if let Some((head, frac)) = s.trim_end_matches('Z').split_once('.') {
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { format!("{head}Z") } else { format!("{head}.{frac}Z") }
    } else {
        s
    }
}

pub fn now() -> String {
    rfc3339_nano(Utc::now())
}

/// Parse an RFC3339 time; Go's zero time and garbage give `None`.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() || s.starts_with("0001-01-01") {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// go-units `HumanDuration`, as used by `Up 3 minutes` and `25 seconds ago`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 1 {
        return "Less than a second".into();
    }
    if s == 1 {
        return "1 second".into();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let m = s / 60;
    if m == 1 {
        return "About a minute".into();
    }
    if m < 60 {
        return format!("{m} minutes");
    }
    let h = (s as f64 / 3600.0).round() as i64;
    if h == 1 {
        return "About an hour".into();
    }
    if h < 48 {
        return format!("{h} hours");
    }
    let hours = s / 3600;
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_go_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(25), "25 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(180), "3 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
    }

    #[test]
    fn nano_format_trims_zeros() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T00:12:45.959400000Z").unwrap().with_timezone(&Utc);
        assert_eq!(rfc3339_nano(t), "2026-11-28T00:12:45.9594Z");
        assert!(parse(ZERO_TIME).is_none());
    }
}
