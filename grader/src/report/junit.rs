//! JUnit XML: one testsuite per lab, one testcase per check (named `<step>::<n> <description>`),
//! plus one testcase per objective carrying its score, so CI dashboards show both.

use crate::checks::Outcome;
use crate::runner::LabResult;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(r: &LabResult) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures) = (0, 0);
    for st in &r.steps {
        for (i, c) in st.checks.iter().enumerate() {
            tests += 1;
            let name = esc(&format!("{}::{} {}", st.step, i + 1, c.description));
            match &c.outcome {
                Outcome::Pass { .. } => {
                    cases += &format!(
                        "    <testcase classname=\"lab.{}\" name=\"{name}\"/>\n",
                        esc(&r.lab)
                    )
                }
                Outcome::Fail { expected, observed } => {
                    failures += 1;
                    cases += &format!(
                        "    <testcase classname=\"lab.{}\" name=\"{name}\">\n      <failure message=\"{}\">expected: {}\nobserved: {}</failure>\n    </testcase>\n",
                        esc(&r.lab),
                        esc(&format!("expected {expected}")),
                        esc(expected),
                        esc(observed)
                    );
                }
            }
        }
    }
    for o in &r.objectives {
        tests += 1;
        let name = esc(&format!(
            "objective::{} {}/{}",
            o.objective, o.passed, o.total
        ));
        if o.score >= 1.0 {
            cases += &format!(
                "    <testcase classname=\"objectives.{}\" name=\"{name}\"/>\n",
                esc(&r.lab)
            );
        } else {
            failures += 1;
            cases += &format!(
                "    <testcase classname=\"objectives.{}\" name=\"{name}\">\n      <failure message=\"score {:.2}\"/>\n    </testcase>\n",
                esc(&r.lab),
                o.score
            );
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\">\n{cases}  </testsuite>\n</testsuites>\n",
        esc(&r.lab)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_escapes() {
        let x = render(&crate::report::json::tests::sample());
        assert!(x.contains("tests=\"4\" failures=\"2\""), "{x}");
        assert!(
            x.contains("observed: pids.max = max &amp; &lt;more&gt;"),
            "{x}"
        );
        assert!(
            x.contains("name=\"objective::find-storage-driver 1/2\""),
            "{x}"
        );
    }
}
