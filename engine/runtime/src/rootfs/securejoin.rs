//! Resolves a path inside the container rootfs the way the kernel would after chroot: symlinks
//! (absolute or relative) and `..` can never lead outside `root`. Missing components are kept
//! as they are (they will be created).

use std::path::{Component, Path, PathBuf};

pub fn secure_join(root: &Path, unsafe_path: &Path) -> PathBuf {
    let mut resolved = PathBuf::new(); // relative to root
    let mut pending: Vec<std::ffi::OsString> =
        unsafe_path.components().rev().filter_map(comp_name).collect();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&c);
        match std::fs::read_link(root.join(&candidate)) {
            Ok(target) if links < 255 => {
                links += 1;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                pending.extend(target.components().rev().filter_map(comp_name));
            }
            _ => resolved = candidate,
        }
    }
    root.join(resolved)
}

fn comp_name(c: Component) -> Option<std::ffi::OsString> {
    match c {
        Component::Normal(s) => Some(s.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        symlink("/usr/lib", root.join("lib")).unwrap();
        symlink("../../../../etc", root.join("usr/escape")).unwrap();
        assert_eq!(secure_join(root, Path::new("/lib/x")), root.join("usr/lib/x"));
        assert_eq!(secure_join(root, Path::new("/usr/escape/passwd")), root.join("etc/passwd"));
        assert_eq!(secure_join(root, Path::new("/../../proc")), root.join("proc"));
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(secure_join(root, Path::new("/loop")), root.join("loop"));
    }
}
