//! Limits and crash recovery: Docker's depth limit, leftovers of an interrupted load/commit/rm
//! cleaned at open, vfs layout, gzip import.

mod common;

use berth_storage::{DriverKind, ImportOptions, Store};
use common::*;
use std::fs;

#[test]
fn max_depth_exceeded_after_125_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Overlay2).unwrap();
    let mut parent = None;
    for i in 0..125 {
        let n = format!("f{i}");
        parent = Some(store.register_layer(parent.as_ref(), &mut &make_tar(&[E::File(&n, b"x")])[..]).unwrap());
    }
    let before = all_paths(tmp.path());
    let e = store.register_layer(parent.as_ref(), &mut &make_tar(&[E::File("last", b"x")])[..]).unwrap_err();
    assert_eq!(e.to_string(), "max depth exceeded");
    assert_eq!(all_paths(tmp.path()), before);
    // the 125th layer's lower file lists its 124 ancestors, nearest first
    let chain = parent.unwrap();
    let cache = fs::read_to_string(tmp.path().join("image/overlay2/layerdb/sha256").join(chain.hex()).join("cache-id")).unwrap();
    let lower = fs::read_to_string(tmp.path().join("overlay2").join(&cache).join("lower")).unwrap();
    assert_eq!(lower.split(':').count(), 124);
    assert!(lower.split(':').all(|l| l.len() == 28 && l.starts_with("l/")));
}

#[test]
fn leftovers_of_a_crash_are_cleaned_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let store = Store::open(root, DriverKind::Overlay2).unwrap();
    let id = store.import(&mut &make_tar(&[E::File("a", b"1")])[..], &ImportOptions { reference: Some("keep:1".into()), ..Default::default() }).unwrap();
    drop(store);
    let good = all_paths(root);
    // an interrupted load: unpacked archive, a half-applied layer dir, a half-written layer record
    fs::create_dir_all(root.join("tmp/docker-import-123/blobs")).unwrap();
    fs::write(root.join("tmp/docker-import-123/blobs/x"), "x").unwrap();
    let orphan = "ab".repeat(32);
    fs::create_dir_all(root.join("overlay2").join(&orphan).join("diff/etc")).unwrap();
    fs::write(root.join("overlay2").join(&orphan).join("link"), "ORPHANORPHANORPHANORPHANOR").unwrap();
    std::os::unix::fs::symlink(format!("../{orphan}/diff"), root.join("overlay2/l/ORPHANORPHANORPHANORPHANOR")).unwrap();
    fs::create_dir_all(root.join("image/overlay2/layerdb/tmp/write-set-1")).unwrap();
    fs::write(root.join("image/overlay2/layerdb/tmp/write-set-1/diff"), "sha256:").unwrap();
    // an interrupted config write
    fs::write(root.join("image/overlay2/imagedb/content/sha256/.tmp-abc"), "{").unwrap();
    let store = Store::open(root, DriverKind::Auto).unwrap();
    assert_eq!(store.resolve_image("keep:1").unwrap(), id);
    assert_eq!(all_paths(root), good);
    // one Store per data root: a second one would clean up the first one's work in progress
    let e = Store::open(root, DriverKind::Auto).err().expect("second open refused");
    assert!(e.to_string().contains("in use"), "{e}");
}

#[test]
fn vfs_layout_and_gzip_import() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let store = Store::open(root, DriverKind::Vfs).unwrap();
    assert_eq!(store.driver_name(), "vfs");
    let tar = make_tar(&[E::Dir("etc/"), E::File("etc/a", b"hello"), E::Link("etc/l", "a")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let id = store.import(&mut &gz[..], &ImportOptions { reference: Some("v".into()), message: Some("m".into()), ..Default::default() }).unwrap();
    let diff = berth_storage::Digest::of(&tar); // diffID of the *uncompressed* stream
    let l = root.join("image/vfs/layerdb/sha256").join(diff.hex());
    assert_eq!(read_exact_file(&l.join("diff")), diff.as_str());
    assert_eq!(read_exact_file(&l.join("size")), "6"); // 5 bytes + symlink target "a"
    let cache = read_exact_file(&l.join("cache-id"));
    assert_eq!(fs::read_to_string(root.join("vfs/dir").join(&cache).join("etc/a")).unwrap(), "hello");
    let cfg: serde_json::Value = serde_json::from_slice(&store.image_config(&id).unwrap()).unwrap();
    assert_eq!(cfg["comment"], "m");
    drop(store);
    // Auto keeps using the driver the data root already has
    let store = Store::open(root, DriverKind::Auto).unwrap();
    assert_eq!(store.driver_name(), "vfs");
    assert_eq!(store.resolve_image("v").unwrap(), id);
}

#[test]
fn auto_probes_overlay_on_a_fresh_data_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    in_mount_ns(move || {
        assert!(berth_storage::driver::overlay_usable(&root));
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "the probe cleans up");
        let store = Store::open(&root, DriverKind::Auto).unwrap();
        assert_eq!(store.driver_name(), "overlay2");
        assert!(!fs::read_to_string("/proc/thread-self/mountinfo").unwrap().contains("overlay-probe"));
    });
}
