//! Reports of a lab run: terminal text, JSON (per-objective scores), JUnit XML, CSV, HTML.

pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod terminal;

/// The machine-readable formats, by the name `--report` takes.
pub const FORMATS: &[&str] = &["json", "junit", "csv", "html"];

/// Renders `r` in `format` (one of [`FORMATS`]); `None` for an unknown name.
pub fn render(format: &str, r: &crate::runner::LabResult) -> Option<String> {
    Some(match format {
        "json" => json::render(r) + "\n",
        "junit" => junit::render(r),
        "csv" => csv::render(r),
        "html" => html::render(r),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_renders_and_unknown_is_none() {
        let r = json::tests::sample();
        for f in FORMATS {
            assert!(render(f, &r).is_some_and(|s| !s.is_empty()), "{f}");
        }
        assert!(render("yaml", &r).is_none());
    }

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(render("json", &json::tests::sample()).unwrap());
    }

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(render("junit", &json::tests::sample()).unwrap());
    }

    #[test]
    fn terminal_snapshot() {
        insta::assert_snapshot!(terminal::lab(&json::tests::sample()));
    }
}
