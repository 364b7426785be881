//! `list`: every container under --root, as runc's table, `-q` ids, or `--format json`.

use super::args::{parse, Flag};
use super::{CmdResult, Globals};
use crate::state::State;

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("list", argv, &[Flag("quiet", &["--quiet", "-q"], false), Flag("format", &["--format", "-f"], true)])?;
    let mut states: Vec<State> = match std::fs::read_dir(&g.root) {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|id| State::load(&g.root, &id).ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("{}: {e}", g.root.display())),
    };
    states.sort_by(|a, b| a.id.cmp(&b.id));
    if p.flag("quiet") {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match p.value("format").unwrap_or("table") {
        "json" => {
            let v: Vec<_> = states.iter().map(|s| s.oci(s.status(&g.root))).collect();
            println!("{}", serde_json::to_string(&v).expect("serializes"));
        }
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
            for s in &states {
                let status = s.status(&g.root);
                let o = s.oci(status);
                rows.push(vec![
                    s.id.clone(),
                    o.pid.to_string(),
                    status.as_str().into(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    if s.owner.is_empty() { "root".into() } else { s.owner.clone() },
                ]);
            }
            print!("{}", table(&rows));
        }
        other => return Err(format!("list: invalid format {other:?} (table or json)")),
    }
    Ok(0)
}

/// Go's tabwriter as runc configures it: min width 12, padding 3.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows[0].len();
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0).max(9) + 3).collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}
