//! Container layers end to end, on overlay2 and vfs: docker diff, commit (whiteouts converted,
//! init layer excluded, empty commits add no layer), export, and commit → save → load keeping
//! the whiteouts.

mod common;

use berth_storage::{ChangeKind, CommitOptions, ContainerConfig, DriverKind, ImportOptions, SaveFormat, Store};
use common::*;
use std::fs;
use std::path::Path;

const C1: &str = "764ccc3b4b5c0a3c9f62585eaf28f67f5d3e5222dbbd9ff2ade10ec38407570a";
const C2: &str = "b3e0206cb1f2b0a3c9f62585eaf28f67f5d3e5222dbbd9ff2ade10ec38407570";

fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

fn layer_tars_of(store: &Store, name: &str) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    store.save(&[name], SaveFormat::Oci, &mut buf).unwrap();
    let mut files = std::collections::HashMap::new();
    let mut a = tar::Archive::new(&buf[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut d = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut d).unwrap();
        files.insert(p, d);
    }
    let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    m[0]["Layers"].as_array().unwrap().iter().map(|l| files[l.as_str().unwrap()].clone()).collect()
}

fn scenario(kind: DriverKind) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let store = Store::open(&root, kind).unwrap();
    let bb = store
        .import(&mut fs::File::open(busybox_tar()).unwrap(), &ImportOptions { reference: Some("bb".into()), ..Default::default() })
        .unwrap();
    store.create_rw_layer(C1, &bb).unwrap();
    if kind == DriverKind::Vfs {
        let (mid, iid) = store.rw_layer_ids(C1).unwrap();
        assert!(root.join("vfs/dir").join(&mid).join("bin/busybox").is_file());
        assert!(root.join("vfs/dir").join(&iid).join(".dockerenv").is_file());
        assert!(!root.join("overlay2").exists());
    }
    let m = store.mount(C1).unwrap();
    fs::remove_file(m.join("bin/sleep")).unwrap();
    fs::remove_dir_all(m.join("usr")).unwrap();
    fs::create_dir(m.join("usr")).unwrap();
    fs::write(m.join("usr/x"), "x").unwrap();
    fs::create_dir(m.join("data")).unwrap();
    fs::write(m.join("data/c"), "3\n").unwrap();
    store.unmount(C1).unwrap();

    // docker diff: init-layer files never show up
    let ch: Vec<String> = store.changes(C1).unwrap().iter().map(|c| c.to_string()).collect();
    for want in ["C /bin", "D /bin/sleep", "A /data", "A /data/c", "A /usr/x"] {
        assert!(ch.contains(&want.to_string()), "{kind:?}: {want} missing in {ch:?}");
    }
    assert!(ch.iter().any(|c| c.ends_with(" /usr")), "{ch:?}");
    assert!(!ch.iter().any(|c| c.contains("dockerenv") || c.contains("/etc/hosts")), "{ch:?}");

    // sizes: the rw layer holds usr/x (1 byte) and data/c (2 bytes) plus whiteouts (0 bytes)
    let (rw, total) = store.container_size(C1).unwrap();
    assert_eq!(rw, 3, "{kind:?}");
    assert!(total > rw + 1_900_000, "{total}");

    // export: merged view, no whiteouts, init placeholders included, no ./ prefix
    let mut ex = Vec::new();
    store.export_container(C1, &mut ex).unwrap();
    let names = tar_names(&ex);
    assert!(names.contains(&".dockerenv".to_string()) && names.contains(&"etc/hosts".to_string()));
    assert!(names.contains(&"data/c".to_string()) && names.contains(&"bin/busybox".to_string()));
    assert!(!names.iter().any(|n| n == "bin/sleep" || n.contains(".wh.") || n.starts_with("./")));
    assert!(!names.iter().any(|n| n.starts_with("usr/bin")), "usr was replaced");

    // commit
    let cc = ContainerConfig { cmd: Some(vec!["sh".into()]), image: "bb".into(), ..Default::default() };
    let id = store
        .commit(C1, &CommitOptions {
            image: Some(bb.clone()),
            container_config: cc.clone(),
            reference: Some("docker.io/library/bb:l2".into()),
            author: "student".into(),
            comment: "add data".into(),
            changes: vec!["ENV A=1".into()],
            created_by: "sh".into(),
            ..Default::default()
        })
        .unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(&store.image_config(&id).unwrap()).unwrap();
    assert_eq!(cfg["author"], "student");
    assert_eq!(cfg["comment"], "add data");
    assert_eq!(cfg["container"], C1);
    // As dockerd: the parent is the image store's (metadata/…/parent below), not the config's.
    assert!(cfg.get("parent").is_none(), "{cfg}");
    assert_eq!(cfg["config"]["Env"][0], "A=1");
    assert_eq!(cfg["container_config"]["Cmd"][0], "sh");
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(cfg["history"][1]["author"], "student");
    assert_eq!(cfg["history"][1]["created_by"], "sh");
    assert_eq!(store.resolve_image("bb:l2").unwrap(), id);
    assert!(fs::read_to_string(root.join(format!("image/{}/imagedb/metadata/sha256/{}/parent", store.driver_name(), id.hex()))).unwrap() == bb.as_str());
    let h = store.history("bb:l2").unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].id, bb.to_string(), "the parent image shows up in history");

    // the layer tar: Docker's AUFS-style whiteouts, no init files
    let layers = layer_tars_of(&store, "bb:l2");
    let names = tar_names(&layers[1]);
    // overlay2's native diff marks the replaced dir opaque; vfs's naive diff whites out each child (as Docker's)
    let replaced = if kind == DriverKind::Vfs { "usr/.wh.bin" } else { "usr/.wh..wh..opq" };
    for want in ["bin/", "bin/.wh.sleep", "usr/", replaced, "usr/x", "data/", "data/c"] {
        assert!(names.contains(&want.to_string()), "{kind:?}: {want} missing in {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("dockerenv") || n.starts_with("etc/")), "{names:?}");
    let mut a = tar::Archive::new(&layers[1][..]);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == "bin/.wh.sleep" {
            assert_eq!(e.header().mode().unwrap(), 0o600);
            assert_eq!(e.header().entry_type(), tar::EntryType::Regular);
            assert_eq!(e.header().size().unwrap(), 0);
        }
    }

    // an empty commit adds no layer
    store.create_rw_layer(C2, &id).unwrap();
    let id3 = store.commit(C2, &CommitOptions { image: Some(id.clone()), ..Default::default() }).unwrap();
    let cfg3: serde_json::Value = serde_json::from_slice(&store.image_config(&id3).unwrap()).unwrap();
    assert_eq!(cfg3["rootfs"], cfg["rootfs"]);
    assert_eq!(cfg3["history"][2]["empty_layer"], true);
    store.remove_rw_layer(C2).unwrap();

    // commit → save → load keeps the whiteouts
    let mut archive = Vec::new();
    store.save(&["bb:l2"], SaveFormat::Oci, &mut archive).unwrap();
    let root2 = tmp.path().join("root2");
    let s2 = Store::open(&root2, kind).unwrap();
    assert_eq!(s2.load(&mut &archive[..]).unwrap(), vec!["Loaded image: bb:l2"]);
    assert_eq!(s2.resolve_image("bb:l2").unwrap(), id);
    s2.create_rw_layer(C2, &id).unwrap();
    let m2 = s2.mount(C2).unwrap();
    assert!(m2.join("bin/busybox").is_file());
    assert!(!m2.join("bin/sleep").exists(), "whiteout kept");
    assert_eq!(fs::read_dir(m2.join("usr")).unwrap().count(), 1, "opaque dir kept");
    assert_eq!(fs::read_to_string(m2.join("data/c")).unwrap(), "3\n");
    s2.unmount(C2).unwrap();
    s2.remove_rw_layer(C2).unwrap();
    store.remove_rw_layer(C1).unwrap();
    assert!(!Path::new(&root).join(format!("image/{}/layerdb/mounts", store.driver_name())).join(C1).exists());
    let _ = ChangeKind::Added;
}

#[test]
fn overlay2_diff_commit_export_roundtrip() {
    in_mount_ns(|| scenario(DriverKind::Overlay2));
}

#[test]
fn vfs_diff_commit_export_roundtrip() {
    in_mount_ns(|| scenario(DriverKind::Vfs));
}
