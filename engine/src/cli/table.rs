//! The list commands' output (`ps`, `images`, `network ls`, `volume ls`, `search`, `stats`):
//! a Go template over one JSON row per item; `table …` templates get Docker's column titles and
//! aligned columns.

use serde_json::Value;

use super::format::{table, Template};
use super::{CliResult, Failure};

/// Render rows with a template; `table` templates get a header and aligned columns.
pub fn render_rows(tpl: &Template, rows: &[Value], title: &dyn Fn(&str) -> String) -> String {
    if !tpl.table {
        return rows.iter().map(|r| format!("{}\n", tpl.render(r))).collect();
    }
    let mut cells: Vec<Vec<String>> = vec![tpl.header(title).split('\t').map(String::from).collect()];
    for r in rows {
        cells.push(tpl.render(r).split('\t').map(String::from).collect());
    }
    table(&cells)
}

/// Print `rows` with `--format` or else the command's `default` template. A template that does
/// not parse fails with `code` (the docker CLI's: 125 for `ps`/`images`, 1 for the others).
pub fn print(format: Option<String>, default: &str, code: i32, rows: &[Value], title: &dyn Fn(&str) -> String) -> CliResult {
    let src = format.unwrap_or_else(|| default.to_string());
    let tpl = Template::parse(&src).map_err(|e| Failure::new(e.to_string(), code))?;
    print!("{}", render_rows(&tpl, rows, title));
    Ok(())
}
