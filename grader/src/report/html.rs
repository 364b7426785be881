//! A self-contained HTML page (no script, no external asset): the lab's verdict, its objectives
//! with scores, and every step with its checks, expected vs observed for the ones that failed.
//! Readable when mailed around or opened from a CI artifact.

use crate::checks::Outcome;
use crate::runner::LabResult;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}\
.pass{color:#1a7f37}.fail{color:#cf222e}pre{margin:0;white-space:pre-wrap;font:13px ui-monospace,monospace}\
.bar{background:#eee;width:8rem;height:.7rem;display:inline-block}.bar i{display:block;height:100%;background:#1a7f37}";

pub fn render(r: &LabResult) -> String {
    let verdict = if r.passed { "<span class=pass>passed</span>" } else { "<span class=fail>FAILED</span>" };
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>lab {lab}</title><style>{STYLE}</style></head><body>\n<h1>lab {lab} ({mode}): {verdict}</h1>\n",
        lab = esc(&r.lab),
        mode = esc(&r.mode),
    );
    s += "<h2>Objectives</h2>\n<table><tr><th>objective</th><th>checks passed</th><th>score</th></tr>\n";
    for o in &r.objectives {
        let class = if o.score >= 1.0 { "pass" } else { "fail" };
        s += &format!(
            "<tr><td class={class}>{}</td><td>{}/{}</td><td><span class=bar><i style=\"width:{:.0}%\"></i></span> {:.0}%</td></tr>\n",
            esc(&o.objective),
            o.passed,
            o.total,
            o.score * 100.0,
            o.score * 100.0
        );
    }
    s += "</table>\n";
    for st in &r.steps {
        let class = if st.passed { "pass" } else { "fail" };
        s += &format!("<h2 class={class}>{} step {}</h2>\n", if st.passed { "✔" } else { "✘" }, esc(&st.step));
        if let Some(e) = &st.error {
            s += &format!("<p class=fail>error: {}</p>\n", esc(e));
        }
        for n in &st.notes {
            s += &format!("<p>note: {}</p>\n", esc(n));
        }
        if st.checks.is_empty() {
            continue;
        }
        s += "<table><tr><th></th><th>check</th><th>expected</th><th>observed</th></tr>\n";
        for c in &st.checks {
            let (mark, class, expected, observed) = match &c.outcome {
                Outcome::Pass { observed } => ("✔", "pass", String::new(), observed),
                Outcome::Fail { expected, observed } => ("✘", "fail", esc(expected), observed),
            };
            s += &format!(
                "<tr><td class={class}>{mark}</td><td>{}</td><td><pre>{expected}</pre></td><td><pre>{}</pre></td></tr>\n",
                esc(&c.description),
                esc(observed)
            );
        }
        s += "</table>\n";
    }
    s += "</body></html>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_observed_text() {
        let mut r = crate::report::json::tests::sample();
        r.steps[0].checks[1].outcome = Outcome::fail("x", "<script>alert(1)</script>");
        let h = render(&r);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render(&crate::report::json::tests::sample()));
    }
}
