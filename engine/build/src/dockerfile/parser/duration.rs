//! Go's `time.ParseDuration` and `strconv.ParseInt(s, 10, 32)`, with Go's error texts, for
//! HEALTHCHECK's `--interval`/`--timeout`/`--start-period` and `--retries`.

use crate::gofmt::quote as go_quote;

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;

/// `1 << 63`, the magnitude limit Go checks against (a negative duration may reach it).
const LIMIT: u64 = 1 << 63;

fn invalid(orig: &str) -> String {
    format!("time: invalid duration {}", time_quote(orig))
}

/// Leading decimal digits (Go's `leadingInt`); `None` on overflow.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut x: u64 = 0;
    for b in s[..end].bytes() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(b - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[end..]))
}

/// Fraction digits after `.` (Go's `leadingFraction`): value, scale, rest. Digits beyond
/// what fits are ignored, as in Go.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for b in s[..end].bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[end..])
}

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NS,
        "us" | "\u{b5}s" | "\u{3bc}s" => US,
        "ms" => MS,
        "s" => SEC,
        "m" => MIN,
        "h" => HOUR,
        _ => return None,
    })
}

/// `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, in nanoseconds.
pub(crate) fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let mut s = orig;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid(orig));
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid(orig));
        }
        let before = s.len();
        let (v, rest) = leading_int(s).ok_or_else(|| invalid(orig))?;
        let pre = rest.len() != before;
        s = rest;
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let before = rest.len();
            (f, scale, s) = leading_fraction(rest);
            post = s.len() != before;
        }
        if !pre && !post {
            return Err(invalid(orig));
        }
        let end = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if end == 0 {
            return Err(format!("time: missing unit in duration {}", time_quote(orig)));
        }
        let u = &s[..end];
        s = &s[end..];
        let unit = unit(u).ok_or_else(|| format!("time: unknown unit {} in duration {}", time_quote(u), time_quote(orig)))?;
        if v > LIMIT / unit {
            return Err(invalid(orig));
        }
        let mut v = v * unit;
        if f > 0 {
            // Go does this in float64 and truncates, so do we.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid(orig));
            }
        }
        d = d.checked_add(v).filter(|d| *d <= LIMIT).ok_or_else(|| invalid(orig))?;
    }
    if neg {
        return Ok(-i128::from(d));
    }
    if d > LIMIT - 1 {
        return Err(invalid(orig));
    }
    Ok(i128::from(d))
}

/// `strconv.ParseInt(s, 10, 32)` with Go's error texts (a non-digit is a syntax error, unless
/// the digits before it already overflowed).
pub(crate) fn parse_go_int32(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s));
    let range = || format!("strconv.ParseInt: parsing {}: value out of range", go_quote(s));
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(syntax());
        }
        n = n.checked_mul(10).and_then(|n| n.checked_add(u64::from(b - b'0'))).ok_or_else(range)?;
    }
    let cutoff = 1u64 << 31;
    if (!neg && n >= cutoff) || (neg && n > cutoff) {
        return Err(range());
    }
    // In range of i32, so the cast cannot truncate.
    let n = n as i64;
    Ok(if neg { -n } else { n })
}

/// The `time` package's own `quote`: like `%q`, but every byte of a non-ASCII or control
/// character is written as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        if !c.is_ascii() || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                o.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                o.push('\\');
            }
            o.push(c);
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("30s"), Ok(30 * SEC as i128));
        assert_eq!(parse_go_duration("1m30s"), Ok(90 * SEC as i128));
        assert_eq!(parse_go_duration("500ms"), Ok(500 * MS as i128));
        assert_eq!(parse_go_duration("1h"), Ok(HOUR as i128));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500 * MS as i128));
        assert_eq!(parse_go_duration(".5us"), Ok(500));
        assert_eq!(parse_go_duration("-2s"), Ok(-2 * SEC as i128));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("2562047h47m16.854775807s"), Ok((LIMIT - 1) as i128));
        assert_eq!(parse_go_duration("2562047h47m16.854775808s"), Err("time: invalid duration \"2562047h47m16.854775808s\"".into()));
        assert_eq!(parse_go_duration("10"), Err("time: missing unit in duration \"10\"".into()));
        assert_eq!(parse_go_duration("3x"), Err("time: unknown unit \"x\" in duration \"3x\"".into()));
        assert_eq!(parse_go_duration("abc"), Err("time: invalid duration \"abc\"".into()));
        assert_eq!(parse_go_duration(""), Err("time: invalid duration \"\"".into()));
        assert_eq!(parse_go_duration("."), Err("time: invalid duration \".\"".into()));
    }

    #[test]
    fn ints() {
        assert_eq!(parse_go_int32("3"), Ok(3));
        assert_eq!(parse_go_int32("+3"), Ok(3));
        assert_eq!(parse_go_int32("-3"), Ok(-3));
        assert_eq!(parse_go_int32("x"), Err("strconv.ParseInt: parsing \"x\": invalid syntax".into()));
        assert_eq!(parse_go_int32("3000000000"), Err("strconv.ParseInt: parsing \"3000000000\": value out of range".into()));
        assert_eq!(parse_go_int32("99999999999999999999999"), Err("strconv.ParseInt: parsing \"99999999999999999999999\": value out of range".into()));
    }
}
