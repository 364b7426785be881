//! `*` wildcards in path components (`/var/lib/berth/overlay2/*/diff/etc/passwd`): lab authors
//! cannot know the engine's random layer ids, students' state can still be checked on disk.

use std::path::Path;

/// Shell-style match of one name against a pattern whose only wildcard is `*`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Every existing path (as the host writes it, starting with `/`) matching `pattern` below
/// `root`, sorted. Dot-files match only patterns that name the dot (as in a shell).
pub fn expand(root: &Path, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !comp.contains('*') {
                next.push(format!("{base}/{comp}"));
                continue;
            }
            let dir = root.join(base.trim_start_matches('/'));
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| (!n.starts_with('.') || comp.starts_with('.')) && matches(comp, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| format!("{base}/{n}")));
        }
        found = next;
    }
    found
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(root.join(p.trim_start_matches('/'))).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_of_characters() {
        assert!(matches("*", "abc"));
        assert!(matches("*-init", "ca5a-init"));
        assert!(!matches("*-init", "ca5a"));
        assert!(matches("a*c*e", "abcde"));
        assert!(!matches("a*c*e", "abde"));
        assert!(matches("abc", "abc"));
        assert!(!matches("ab*ba", "aba"), "the two ends must not overlap");
    }

    #[test]
    fn expands_layer_dirs_and_keeps_only_existing_paths() {
        let t = tempfile::tempdir().unwrap();
        let o = t.path().join("var/lib/berth/overlay2");
        std::fs::create_dir_all(o.join("aaa/diff/etc")).unwrap();
        std::fs::create_dir_all(o.join("bbb/diff")).unwrap();
        std::fs::create_dir_all(o.join("bbb-init/diff/etc")).unwrap();
        std::fs::write(o.join("aaa/diff/etc/passwd"), "x").unwrap();
        std::fs::write(o.join("bbb-init/diff/etc/passwd"), "y").unwrap();
        assert_eq!(
            expand(t.path(), "/var/lib/berth/overlay2/*/diff/etc/passwd"),
            vec![
                "/var/lib/berth/overlay2/aaa/diff/etc/passwd",
                "/var/lib/berth/overlay2/bbb-init/diff/etc/passwd"
            ]
        );
        assert_eq!(
            expand(t.path(), "/var/lib/berth/overlay2/*-init"),
            vec!["/var/lib/berth/overlay2/bbb-init"]
        );
        assert!(expand(t.path(), "/var/lib/berth/nothing/*").is_empty());
    }
}
