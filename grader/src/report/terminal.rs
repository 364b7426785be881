//! Human-readable lines: one per check, with expected vs observed on failures.

use crate::checks::Outcome;
use crate::runner::{LabResult, StepResult};

pub fn step(r: &StepResult) -> String {
    let mut s = format!("{} step {}\n", if r.passed { "✔" } else { "✘" }, r.step);
    if let Some(e) = &r.error {
        s += &format!("    error: {e}\n");
    }
    for n in &r.notes {
        s += &format!("    note: {n}\n");
    }
    for c in &r.checks {
        match &c.outcome {
            Outcome::Pass { observed } => {
                s += &format!("    ✔ {}\n      observed: {observed}\n", c.description)
            }
            Outcome::Fail { expected, observed } => {
                s += &format!(
                    "    ✘ {}\n      expected: {expected}\n      observed: {observed}\n",
                    c.description
                )
            }
        }
    }
    s
}

pub fn lab(r: &LabResult) -> String {
    let mut s = format!(
        "lab {} ({}): {}\n",
        r.lab,
        r.mode,
        if r.passed { "passed" } else { "FAILED" }
    );
    for st in &r.steps {
        s += &step(st);
    }
    s += "objectives:\n";
    for o in &r.objectives {
        s += &format!(
            "    {} {} {}/{} ({:.0}%)\n",
            if o.score >= 1.0 { "☑" } else { "☐" },
            o.objective,
            o.passed,
            o.total,
            o.score * 100.0
        );
    }
    s
}
