//! Go's `%q` and `time.Duration` formatting, for the history strings the classic builder writes
//! with `fmt.Sprintf` (`CMD ["sh" "-c" "x"]`, `HEALTHCHECK &{["CMD" "true"] "30s" …}`).

use std::fmt::Write;
use std::time::Duration;

/// `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `%q` of a `[]string`: `["a" "b"]`.
pub fn quote_list(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" "))
}

/// `%q` of an int: a quoted rune literal (`'\x00'`, `'A'`).
pub fn quote_rune(n: u32) -> String {
    match char::from_u32(n) {
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some(c) if n >= 0x20 && n != 0x7f && !c.is_control() => format!("'{c}'"),
        _ if n < 0x80 => format!("'\\x{n:02x}'"),
        _ if n < 0x10000 => format!("'\\u{n:04x}'"),
        _ => format!("'\\U{n:08x}'"),
    }
}

/// `time.Duration.String()`: `1h2m3s`, `1.5s`, `500ms`, `0s`.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 { ("ns", 1) } else if ns < 1_000_000 { ("µs", 1_000) } else { ("ms", 1_000_000) };
        return format!("{}{unit}", frac(ns, div));
    }
    let h = ns / 3_600_000_000_000;
    let m = (ns / 60_000_000_000) % 60;
    let s_ns = ns % 60_000_000_000;
    let mut o = String::new();
    if h > 0 {
        let _ = write!(o, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(o, "{m}m");
    }
    let _ = write!(o, "{}s", frac(s_ns, 1_000_000_000));
    o
}

/// `n/div` with the fraction's trailing zeros dropped.
fn frac(n: u128, div: u128) -> String {
    let whole = n / div;
    let rest = n % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{rest:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go() {
        assert_eq!(quote_list(&["CMD".into(), "true".into()]), r#"["CMD" "true"]"#);
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote_rune(0), r"'\x00'");
        assert_eq!(quote_rune(3), r"'\x03'");
        assert_eq!(duration(Duration::from_secs(30)), "30s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::ZERO), "0s");
    }
}
