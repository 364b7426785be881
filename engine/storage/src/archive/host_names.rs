//! User and group names for tar headers, as Docker's `pkg/archive` writes them: Go's
//! `tar.FileInfoHeader` looks each uid and gid up on the daemon's host (`os/user`, i.e.
//! `/etc/passwd` and `/etc/group`), so a layer file owned by uid 65534 is `nobody:nogroup` and
//! one owned by an id the host does not know has empty names. The same names go into the
//! checksums of `COPY --from` sources (moby's `NewFileHash`).
//!
//! The files are parsed again only when they change.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

type Stamp = Option<(SystemTime, u64)>;

#[derive(Default)]
struct Table {
    stamp: Stamp,
    names: HashMap<u32, String>,
}

static USERS: Mutex<Option<Table>> = Mutex::new(None);
static GROUPS: Mutex<Option<Table>> = Mutex::new(None);

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// `name:x:id:…` lines: the first name of each id.
fn parse(text: &str) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 3 || f[0].is_empty() || f[0].starts_with('#') {
            continue;
        }
        if let Ok(id) = f[2].parse::<u32>() {
            out.entry(id).or_insert_with(|| f[0].to_string());
        }
    }
    out
}

fn lookup(table: &Mutex<Option<Table>>, file: &str, id: u32) -> String {
    let p = Path::new(file);
    let now = stamp(p);
    let mut g = table.lock().unwrap_or_else(|e| e.into_inner());
    let t = g.get_or_insert_with(Table::default);
    if t.stamp != now || (now.is_none() && t.names.is_empty()) {
        t.names = std::fs::read_to_string(p).map(|s| parse(&s)).unwrap_or_default();
        t.stamp = now;
    }
    t.names.get(&id).cloned().unwrap_or_default()
}

/// The host's name for `uid` (`""` when it has none).
pub fn user_name(uid: u32) -> String {
    lookup(&USERS, "/etc/passwd", uid)
}

/// The host's name for `gid` (`""` when it has none).
pub fn group_name(gid: u32) -> String {
    lookup(&GROUPS, "/etc/group", gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_name_of_each_id() {
        let m = parse("root:x:0:0:root:/root:/bin/sh\n# c\nbad\nnobody:x:65534:65534::/:/bin/false\ntoor:x:0:0::/:/bin/sh\n");
        assert_eq!(m.get(&0).map(String::as_str), Some("root"));
        assert_eq!(m.get(&65534).map(String::as_str), Some("nobody"));
        assert_eq!(m.len(), 2);
        assert_eq!(user_name(0), "root");
    }
}
