//! `labs/objectives.toml`: the course's learning objectives, with stable ids.

use super::{parse_toml, CatalogError};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// "能够说出…": proven by quiz answers.
    Explain,
    /// "能够/掌握…": proven by state the student creates.
    Do,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    pub id: String,
    pub kind: ObjectiveKind,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    #[serde(rename = "objective")]
    pub list: Vec<Objective>,
}

impl Objectives {
    pub fn load(path: &Path) -> Result<Objectives, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Objectives, CatalogError> {
        let o: Objectives = parse_toml(path, text)?;
        let mut seen = std::collections::BTreeSet::new();
        for (i, obj) in o.list.iter().enumerate() {
            let bad = |message: String| CatalogError::Invalid {
                file: path.to_path_buf(),
                line: super::locate::line_of_path(text, &format!("objective[{i}].id")),
                field: format!("objective[{i}].id"),
                message,
            };
            if !is_slug(&obj.id) {
                return Err(bad(format!(
                    "{:?} is not a slug (lowercase letters, digits, '-')",
                    obj.id
                )));
            }
            if !seen.insert(obj.id.as_str()) {
                return Err(bad(format!("objective id {:?} appears twice", obj.id)));
            }
        }
        Ok(o)
    }

    pub fn get(&self, id: &str) -> Option<&Objective> {
        self.list.iter().find(|o| o.id == id)
    }
}

pub(crate) fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_duplicates() {
        let p = Path::new("objectives.toml");
        let ok = "[[objective]]\nid = \"a\"\nkind = \"do\"\nzh = \"甲\"\nen = \"A\"\n";
        assert_eq!(Objectives::parse(p, ok).unwrap().list.len(), 1);
        let dup = format!("{ok}\n{ok}");
        let e = Objectives::parse(p, &dup).unwrap_err().to_string();
        assert!(e.contains("objectives.toml:8: objective[1].id"), "{e}");
    }

    #[test]
    fn unknown_kind_is_located() {
        let p = Path::new("o.toml");
        let t = "[[objective]]\nid = \"a\"\nkind = \"maybe\"\nzh = \"甲\"\nen = \"A\"\n";
        let e = Objectives::parse(p, t).unwrap_err().to_string();
        assert!(e.starts_with("o.toml:3: objective[0].kind:"), "{e}");
    }

    #[test]
    fn the_real_catalog_has_the_14_objectives() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs/objectives.toml");
        let o = Objectives::load(&path).unwrap();
        assert_eq!(o.list.len(), 14);
        assert_eq!(
            o.list
                .iter()
                .filter(|o| o.kind == ObjectiveKind::Explain)
                .count(),
            5
        );
    }
}
