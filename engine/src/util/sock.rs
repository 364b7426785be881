//! Unix sockets at paths longer than `sun_path` allows (108 bytes): per-container state dirs
//! under a deep exec root easily exceed it. Connect through `/proc/self/fd/<dirfd>/<name>`.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

const MAX: usize = 100;

pub fn connect(path: &Path) -> std::io::Result<UnixStream> {
    if path.as_os_str().len() < MAX {
        return UnixStream::connect(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path);
    };
    let d = std::fs::File::open(dir)?;
    let short = Path::new("/proc/self/fd").join(d.as_raw_fd().to_string()).join(name);
    UnixStream::connect(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_connect() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("x".repeat(60)).join("y".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let sock = deep.join("s.sock");
        assert!(sock.as_os_str().len() > 108);
        let cwd = std::env::current_dir().unwrap();
        // Bind relative to the directory (what the shim does after chdir).
        let d2 = std::fs::File::open(&deep).unwrap();
        let l = std::os::unix::net::UnixListener::bind(Path::new("/proc/self/fd").join(d2.as_raw_fd().to_string()).join("s.sock")).unwrap();
        assert_eq!(std::env::current_dir().unwrap(), cwd);
        let _c = connect(&sock).unwrap();
        let _ = l.accept().unwrap();
    }
}
