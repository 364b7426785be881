//! The student's progress: the objective checklist (☐/☑) and, per lab, the steps passed and the
//! quiz answers given. One JSON file (path overridable), written atomically.

use crate::catalog::Objectives;
use crate::runner::LabResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a progress file ({source}); move it away to start afresh")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectiveProgress {
    /// Best score reached (0..1); the objective is ☑ at 1.
    pub score: f64,
    pub lab: String,
    pub at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LabProgress {
    pub passed_steps: Vec<String>,
    pub answers: BTreeMap<String, String>,
    pub completed: bool,
    pub updated: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    pub objectives: BTreeMap<String, ObjectiveProgress>,
    pub labs: BTreeMap<String, LabProgress>,
}

impl Progress {
    /// A missing file is an empty progress; a corrupt one is an error (never silently reset).
    pub fn load(path: &Path) -> Result<Progress, ProgressError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| ProgressError::Corrupt {
                path: path.into(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
            Err(source) => Err(ProgressError::Io {
                path: path.into(),
                source,
            }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), ProgressError> {
        let io = |source| ProgressError::Io {
            path: path.into(),
            source,
        };
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(io)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).expect("serializable")).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn step_passed(&mut self, lab: &str, step: &str) {
        let l = self.labs.entry(lab.into()).or_default();
        if !l.passed_steps.iter().any(|s| s == step) {
            l.passed_steps.push(step.into());
        }
        l.updated = now();
    }

    pub fn answered(&mut self, lab: &str, item: &str, letter: &str) {
        let l = self.labs.entry(lab.into()).or_default();
        l.answers.insert(item.into(), letter.into());
        l.updated = now();
    }

    /// Folds a graded result in: objective scores only ever go up (latched, like checks).
    pub fn record(&mut self, r: &LabResult) {
        for o in &r.objectives {
            let e = self.objectives.entry(o.objective.clone()).or_default();
            if o.score > e.score || e.at.is_empty() {
                *e = ObjectiveProgress {
                    score: o.score.max(e.score),
                    lab: r.lab.clone(),
                    at: now(),
                };
            }
        }
        for s in r.steps.iter().filter(|s| s.passed) {
            self.step_passed(&r.lab, &s.step);
        }
        if r.passed {
            self.labs.entry(r.lab.clone()).or_default().completed = true;
        }
    }

    pub fn done(&self, objective: &str) -> bool {
        self.objectives
            .get(objective)
            .map(|o| o.score >= 1.0)
            .unwrap_or(false)
    }

    /// The checklist, one objective a line, in the course's order.
    pub fn checklist(&self, objectives: &Objectives, lang_zh: bool) -> String {
        let mut s = String::new();
        for o in &objectives.list {
            let mark = if self.done(&o.id) { "☑" } else { "☐" };
            let text = if lang_zh { &o.zh } else { &o.en };
            let partial = match self.objectives.get(&o.id) {
                Some(p) if p.score > 0.0 && p.score < 1.0 => format!(" ({:.0}%)", p.score * 100.0),
                _ => String::new(),
            };
            s += &format!("{mark} {:<28} {text}{partial}\n", o.id);
        }
        s
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Objective, ObjectiveKind};
    use crate::runner::ObjectiveScore;

    fn result(score: f64) -> LabResult {
        LabResult {
            lab: "l".into(),
            mode: "check".into(),
            passed: score >= 1.0,
            steps: vec![],
            objectives: vec![ObjectiveScore {
                objective: "a".into(),
                passed: 0,
                total: 0,
                score,
            }],
        }
    }

    #[test]
    fn scores_only_go_up_and_survive_a_reload() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("sub/progress.json");
        let mut p = Progress::load(&path).unwrap();
        p.record(&result(0.5));
        p.record(&result(1.0));
        p.record(&result(0.0));
        p.answered("l", "q1", "b");
        p.save(&path).unwrap();
        let q = Progress::load(&path).unwrap();
        assert_eq!(q, p);
        assert!(q.done("a"));
        assert!(q.labs["l"].completed);
        let objs = Objectives {
            list: vec![
                Objective {
                    id: "a".into(),
                    kind: ObjectiveKind::Do,
                    zh: "甲".into(),
                    en: "A".into(),
                },
                Objective {
                    id: "b".into(),
                    kind: ObjectiveKind::Do,
                    zh: "乙".into(),
                    en: "B".into(),
                },
            ],
        };
        let c = q.checklist(&objs, false);
        assert!(c.starts_with("☑ a") && c.contains("☐ b"), "{c}");
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("p.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = Progress::load(&path).unwrap_err().to_string();
        assert!(e.contains("p.json: not a progress file"), "{e}");
    }
}
