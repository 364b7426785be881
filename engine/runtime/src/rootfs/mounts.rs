//! One spec mount → mount(2) calls, plus the special `cgroup` type.

use super::options::{parse, MountOptions};
use super::securejoin::secure_join;
use super::{io, Result, RootfsError};
use crate::spec::Mount;
use crate::syscall::Syscall;
use std::path::{Path, PathBuf};

/// How to build /sys/fs/cgroup inside the container.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum CgroupMounts {
    #[default]
    None,
    /// v1: a tmpfs with one mount per hierarchy: (directory name, host source directory). In a
    /// cgroup namespace each is a fresh cgroup mount (its root is the namespace's root), else a
    /// bind of the container's directory — runc 1.1's two cases.
    V1 { hierarchies: Vec<(String, PathBuf)>, cgroupns: bool },
    /// v2: a fresh cgroup2 mount in a cgroup namespace, else a bind of the container's directory.
    V2 { host_dir: PathBuf, cgroupns: bool },
}

pub fn mount_entry(sys: &dyn Syscall, rootfs: &Path, index: usize, m: &Mount, ctx: &super::MountContext) -> Result<()> {
    let dest = secure_join(rootfs, &m.destination);
    let opts = parse(&m.options);
    let typ = m.typ.as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(sys, &dest, &opts, &ctx.cgroups);
    }
    if opts.is_bind() {
        let source = m.source.clone().ok_or_else(|| RootfsError::Mount { index, msg: "bind mount without source".into() })?;
        let meta = std::fs::metadata(&source)
            .map_err(|e| RootfsError::Mount { index, msg: format!("source {}: {e}", source.display()) })?;
        ensure_target(&dest, meta.is_dir())?;
        sys.mount(Some(&source), &dest, Some("bind"), opts.flags & (libc::MS_BIND | libc::MS_REC), None)?;
        // Bind mounts ignore other flags until remounted.
        let extra = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            sys.mount(None, &dest, None, libc::MS_BIND | libc::MS_REMOUNT | extra, None)?;
        }
    } else {
        ensure_target(&dest, true)?;
        let source = m.source.clone().unwrap_or_else(|| PathBuf::from(typ));
        let fstype = (!typ.is_empty()).then_some(typ);
        sys.mount(Some(&source), &dest, fstype, opts.flags, opts.data().as_deref())?;
    }
    for p in &opts.propagation {
        sys.mount(None, &dest, None, *p, None)?;
    }
    Ok(())
}

fn ensure_target(dest: &Path, dir: bool) -> Result<()> {
    if dir {
        std::fs::create_dir_all(dest).map_err(io("mkdir", dest))
    } else {
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(io("mkdir", p))?;
        }
        if !dest.exists() {
            std::fs::File::create(dest).map_err(io("create", dest))?;
        }
        Ok(())
    }
}

fn mount_cgroup(sys: &dyn Syscall, dest: &Path, opts: &MountOptions, cg: &CgroupMounts) -> Result<()> {
    let flags = opts.flags & !(libc::MS_BIND | libc::MS_REC);
    ensure_target(dest, true)?;
    match cg {
        CgroupMounts::None => Ok(()),
        CgroupMounts::V1 { hierarchies, cgroupns } => {
            // runc: a tmpfs (nosuid,nodev,noexec, mode=755) holding one bind per hierarchy,
            // each remounted with the mount's flags. runc 1.1 leaves the tmpfs itself writable; so do we.
            let base = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            sys.mount(Some(Path::new("tmpfs")), dest, Some("tmpfs"), base, Some("mode=755"))?;
            for (name, src) in hierarchies {
                let target = dest.join(name);
                ensure_target(&target, true)?;
                if *cgroupns {
                    let (source, data) = match name.as_str() {
                        "systemd" => ("systemd", "name=systemd".to_string()),
                        other => ("cgroup", other.to_string()),
                    };
                    let fresh = base | (flags & libc::MS_RDONLY);
                    sys.mount(Some(Path::new(source)), &target, Some("cgroup"), fresh, Some(&data))?;
                } else {
                    sys.mount(Some(src), &target, Some("bind"), libc::MS_BIND | libc::MS_REC, None)?;
                    sys.mount(None, &target, None, libc::MS_BIND | libc::MS_REMOUNT | flags, None)?;
                }
                // Co-mounted hierarchies ("cpu,cpuacct") get one symlink per controller.
                if name.contains(',') {
                    for part in name.split(',') {
                        let link = dest.join(part);
                        if std::fs::symlink_metadata(&link).is_err() {
                            std::os::unix::fs::symlink(name, &link).map_err(io("symlink", &link))?;
                        }
                    }
                }
            }
            Ok(())
        }
        CgroupMounts::V2 { host_dir, cgroupns } => {
            if *cgroupns {
                sys.mount(Some(Path::new("cgroup2")), dest, Some("cgroup2"), flags, None)?;
            } else {
                sys.mount(Some(host_dir), dest, Some("bind"), libc::MS_BIND | libc::MS_REC, None)?;
                sys.mount(None, dest, None, libc::MS_BIND | libc::MS_REMOUNT | flags, None)?;
            }
            Ok(())
        }
    }
}
