//! `berth inspect`: containers, then images (the docker CLI's probing order), `-f` templates.

use clap::Args;
use serde_json::Value;

use super::format::Template;
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client, ClientError};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    kind: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

/// The first object found: the daemon's body as sent (its key order is Docker's) and parsed
/// (for `-f` templates, which see Go maps: sorted keys, as the docker CLI's templates do).
fn probe(c: &Client, name: &str, kind: Option<&str>) -> Result<(Vec<u8>, Value), ClientError> {
    let n = enc(name);
    let paths: Vec<String> = match kind {
        Some("container") => vec![format!("/containers/{n}/json")],
        Some("image") => vec![format!("/images/{name}/json")],
        Some("volume") => vec![format!("/volumes/{n}")],
        Some("network") => vec![format!("/networks/{n}")],
        _ => vec![format!("/containers/{n}/json"), format!("/images/{name}/json"), format!("/volumes/{n}"), format!("/networks/{n}")],
    };
    let mut last = None;
    for p in paths {
        match c.request("GET", &p, None).and_then(|r| r.check()).and_then(|r| r.bytes()) {
            Ok(raw) => {
                let v = serde_json::from_slice(&raw).map_err(|e| ClientError::Protocol(format!("bad JSON from daemon: {e}")))?;
                return Ok((raw, v));
            }
            Err(e @ ClientError::Api { status: 404, .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one path"))
}

pub fn inspect(c: &Client, a: InspectArgs) -> CliResult {
    let tpl = a.format.as_deref().map(Template::parse).transpose().map_err(|e| Failure::new(e.to_string(), 1))?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        match probe(c, n, a.kind.as_deref()) {
            Ok(v) => found.push(v),
            Err(ClientError::Api { status: 404, .. }) => errors.push(format!("Error: No such object: {n}")),
            Err(e) => errors.push(daemon_error(&e)),
        }
    }
    match &tpl {
        Some(t) => {
            for (_, v) in &found {
                println!("{}", t.render(v));
            }
        }
        None => println!("{}", indent_raw(found.iter().map(|(raw, _)| raw.as_slice()))),
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(Failure::new(errors.join("\n"), 1))
}

/// The docker CLI's indented inspect output: the raw bodies joined into one array and
/// re-indented as Go's `json.Indent(…, "", "    ")` does, keys in the order the daemon sent
/// them (a `serde_json::Value` would sort them). Strings are copied as they came; `<>&` are
/// escaped as Go's encoder does (berthd's serde_json leaves them raw).
fn indent_raw<'a>(bodies: impl Iterator<Item = &'a [u8]>) -> String {
    let mut src = vec![b'['];
    for (i, b) in bodies.enumerate() {
        if i > 0 {
            src.push(b',');
        }
        src.extend_from_slice(b);
    }
    src.push(b']');
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 4));
    };
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < src.len() && src[i] != b'"' {
                    i += if src[i] == b'\\' { 2 } else { 1 };
                }
                out.extend_from_slice(&src[start..(i + 1).min(src.len())]);
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let next = src[i + 1..].iter().position(|b| !b.is_ascii_whitespace()).map(|p| i + 1 + p);
                if next.is_some_and(|n| src[n] == close) {
                    out.extend_from_slice(&[c, close]);
                    i = next.unwrap_or(i);
                } else {
                    out.push(c);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
        i += 1;
    }
    let s = String::from_utf8_lossy(&out);
    s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::pretty_json;

    #[test]
    fn indent_keeps_key_order_and_matches_pretty_json() {
        let body = br#"{"Id":"x","State":{"Status":"running","Pid":3},"Args":[],"Labels":{},"Cmd":["a <b>","c\"&"],"N":null}
"#;
        let got = indent_raw([&body[..], &body[..]].into_iter());
        assert!(got.starts_with("[\n    {\n        \"Id\": \"x\",\n        \"State\": {\n            \"Status\": \"running\","), "{got}");
        // Same layout as the Value-based printer, only the order differs.
        let v: Value = serde_json::from_slice(body).unwrap();
        let sorted = pretty_json(&Value::Array(vec![v.clone(), v]));
        let mut a: Vec<&str> = got.lines().map(|l| l.trim_end_matches(',')).collect();
        let mut b: Vec<&str> = sorted.lines().map(|l| l.trim_end_matches(',')).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        assert_eq!(indent_raw(std::iter::empty()), "[]");
    }
}
