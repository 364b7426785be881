//! Process identity helpers that read the container's files (after pivot_root).

use std::path::{Path, PathBuf};

/// HOME for `uid` from the container's /etc/passwd, "/" when absent (runc's fallback).
pub fn home_of(passwd: &str, uid: u32) -> String {
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
        })
        .next()
        .unwrap_or_else(|| "/".into())
}

/// Resolves args[0] like execvp: names with '/' are taken as is, others searched in PATH.
pub fn find_executable(root: &Path, name: &str, path_var: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(root.join(p.strip_prefix("/").unwrap_or(p)))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path_var = path_var.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path_var.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(name)).find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_lookup() {
        let pw = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
        assert_eq!(home_of(pw, 0), "/root");
        assert_eq!(home_of(pw, 65534), "/nonexistent");
        assert_eq!(home_of(pw, 1000), "/");
    }

    #[test]
    fn path_search_inside_root() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("bin")).unwrap();
        let sh = tmp.path().join("bin/sh");
        std::fs::write(&sh, "").unwrap();
        std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_executable(tmp.path(), "sh", Some("/usr/bin:/bin")), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_executable(tmp.path(), "nope", Some("/bin")), None);
        assert_eq!(find_executable(tmp.path(), "./x", None), Some(PathBuf::from("./x")));
    }
}
