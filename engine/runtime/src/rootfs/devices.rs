//! /dev contents: the OCI default devices, spec devices, and the standard symlinks.

use super::securejoin::secure_join;
use super::{io, Result};
use crate::spec::Device;
use crate::syscall::Syscall;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// (path, major, minor) of the character devices every container gets.
pub const DEFAULT_DEVICES: [(&str, u32, u32); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

pub fn create_devices(sys: &dyn Syscall, rootfs: &Path, spec_devices: &[Device], userns: bool) -> Result<()> {
    let mut all: Vec<Device> = DEFAULT_DEVICES
        .iter()
        .map(|(p, ma, mi)| Device {
            typ: "c".into(),
            path: PathBuf::from(p),
            major: i64::from(*ma),
            minor: i64::from(*mi),
            file_mode: Some(0o666),
            uid: Some(0),
            gid: Some(0),
        })
        .collect();
    for d in spec_devices {
        all.retain(|x| x.path != d.path);
        all.push(d.clone());
    }
    for d in &all {
        let dest = secure_join(rootfs, &d.path);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(io("mkdir", p))?;
        }
        if userns {
            // mknod is not allowed in a user namespace: bind the host's node instead.
            if !dest.exists() {
                std::fs::File::create(&dest).map_err(io("create", &dest))?;
            }
            sys.mount(Some(&d.path), &dest, Some("bind"), libc::MS_BIND, None)?;
            continue;
        }
        let kind = match d.typ.as_str() {
            "b" => libc::S_IFBLK,
            "p" => libc::S_IFIFO,
            _ => libc::S_IFCHR,
        };
        let _ = std::fs::remove_file(&dest);
        let mode = kind | d.file_mode.unwrap_or(0o666) as libc::mode_t;
        sys.mknod(&dest, mode, libc::makedev(d.major as u32, d.minor as u32))?;
        sys.chown(&dest, d.uid.unwrap_or(0), d.gid.unwrap_or(0))?;
    }
    Ok(())
}

/// /dev/fd, stdin/stdout/stderr, and /dev/ptmx → pts/ptmx (the container's own devpts).
pub fn default_symlinks(rootfs: &Path) -> Result<()> {
    let dev = secure_join(rootfs, Path::new("/dev"));
    std::fs::create_dir_all(&dev).map_err(io("mkdir", &dev))?;
    for (target, name) in [
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
        ("pts/ptmx", "ptmx"),
    ] {
        let link = dev.join(name);
        if name == "ptmx" || std::fs::symlink_metadata(&link).is_err() {
            let _ = std::fs::remove_file(&link);
            symlink(target, &link).map_err(io("symlink", &link))?;
        }
    }
    Ok(())
}
