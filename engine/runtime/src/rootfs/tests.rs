use super::*;
use crate::spec::Spec;
use crate::syscall::fake::{Call, RecordingSyscall};
use std::fs;

const RUNC_SPEC: &str = include_str!("../spec/testdata/runc-spec.json");

fn spec() -> Spec {
    Spec::from_json(RUNC_SPEC).unwrap()
}

#[test]
fn prepare_mounts_runc_default_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    fs::create_dir(&rootfs).unwrap();
    let sys = RecordingSyscall::default();
    let ctx = MountContext {
        userns: false,
        cgroups: CgroupMounts::V1 {
            hierarchies: vec![("memory".into(), PathBuf::from("/sys/fs/cgroup/memory/x"))],
            cgroupns: false,
        },
    };
    prepare(&sys, &spec(), &rootfs, &ctx).unwrap();
    let mounts = sys.mounts();
    // / made rslave, then the rootfs bound onto itself.
    assert_eq!(mounts[0], (None, PathBuf::from("/"), None, libc::MS_SLAVE | libc::MS_REC, None));
    assert_eq!(mounts[1].1, rootfs);
    assert_eq!(mounts[1].3, libc::MS_BIND | libc::MS_REC);
    let proc = &mounts[2];
    assert_eq!((proc.1.clone(), proc.2.as_deref()), (rootfs.join("proc"), Some("proc")));
    let pts = mounts.iter().find(|m| m.1 == rootfs.join("dev/pts")).unwrap();
    assert_eq!(pts.3, libc::MS_NOSUID | libc::MS_NOEXEC);
    assert_eq!(pts.4.as_deref(), Some("newinstance,ptmxmode=0666,mode=0620,gid=5"));
    let sysfs = mounts.iter().find(|m| m.1 == rootfs.join("sys")).unwrap();
    assert_eq!(sysfs.3, libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY);
    // cgroup: tmpfs, then a bind per hierarchy remounted ro (the tmpfs stays rw, as in runc).
    let cg: Vec<_> = mounts.iter().filter(|m| m.1.starts_with(rootfs.join("sys/fs/cgroup"))).collect();
    assert_eq!(cg.len(), 3);
    assert_eq!(cg[0].2.as_deref(), Some("tmpfs"));
    assert_eq!(cg[0].3 & libc::MS_RDONLY, 0);
    assert_eq!(cg[1].0.as_deref(), Some(Path::new("/sys/fs/cgroup/memory/x")));
    assert_ne!(cg[2].3 & libc::MS_RDONLY, 0);
    // Default devices are mknod'ed and chowned, ptmx and fd symlinks exist.
    let calls = sys.calls();
    let null = libc::makedev(1, 3);
    assert!(calls.contains(&Call::Mknod { path: rootfs.join("dev/null"), mode: libc::S_IFCHR | 0o666, dev: null }));
    assert!(calls.contains(&Call::Chown { path: rootfs.join("dev/null"), uid: 0, gid: 0 }));
    assert_eq!(fs::read_link(rootfs.join("dev/ptmx")).unwrap(), PathBuf::from("pts/ptmx"));
    assert_eq!(fs::read_link(rootfs.join("dev/fd")).unwrap(), PathBuf::from("/proc/self/fd"));
    assert!(rootfs.join("dev/mqueue").is_dir());
}

#[test]
fn user_namespace_binds_devices_instead_of_mknod() {
    let tmp = tempfile::tempdir().unwrap();
    let sys = RecordingSyscall::default();
    create_devices(&sys, tmp.path(), &[], true).unwrap();
    let calls = sys.calls();
    assert!(!calls.iter().any(|c| matches!(c, Call::Mknod { .. })));
    assert!(calls.contains(&Call::Mount {
        source: Some(PathBuf::from("/dev/zero")),
        target: tmp.path().join("dev/zero"),
        fstype: Some("bind".into()),
        flags: libc::MS_BIND,
        data: None
    }));
}

#[test]
fn bind_mounts_remount_with_flags_and_propagation() {
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    let src = tmp.path().join("data");
    fs::create_dir_all(&rootfs).unwrap();
    fs::create_dir_all(&src).unwrap();
    let m = crate::spec::Mount {
        destination: "/data".into(),
        typ: Some("bind".into()),
        source: Some(src.clone()),
        options: vec!["rbind".into(), "ro".into(), "nosuid".into(), "rprivate".into()],
    };
    let sys = RecordingSyscall::default();
    mount_entry(&sys, &rootfs, 0, &m, &MountContext::default()).unwrap();
    let ms = sys.mounts();
    assert_eq!(ms.len(), 3);
    assert_eq!(ms[0].3, libc::MS_BIND | libc::MS_REC);
    assert_eq!(ms[1].3, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID);
    assert_eq!(ms[2].3, libc::MS_PRIVATE | libc::MS_REC);
    assert!(rootfs.join("data").is_dir());
    // A missing bind source is an error naming the mount.
    let bad = crate::spec::Mount { source: Some(tmp.path().join("nope")), ..m };
    let err = mount_entry(&sys, &rootfs, 3, &bad, &MountContext::default()).unwrap_err().to_string();
    assert!(err.starts_with("mounts[3]: source "), "{err}");
}

#[test]
fn finalize_masks_readonly_sysctl_and_readonly_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("proc/acpi")).unwrap();
    fs::create_dir_all(root.join("proc/sys")).unwrap();
    fs::write(root.join("proc/kcore"), "").unwrap();
    let mut spec = spec();
    spec.linux.as_mut().unwrap().sysctl.insert("net.ipv4.ip_forward".into(), "1".into());
    let sys = RecordingSyscall::default();
    finalize(&sys, &spec, root).unwrap();
    let calls = sys.calls();
    assert!(calls.contains(&Call::WriteFile { path: root.join("proc/sys/net/ipv4/ip_forward"), data: "1".into() }));
    let ms = sys.mounts();
    // /proc/sys read-only (bind + ro remount), /proc/acpi a ro tmpfs, /proc/kcore /dev/null.
    assert!(ms.iter().any(|m| m.1 == root.join("proc/sys") && m.3 & libc::MS_RDONLY != 0 && m.3 & libc::MS_REMOUNT != 0));
    assert!(ms.iter().any(|m| m.1 == root.join("proc/acpi") && m.2.as_deref() == Some("tmpfs") && m.3 == libc::MS_RDONLY));
    assert!(ms.iter().any(|m| m.1 == root.join("proc/kcore") && m.0.as_deref() == Some(&*root.join("dev/null"))));
    // Paths that do not exist are skipped; the root goes read-only last.
    assert!(!ms.iter().any(|m| m.1 == root.join("proc/scsi")));
    assert_eq!(ms.last().unwrap().3, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY);
}

#[test]
fn bad_sysctl_key_rejected() {
    let sys = RecordingSyscall::default();
    let mut m = std::collections::BTreeMap::new();
    m.insert("../../etc/passwd".to_string(), "x".to_string());
    assert!(write_sysctls(&sys, Path::new("/"), &m).is_err());
}

#[test]
fn cgroup_namespace_mounts_fresh_v1_hierarchies() {
    let tmp = tempfile::tempdir().unwrap();
    let sys = RecordingSyscall::default();
    let m = crate::spec::Mount {
        destination: "/sys/fs/cgroup".into(),
        typ: Some("cgroup".into()),
        source: Some("cgroup".into()),
        options: vec!["nosuid".into(), "ro".into()],
    };
    let ctx = MountContext {
        userns: false,
        cgroups: CgroupMounts::V1 {
            hierarchies: vec![
                ("cpu,cpuacct".into(), "/sys/fs/cgroup/cpu,cpuacct/x".into()),
                ("systemd".into(), "/sys/fs/cgroup/systemd/x".into()),
            ],
            cgroupns: true,
        },
    };
    mount_entry(&sys, tmp.path(), 0, &m, &ctx).unwrap();
    let ms = sys.mounts();
    assert_eq!(ms.len(), 3);
    let ro = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;
    let dest = tmp.path().join("sys/fs/cgroup");
    assert_eq!(ms[1], (Some("cgroup".into()), dest.join("cpu,cpuacct"), Some("cgroup".into()), ro, Some("cpu,cpuacct".into())));
    assert_eq!(ms[2], (Some("systemd".into()), dest.join("systemd"), Some("cgroup".into()), ro, Some("name=systemd".into())));
    assert_eq!(fs::read_link(dest.join("cpuacct")).unwrap(), PathBuf::from("cpu,cpuacct"));
}
