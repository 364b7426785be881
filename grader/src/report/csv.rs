//! CSV (RFC 4180): one row per check and one per objective, for spreadsheets and gradebooks.
//! Columns: lab, mode, row (`check` or `objective`), step, name (the check's description or the
//! objective id), result (`pass`/`fail`), expected, observed, score (objectives: passed/total
//! as a fraction; checks: 1 or 0).

use crate::checks::Outcome;
use crate::runner::LabResult;

pub const HEADER: &str = "lab,mode,row,step,name,result,expected,observed,score";

/// Quotes a field when it holds a comma, quote, CR or LF (doubling inner quotes). A leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet never runs observed text as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(cols: &[&str]) -> String {
    cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(",") + "\r\n"
}

pub fn render(r: &LabResult) -> String {
    let mut out = format!("{HEADER}\r\n");
    for st in &r.steps {
        for c in &st.checks {
            let (result, expected, observed, score) = match &c.outcome {
                Outcome::Pass { observed } => ("pass", "", observed.as_str(), "1"),
                Outcome::Fail { expected, observed } => ("fail", expected.as_str(), observed.as_str(), "0"),
            };
            out += &row(&[&r.lab, &r.mode, "check", &st.step, &c.description, result, expected, observed, score]);
        }
        if let Some(e) = &st.error {
            out += &row(&[&r.lab, &r.mode, "error", &st.step, "step could not run", "fail", "", e, "0"]);
        }
    }
    for o in &r.objectives {
        let result = if o.score >= 1.0 { "pass" } else { "fail" };
        let observed = format!("{}/{}", o.passed, o.total);
        out += &row(&[&r.lab, &r.mode, "objective", "", &o.objective, result, "", &observed, &format!("{:.2}", o.score)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_formula_guard() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\"\nthere"), "\"say \"\"hi\"\"\nthere\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("-1,2"), "\"'-1,2\"");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&crate::report::json::tests::sample()));
    }
}
