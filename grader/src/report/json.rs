//! Machine-readable JSON: the whole result, with per-objective scores and a total.

use crate::runner::LabResult;

pub fn render(r: &LabResult) -> String {
    let total: f64 = if r.objectives.is_empty() {
        0.0
    } else {
        r.objectives.iter().map(|o| o.score).sum::<f64>() / r.objectives.len() as f64
    };
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("score".into(), serde_json::json!(total));
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::checks::Outcome;
    use crate::runner::{CheckResult, ObjectiveScore, StepResult};

    pub fn sample() -> LabResult {
        LabResult {
            lab: "8-overlay2".into(),
            mode: "check".into(),
            passed: false,
            steps: vec![StepResult {
                step: "find-driver".into(),
                passed: false,
                checks: vec![
                    CheckResult {
                        kind: "file".into(),
                        description: "vm1:/a exists".into(),
                        outcome: Outcome::pass("/a is a File"),
                    },
                    CheckResult {
                        kind: "cgroup".into(),
                        description: "pids.max = 5".into(),
                        outcome: Outcome::fail("pids.max = 5", "pids.max = max & <more>"),
                    },
                ],
                error: None,
                notes: vec![],
            }],
            objectives: vec![
                ObjectiveScore {
                    objective: "find-storage-driver".into(),
                    passed: 1,
                    total: 2,
                    score: 0.5,
                },
                ObjectiveScore {
                    objective: "explain-overlay2".into(),
                    passed: 1,
                    total: 1,
                    score: 1.0,
                },
            ],
        }
    }

    #[test]
    fn json_has_scores_and_expected_observed() {
        let v: serde_json::Value = serde_json::from_str(&render(&sample())).unwrap();
        assert_eq!(v["score"], 0.75);
        assert_eq!(v["objectives"][0]["score"], 0.5);
        assert_eq!(v["steps"][0]["checks"][1]["result"], "fail");
        assert_eq!(
            v["steps"][0]["checks"][1]["observed"],
            "pids.max = max & <more>"
        );
    }
}
