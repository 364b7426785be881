use super::*;
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory, Pids};
use std::fs;

const MOUNTINFO: &str = "\
25 1 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
33 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpuset
34 25 0:32 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,blkio
";

#[test]
fn parses_hierarchies_including_comounted_and_named() {
    let h = hierarchies_from_mountinfo(MOUNTINFO);
    assert_eq!(h.len(), 6);
    assert_eq!(h[0].subsystems, vec!["name=systemd"]);
    assert_eq!(h[1].mountpoint, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
    assert_eq!(h[1].subsystems, vec!["cpu", "cpuacct"]);
}

/// A fake v1 tree: one directory per hierarchy with the root's knobs.
fn fake_tree(root: &Path, with_hugetlb: bool) -> Manager {
    let mut hs = Vec::new();
    let mut ctrls = vec!["memory", "cpu", "cpuset", "pids", "blkio", "devices"];
    if with_hugetlb {
        ctrls.push("hugetlb");
    }
    for c in ctrls {
        let mp = root.join(c);
        fs::create_dir_all(&mp).unwrap();
        fs::write(mp.join("cgroup.procs"), "").unwrap();
        if c == "cpuset" {
            fs::write(mp.join("cpuset.cpus"), "0-3\n").unwrap();
            fs::write(mp.join("cpuset.mems"), "0\n").unwrap();
        }
        hs.push(Hierarchy { mountpoint: mp, subsystems: vec![c.to_string()] });
    }
    Manager::new(hs, PathBuf::from("berth-test/c1"))
}

/// Real cgroupfs populates knob files in a new directory; the fake does it by hand.
fn populate(m: &Manager) {
    let d = m.dir_of("memory").unwrap();
    fs::write(d.join("memory.memsw.limit_in_bytes"), "").unwrap();
    let d = m.dir_of("cpuset").unwrap();
    for dir in [d.parent().unwrap(), &d] {
        fs::write(dir.join("cpuset.cpus"), "").unwrap();
        fs::write(dir.join("cpuset.mems"), "").unwrap();
    }
    fs::write(m.dir_of("blkio").unwrap().join("blkio.bfq.weight"), "").unwrap();
}

fn resources() -> Resources {
    Resources {
        memory: Some(Memory { limit: Some(64 << 20), reservation: Some(32 << 20), swap: Some(128 << 20), ..Default::default() }),
        cpu: Some(Cpu { shares: Some(512), quota: Some(50_000), period: Some(100_000), cpus: Some("1".into()), mems: None }),
        pids: Some(Pids { limit: 20 }),
        block_io: Some(BlockIo { weight: Some(300) }),
        ..Default::default()
    }
}

fn knob(m: &Manager, ctrl: &str, file: &str) -> String {
    fs::read_to_string(m.dir_of(ctrl).unwrap().join(file)).unwrap()
}

#[test]
fn creates_applies_and_removes_on_a_fake_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fake_tree(tmp.path(), false);
    let res = resources();
    m.validate(&res).unwrap();
    m.create().unwrap();
    populate(&m);
    // cpuset inherits from the parent chain once created (cpus/mems were empty above).
    cpuset::inherit_from_parents(&m.dir_of("cpuset").unwrap()).unwrap();
    assert_eq!(knob(&m, "cpuset", "cpuset.mems"), "0");
    m.apply(&res).unwrap();
    assert_eq!(knob(&m, "memory", "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(knob(&m, "memory", "memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
    assert_eq!(knob(&m, "memory", "memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(knob(&m, "cpu", "cpu.shares"), "512");
    assert_eq!(knob(&m, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(knob(&m, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(knob(&m, "cpuset", "cpuset.cpus"), "1");
    assert_eq!(knob(&m, "pids", "pids.max"), "20");
    assert_eq!(knob(&m, "blkio", "blkio.bfq.weight"), "300");
    m.add_task(4242).unwrap();
    assert_eq!(knob(&m, "pids", "cgroup.procs"), "4242");
    assert_eq!(m.pids().unwrap(), vec![4242]);
    // Real cgroupfs dirs hold only virtual files; empty the fake ones so rmdir can work.
    for d in m.dirs() {
        for f in fs::read_dir(&d).unwrap() {
            fs::remove_file(f.unwrap().path()).unwrap();
        }
    }
    m.remove().unwrap();
    assert!(m.dirs().iter().all(|d| !d.exists()));
}

#[test]
fn missing_controller_is_reported_before_anything_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fake_tree(tmp.path(), false);
    let res = Resources {
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 1 << 21 }],
        ..Default::default()
    };
    let err = m.validate(&res).unwrap_err().to_string();
    assert_eq!(err, "linux.resources.hugepageLimits: cgroup controller \"hugetlb\" is not available on this host");
    let m = fake_tree(tmp.path(), true);
    m.validate(&res).unwrap();
    m.create().unwrap();
    m.apply(&res).unwrap();
    assert_eq!(knob(&m, "hugetlb", "hugetlb.2MB.limit_in_bytes"), (1u64 << 21).to_string());
}

#[test]
fn unsupported_knobs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fake_tree(tmp.path(), false);
    m.create().unwrap();
    let err = m.apply(&resources()).unwrap_err().to_string();
    assert_eq!(err, "linux.resources.memory.swap: swap accounting is not enabled in this kernel");
    let res = Resources { block_io: Some(BlockIo { weight: Some(10) }), ..Default::default() };
    let err = m.apply(&res).unwrap_err().to_string();
    assert!(err.starts_with("linux.resources.blockIO.weight: this kernel has no"), "{err}");
}

#[test]
fn device_rules_then_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let m = fake_tree(tmp.path(), false);
    m.create().unwrap();
    let rule = crate::spec::DeviceRule { allow: false, access: Some("rwm".into()), ..Default::default() };
    assert_eq!(devices::rule_text(&rule), "a *:* rwm");
    let res = Resources { devices: vec![rule], ..Default::default() };
    m.apply(&res).unwrap();
    // Each write replaces the fake file; the last write is the last default rule.
    assert_eq!(knob(&m, "devices", "devices.deny"), "a *:* rwm");
    assert_eq!(knob(&m, "devices", "devices.allow"), devices::DEFAULT_ALLOWED[10]);
}

#[test]
fn failed_create_removes_what_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let mut m = fake_tree(tmp.path(), false);
    // A hierarchy whose mount point is a file: creating under it fails.
    fs::write(tmp.path().join("broken"), "").unwrap();
    m.hierarchies.push(Hierarchy { mountpoint: tmp.path().join("broken"), subsystems: vec!["freezer".into()] });
    assert!(m.create().is_err());
    assert!(!tmp.path().join("memory/berth-test").exists());
}
