//! The lab catalog: `labs/objectives.toml` plus one `labs/<n>-<slug>/lab.toml` per lab.
//! Parsing keeps toml's span information so every error names file, line and field.

mod error;
pub mod lab;
mod locate;
pub mod objectives;
mod validate;

pub(crate) use validate::{first_host, parse_cidr};

pub use error::CatalogError;
pub use lab::{Action, Broken, HostSpec, Hub, HubSpec, Lab, QuizItem, Service, Step, Text};
pub use objectives::{Objective, ObjectiveKind, Objectives};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loaded, validated catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub root: PathBuf,
    pub objectives: Objectives,
    pub labs: Vec<Lab>,
}

/// (chapter, folder name) of `labs/<chapter>-<slug>`; folders without a number come last.
fn chapter_key(dir: &Path) -> (u32, String) {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let chapter = name
        .split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX);
    (chapter, name)
}

impl Catalog {
    /// Loads `root/objectives.toml` and every `root/*/lab.toml`, validating each lab.
    pub fn load(root: &Path) -> Result<Catalog, CatalogError> {
        let objectives = Objectives::load(&root.join("objectives.toml"))?;
        let mut labs = Vec::new();
        let entries = std::fs::read_dir(root).map_err(|e| CatalogError::Io {
            path: root.to_path_buf(),
            source: e,
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("lab.toml").is_file())
            .collect();
        // Course order: by chapter number (2 before 11), then name.
        dirs.sort_by_key(|d| chapter_key(d));
        for dir in dirs {
            labs.push(Lab::load(&dir.join("lab.toml"), &objectives)?);
        }
        let mut seen = std::collections::BTreeSet::new();
        for lab in &labs {
            if !seen.insert(lab.id.clone()) {
                return Err(CatalogError::Invalid {
                    file: lab.file.clone(),
                    line: 1,
                    field: "id".into(),
                    message: format!("lab id {:?} is used by two labs", lab.id),
                });
            }
        }
        Ok(Catalog {
            root: root.to_path_buf(),
            objectives,
            labs,
        })
    }

    pub fn lab(&self, id: &str) -> Option<&Lab> {
        self.labs.iter().find(|l| l.id == id)
    }

    /// Per objective id (every objective of objectives.toml, proven or not), the (lab id,
    /// step id) pairs whose checks count toward it, in course order: quiz checks toward
    /// their item's objective, other checks toward the step's objectives.
    pub fn provers(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let mut map: BTreeMap<String, Vec<(String, String)>> = self
            .objectives
            .list
            .iter()
            .map(|o| (o.id.clone(), Vec::new()))
            .collect();
        for lab in &self.labs {
            for step in &lab.steps {
                let mut objs = std::collections::BTreeSet::new();
                for c in &step.checks {
                    objs.extend(lab.check_objectives(step, c, &self.objectives));
                }
                for o in objs {
                    map.entry(o.to_string())
                        .or_default()
                        .push((lab.id.clone(), step.id.clone()));
                }
            }
        }
        map
    }

    /// Lab ids close to `id` (prefix, substring or small edit distance), for "did you mean".
    pub fn close_matches(&self, id: &str) -> Vec<String> {
        close_matches(self.labs.iter().map(|l| l.id.as_str()), id)
    }
}

/// Which of `ids` look like `id` (prefix, substring, a shared word, or a small edit distance).
pub fn close_matches<'a>(ids: impl Iterator<Item = &'a str>, id: &str) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = ids
        .filter_map(|l| {
            let d = edit_distance(l, id);
            let near = l.starts_with(id)
                || l.contains(id)
                || id.contains(l)
                || l.split('-').skip(1).any(|w| w.len() > 2 && id.contains(w))
                || d <= 3;
            near.then(|| (d, l.to_string()))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, id)| id).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses `text` (from `file`) into `T`, mapping toml and serde errors to file, line and field.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, CatalogError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let mut line = inner
            .span()
            .map(|s| locate::line_of(text, s.start))
            .unwrap_or(1);
        let mut field = if field == "." {
            "(document)".to_string()
        } else {
            field
        };
        let message = inner.message().trim().to_string();
        // An unknown key: point at the key itself, not at the table holding it.
        if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
        {
            field = if field == "(document)" {
                name.to_string()
            } else {
                format!("{field}.{name}")
            };
            line = locate::line_of_path(text, &field).max(line);
        }
        CatalogError::Invalid {
            file: file.to_path_buf(),
            line,
            field,
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labs_come_in_chapter_order() {
        let mut dirs: Vec<PathBuf> = [
            "labs/12-networks",
            "labs/2-kernel",
            "labs/11-link",
            "labs/x",
            "labs/9-apps",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        dirs.sort_by_key(|d| chapter_key(d));
        let names: Vec<&str> = dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "labs/2-kernel",
                "labs/9-apps",
                "labs/11-link",
                "labs/12-networks",
                "labs/x"
            ]
        );
    }

    #[test]
    fn close_matches_suggest_near_ids() {
        let ids = ["8-overlay2", "7-containers", "1-containers-vs-vms"];
        assert_eq!(
            close_matches(ids.into_iter(), "8-overlay"),
            vec!["8-overlay2"]
        );
        assert_eq!(
            close_matches(ids.into_iter(), "overlay2"),
            vec!["8-overlay2"]
        );
        assert_eq!(close_matches(ids.into_iter(), "containers").len(), 2);
        assert!(close_matches(ids.into_iter(), "flannel").is_empty());
    }

    #[test]
    fn provers_name_the_steps_whose_checks_count_toward_each_objective() {
        let t = tempfile::tempdir().unwrap();
        let obj =
            "[[objective]]\nid = \"explain-x\"\nkind = \"explain\"\nzh = \"甲\"\nen = \"X\"\n\
                   [[objective]]\nid = \"do-y\"\nkind = \"do\"\nzh = \"乙\"\nen = \"Y\"\n\
                   [[objective]]\nid = \"do-z\"\nkind = \"do\"\nzh = \"丙\"\nen = \"Z\"\n";
        std::fs::write(t.path().join("objectives.toml"), obj).unwrap();
        let step = |id: &str, objectives: &str, quiz: bool| {
            format!(
                "[[steps]]\nid = \"{id}\"\ntitle = {{ zh = \"t\", en = \"t\" }}\n\
                 instructions = {{ zh = \"t\", en = \"t\" }}\nhost = \"vm1\"\n{objectives}\n\
                 [[steps.checks]]\nkind = \"{}\"\n{}\n\
                 [[steps.broken]]\nname = \"b\"\nwhy = \"w\"\n",
                if quiz { "quiz" } else { "process" },
                if quiz {
                    "item = \"q\""
                } else {
                    "host = \"vm1\"\ncmdline = \"x\""
                },
            )
        };
        let lab = |id: &str, objectives: &str, steps: &[String], quiz: bool| {
            let mut s = format!(
                "id = \"{id}\"\ntitle = {{ zh = \"t\", en = \"t\" }}\n\
                 intro = {{ zh = \"t\", en = \"t\" }}\nobjectives = {objectives}\n\
                 [[hosts]]\nname = \"vm1\"\naddress = \"10.1.1.11/24\"\n"
            );
            for st in steps {
                s += st;
            }
            if quiz {
                s += "[[quiz]]\nid = \"q\"\nobjective = \"explain-x\"\n\
                      question = { zh = \"q\", en = \"q\" }\n\
                      choices = [{ zh = \"a\", en = \"a\" }, { zh = \"b\", en = \"b\" }]\n\
                      answer = \"a\"\nexplanation = { zh = \"e\", en = \"e\" }\n";
            }
            std::fs::create_dir(t.path().join(id)).unwrap();
            std::fs::write(t.path().join(id).join("lab.toml"), s).unwrap();
        };
        lab(
            "2-two",
            r#"["explain-x", "do-y"]"#,
            &[
                step("plain", "", false),
                step("both", r#"objectives = ["do-y", "explain-x"]"#, false),
                step("quiz", "", true),
            ],
            true,
        );
        lab("1-one", r#"["do-y"]"#, &[step("first", "", false)], false);
        let c = Catalog::load(t.path()).unwrap();
        let p = c.provers();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            p["do-y"],
            pairs(&[("1-one", "first"), ("2-two", "plain"), ("2-two", "both")])
        );
        assert_eq!(
            p["explain-x"],
            pairs(&[("2-two", "both"), ("2-two", "quiz")])
        );
        assert!(p["do-z"].is_empty());
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("8-overlay2", "8-overlay"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
