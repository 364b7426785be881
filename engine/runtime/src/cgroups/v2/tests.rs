use super::*;
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory, Pids};
use std::fs;

fn fake_root(controllers: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("cgroup.controllers"), controllers).unwrap();
    fs::write(tmp.path().join("cgroup.subtree_control"), "").unwrap();
    tmp
}

fn knob(m: &Manager, file: &str) -> String {
    fs::read_to_string(m.dir().join(file)).unwrap()
}

#[test]
fn applies_limits_in_v2_format() {
    let tmp = fake_root("cpuset cpu io memory hugetlb pids rdma misc");
    let m = Manager::new(tmp.path().to_path_buf(), PathBuf::from("berth-test/c1"));
    let res = Resources {
        memory: Some(Memory { limit: Some(100 << 20), reservation: Some(50 << 20), swap: Some(150 << 20), ..Default::default() }),
        cpu: Some(Cpu { shares: Some(1024), quota: Some(25_000), period: Some(50_000), cpus: Some("0".into()), mems: Some("0".into()) }),
        pids: Some(Pids { limit: 10 }),
        block_io: Some(BlockIo { weight: Some(500) }),
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }],
        ..Default::default()
    };
    m.validate(&res).unwrap();
    m.create().unwrap();
    // The root's subtree_control got each controller enabled (fake file keeps the last write).
    assert!(fs::read_to_string(tmp.path().join("cgroup.subtree_control")).unwrap().starts_with('+'));
    fs::write(m.dir().join("io.weight"), "").unwrap();
    m.apply(&res).unwrap();
    assert_eq!(knob(&m, "memory.max"), (100u64 << 20).to_string());
    assert_eq!(knob(&m, "memory.low"), (50u64 << 20).to_string());
    assert_eq!(knob(&m, "memory.swap.max"), (50u64 << 20).to_string());
    assert_eq!(knob(&m, "cpu.max"), "25000 50000");
    assert_eq!(knob(&m, "cpu.weight"), "39");
    assert_eq!(knob(&m, "cpuset.cpus"), "0");
    assert_eq!(knob(&m, "pids.max"), "10");
    assert_eq!(knob(&m, "io.weight"), "4950");
    assert_eq!(knob(&m, "hugetlb.2MB.max"), (4u64 << 20).to_string());
    m.add_task(77).unwrap();
    assert_eq!(m.pids().unwrap(), vec![77]);
}

#[test]
fn quota_unlimited_and_swap_unlimited() {
    let tmp = fake_root("cpu memory");
    let m = Manager::new(tmp.path().to_path_buf(), PathBuf::from("c"));
    let res = Resources {
        memory: Some(Memory { limit: Some(1 << 20), swap: Some(-1), ..Default::default() }),
        cpu: Some(Cpu { quota: Some(-1), ..Default::default() }),
        ..Default::default()
    };
    m.create().unwrap();
    m.apply(&res).unwrap();
    assert_eq!(knob(&m, "cpu.max"), "max 100000");
    assert_eq!(knob(&m, "memory.swap.max"), "max");
}

#[test]
fn missing_controller_names_the_field() {
    let tmp = fake_root("cpu memory");
    let m = Manager::new(tmp.path().to_path_buf(), PathBuf::from("c"));
    let res = Resources { pids: Some(Pids { limit: 5 }), ..Default::default() };
    let err = m.validate(&res).unwrap_err().to_string();
    assert_eq!(err, "linux.resources.pids: cgroup controller \"pids\" is not available on this host");
    assert!(!m.dir().exists());
}

#[test]
fn conversions_match_runc() {
    assert_eq!(cpu::shares_to_weight(2), 1);
    assert_eq!(cpu::shares_to_weight(262_144), 10_000);
    assert_eq!(io::blkio_to_io_weight(10), 1);
    assert_eq!(io::blkio_to_io_weight(1000), 10_000);
}

#[test]
fn unified_keys_written_and_checked() {
    let tmp = fake_root("memory");
    let m = Manager::new(tmp.path().to_path_buf(), PathBuf::from("c"));
    m.create().unwrap();
    let mut res = Resources::default();
    res.unified.insert("memory.high".into(), "1000000".into());
    m.apply(&res).unwrap();
    assert_eq!(knob(&m, "memory.high"), "1000000");
    res.unified.insert("../escape".into(), "1".into());
    assert!(m.apply(&res).is_err());
}
