//! Output helpers: Go's tabwriter (minwidth 10, padding 3, as Docker's tables), a subset of
//! Go templates for `--format`, Go's `strconv.Quote`, and Docker's ellipsis.

use serde_json::Value;

/// Render rows like `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max((c.chars().count() + 3).max(10));
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
    }
    out
}

/// Docker's `formatter.Ellipsis`: at most `max` chars, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let mut o: String = s.chars().take(max - 1).collect();
    o.push('…');
    o
}

/// Go's `strconv.Quote` (the builder's, which history strings need too).
pub fn go_quote(s: &str) -> String {
    berth_build::gofmt::quote(s)
}

/// JSON as Go's `json.MarshalIndent(v, "", "    ")` (with Go's HTML escaping).
pub fn pretty_json(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("json");
    go_escape(&String::from_utf8(buf).expect("utf8"))
}

pub fn compact_json(v: &Value) -> String {
    go_escape(&serde_json::to_string(v).expect("json"))
}

fn go_escape(s: &str) -> String {
    s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[derive(Debug, thiserror::Error)]
#[error("template parsing error: {0}")]
pub struct TemplateError(pub String);

/// A parsed Go-template subset: text, `{{.A.B}}`, `{{json .A}}`, `{{index .A "k"}}`,
/// `{{join .A ","}}`, `{{upper .A}}`, `{{lower .A}}`, `{{println .A}}`.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    /// `table` prefix: print a header row and align columns.
    pub table: bool,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Action { func: Option<String>, path: Vec<String>, arg: Option<String> },
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let (table, src) = match src.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, src),
        };
        let src = src.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = src.as_str();
        while let Some(i) = rest.find("{{") {
            if i > 0 {
                parts.push(Part::Text(rest[..i].to_string()));
            }
            let end = rest[i..].find("}}").ok_or_else(|| TemplateError(format!("unclosed action in {src:?}")))?;
            let inner = rest[i + 2..i + end].trim().trim_start_matches('-').trim_end_matches('-').trim();
            parts.push(parse_action(inner)?);
            rest = &rest[i + end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts, table })
    }

    pub fn render(&self, v: &Value) -> String {
        let mut o = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => o.push_str(t),
                Part::Action { func, path, arg } => {
                    let mut x = v;
                    for k in path {
                        x = x.get(k).unwrap_or(&Value::Null);
                    }
                    let s = match (func.as_deref(), arg) {
                        (Some("json"), _) => compact_json(x),
                        (Some("index"), Some(k)) => scalar(x.get(k).unwrap_or(&Value::Null)),
                        (Some("join"), Some(sep)) => x
                            .as_array()
                            .map(|a| a.iter().map(scalar).collect::<Vec<_>>().join(sep))
                            .unwrap_or_default(),
                        (Some("upper"), _) => scalar(x).to_uppercase(),
                        (Some("lower"), _) => scalar(x).to_lowercase(),
                        (Some("println"), _) => format!("{}\n", scalar(x)),
                        _ => scalar(x),
                    };
                    o.push_str(&s);
                }
            }
        }
        o
    }

    /// Header row for `table` templates: each `{{.Field}}` becomes its column title.
    pub fn header(&self, titles: &dyn Fn(&str) -> String) -> String {
        let mut o = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => o.push_str(t),
                Part::Action { path, .. } => o.push_str(&titles(path.last().map(String::as_str).unwrap_or(""))),
            }
        }
        o
    }
}

fn parse_action(s: &str) -> Result<Part, TemplateError> {
    let toks: Vec<&str> = s.split_whitespace().collect();
    let path_of = |t: &str| -> Result<Vec<String>, TemplateError> {
        if t == "." {
            return Ok(vec![]);
        }
        let t = t.strip_prefix('.').ok_or_else(|| TemplateError(format!("unexpected {t:?} in action")))?;
        Ok(t.split('.').map(String::from).collect())
    };
    match toks.as_slice() {
        [p] => Ok(Part::Action { func: None, path: path_of(p)?, arg: None }),
        [f, p] if ["json", "upper", "lower", "println"].contains(f) => {
            Ok(Part::Action { func: Some(f.to_string()), path: path_of(p)?, arg: None })
        }
        [f, p, a] if ["index", "join"].contains(f) => Ok(Part::Action {
            func: Some(f.to_string()),
            path: path_of(p)?,
            arg: Some(a.trim_matches('"').to_string()),
        }),
        _ => Err(TemplateError(format!("unsupported action {{{{{s}}}}}"))),
    }
}

/// Go's `%v`-ish rendering of a value.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(scalar).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => format!("map[{}]", m.iter().map(|(k, v)| format!("{k}:{}", scalar(v))).collect::<Vec<_>>().join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_matches_docker_spacing() {
        let t = table(&[
            vec!["CONTAINER ID".into(), "IMAGE".into(), "NAMES".into()],
            vec!["764ccc3b4b5c".into(), "bb:l2".into(), "c2".into()],
        ]);
        assert_eq!(t, "CONTAINER ID   IMAGE     NAMES\n764ccc3b4b5c   bb:l2     c2\n");
    }

    #[test]
    fn ellipsis_and_quote() {
        let cmd = "sh -c 'rm -rf /data && echo x'";
        assert_eq!(go_quote(&ellipsis(cmd, 20)), "\"sh -c 'rm -rf /data…\"");
    }

    #[test]
    fn templates() {
        let v = json!({"State": {"Status": "running", "Pid": 42}, "Config": {"Labels": {"a": "b"}}, "Names": ["x", "y"]});
        assert_eq!(Template::parse("{{.State.Status}} {{.State.Pid}}").unwrap().render(&v), "running 42");
        assert_eq!(Template::parse("{{json .Config.Labels}}").unwrap().render(&v), "{\"a\":\"b\"}");
        assert_eq!(Template::parse("{{index .Config.Labels \"a\"}}").unwrap().render(&v), "b");
        assert_eq!(Template::parse("{{join .Names \",\"}}").unwrap().render(&v), "x,y");
        assert!(Template::parse("{{.A").is_err());
    }
}
