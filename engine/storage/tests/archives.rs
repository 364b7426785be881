//! save / load: round trips (same image ID and diffIDs), both layouts, several images, gzip,
//! per-layer gzip, readers (skopeo, umoci), and bad archives that must leave the store unchanged.

mod common;

use berth_storage::{DriverKind, ErrorKind, ImportOptions, SaveFormat, Store};
use common::*;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn import_busybox(store: &Store, r: &str) -> berth_storage::ImageId {
    let mut f = fs::File::open(busybox_tar()).unwrap();
    store.import(&mut f, &ImportOptions { reference: Some(r.into()), ..Default::default() }).unwrap()
}

fn diff_ids(store: &Store, id: &berth_storage::ImageId) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&store.image_config(id).unwrap()).unwrap();
    v["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
}

fn save_to(store: &Store, names: &[&str], fmt: SaveFormat, path: &Path) {
    let mut f = fs::File::create(path).unwrap();
    store.save(names, fmt, &mut f).unwrap();
}

/// A store with busybox (1 layer) and a 2-layer image built on it.
fn two_images(root: &Path) -> (Store, berth_storage::ImageId, berth_storage::ImageId) {
    let store = Store::open(root, DriverKind::Overlay2).unwrap();
    let bb = import_busybox(&store, "bb:latest");
    let d = diff_ids(&store, &bb);
    let top = berth_storage::Digest::parse(&d[0]).unwrap();
    let layer = make_tar(&[E::Dir("data/"), E::File("data/a", b"1\n"), E::File("bin/.wh.sleep", b""), E::File("data/.wh..wh..opq", b"")]);
    let c = store.register_layer(Some(&top), &mut &layer[..]).unwrap();
    let ids = store.layer_diff_ids(&c).unwrap();
    let cfg = serde_json::json!({"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Cmd":["sh"]},
        "rootfs":{"type":"layers","diff_ids":ids.iter().map(|d| d.as_str()).collect::<Vec<_>>()},
        "history":[{"created":"2026-01-01T00:00:00Z","comment":"Imported from -"},{"created":"2026-01-01T00:00:00Z","created_by":"/bin/sh -c rm /bin/sleep"}]});
    let l2 = store.create_image(&serde_json::to_vec(&cfg).unwrap(), Some(&bb), Some("bb:l2")).unwrap();
    (store, bb, l2)
}

#[test]
fn save_load_round_trip_keeps_ids_both_layouts() {
    for fmt in [SaveFormat::Oci, SaveFormat::Legacy] {
        let tmp = tempfile::tempdir().unwrap();
        let (store, bb, l2) = two_images(&tmp.path().join("a"));
        let archive = tmp.path().join("out.tar");
        save_to(&store, &["bb"], fmt, &archive); // name only: every tag of the repository
        let out = Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}:bb:l2", archive.display())).output().expect("skopeo");
        assert!(out.status.success(), "{fmt:?}: skopeo: {}", String::from_utf8_lossy(&out.stderr));
        let store2 = Store::open(&tmp.path().join("b"), DriverKind::Overlay2).unwrap();
        let mut lines = store2.load(&mut fs::File::open(&archive).unwrap()).unwrap();
        lines.sort();
        assert_eq!(lines, vec!["Loaded image: bb:l2", "Loaded image: bb:latest"], "{fmt:?}");
        assert_eq!(store2.resolve_image("bb:latest").unwrap(), bb);
        assert_eq!(store2.resolve_image("bb:l2").unwrap(), l2);
        assert_eq!(diff_ids(&store2, &l2), diff_ids(&store, &l2));
        // loading again reuses the layers; saving from the new store reproduces the same archive
        let archive2 = tmp.path().join("out2.tar");
        save_to(&store2, &["bb"], fmt, &archive2);
        assert_eq!(fs::read(&archive).unwrap(), fs::read(&archive2).unwrap(), "{fmt:?}: byte-identical re-save");
        // whiteouts survived as on-disk whiteouts in the loaded layer
        let gd = store2.image_graph_driver(&l2).unwrap();
        let upper = Path::new(&gd.data["UpperDir"]).to_path_buf();
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(upper.join("bin/sleep")).unwrap().file_type().is_char_device());
        assert!(berth_storage::archive::whiteout::is_opaque(&upper.join("data")));
    }
}

#[test]
fn oci_layout_has_docker25_files_and_tools_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _bb, l2) = two_images(&tmp.path().join("a"));
    let archive = tmp.path().join("bb.tar");
    save_to(&store, &["bb:l2"], SaveFormat::Oci, &archive);
    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    assert!(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&x).status().unwrap().success());
    for f in ["index.json", "oci-layout", "manifest.json", "repositories"] {
        assert!(x.join(f).is_file(), "{f}");
    }
    let m: serde_json::Value = serde_json::from_slice(&fs::read(x.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m[0]["Config"], format!("blobs/sha256/{}", l2.hex()));
    assert_eq!(m[0]["RepoTags"][0], "bb:l2");
    for (i, d) in diff_ids(&store, &l2).iter().enumerate() {
        let p = x.join(m[0]["Layers"][i].as_str().unwrap());
        assert_eq!(berth_storage::Digest::of(&fs::read(&p).unwrap()).as_str(), d, "layer file hashes to its diffID");
    }
    let idx: serde_json::Value = serde_json::from_slice(&fs::read(x.join("index.json")).unwrap()).unwrap();
    assert_eq!(idx["manifests"][0]["annotations"]["io.containerd.image.name"], "docker.io/library/bb:l2");
    assert_eq!(idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "l2");

    // skopeo reads the docker-archive view
    let out = Command::new("skopeo").arg("inspect").arg(format!("docker-archive:{}", archive.display())).output().expect("skopeo installed (cargo xtask ci installs it)");
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(v["Architecture"], "amd64");

    // umoci unpacks the OCI layout inside
    let bundle = tmp.path().join("bundle");
    let out = Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:l2", x.display()))
        .arg(&bundle)
        .output()
        .expect("umoci installed (cargo xtask ci installs it)");
    assert!(out.status.success(), "umoci: {}", String::from_utf8_lossy(&out.stderr));
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    assert!(bundle.join("rootfs/data/a").is_file());
    assert!(!bundle.join("rootfs/bin/sleep").exists(), "umoci applied our whiteout");
}

#[test]
fn load_gzip_archive_and_gzip_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _bb, l2) = two_images(&tmp.path().join("a"));
    let archive = tmp.path().join("bb.tar");
    save_to(&store, &[l2.as_str()], SaveFormat::Oci, &archive);
    // whole archive gzip'ed; saved by ID → no tags
    let gz = tmp.path().join("bb.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(&fs::read(&archive).unwrap()).unwrap();
    enc.finish().unwrap();
    let s2 = Store::open(&tmp.path().join("b"), DriverKind::Overlay2).unwrap();
    assert_eq!(s2.load(&mut fs::File::open(&gz).unwrap()).unwrap(), vec![format!("Loaded image ID: {l2}")]);

    // an archive whose layer files are gzip-compressed (Docker accepts that too)
    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    assert!(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&x).status().unwrap().success());
    let m: serde_json::Value = serde_json::from_slice(&fs::read(x.join("manifest.json")).unwrap()).unwrap();
    for l in m[0]["Layers"].as_array().unwrap() {
        let p = x.join(l.as_str().unwrap());
        let data = fs::read(&p).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        fs::write(&p, enc.finish().unwrap()).unwrap();
    }
    let repacked = tmp.path().join("gzlayers.tar");
    assert!(Command::new("tar").arg("-cf").arg(&repacked).arg("-C").arg(&x).arg(".").status().unwrap().success());
    let s3 = Store::open(&tmp.path().join("c"), DriverKind::Overlay2).unwrap();
    s3.load(&mut fs::File::open(&repacked).unwrap()).unwrap();
    assert_eq!(s3.resolve_image(l2.as_str()).unwrap(), l2);
}

/// An outer archive from raw entries (name, data).
fn archive_of(entries: &[E]) -> Vec<u8> {
    make_tar(entries)
}

fn expect_refused(store: &Store, root: &Path, data: &[u8], want: &str) {
    let before = all_paths(root);
    let e = store.load(&mut &data[..]).unwrap_err();
    assert!(e.to_string().contains(want), "error {e:?} does not contain {want:?}");
    assert!(matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound), "{e}: {:?}", e.kind());
    assert_eq!(all_paths(root), before, "store changed after {want}");
}

#[test]
fn bad_archives_are_refused_and_leave_the_store_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let (store, _bb, l2) = two_images(&root);
    let good = tmp.path().join("good.tar");
    save_to(&store, &["bb:l2"], SaveFormat::Oci, &good);
    let good = fs::read(&good).unwrap();
    // a fresh store to load into (so layers are really applied)
    let root2 = tmp.path().join("root2");
    let s2 = Store::open(&root2, DriverKind::Overlay2).unwrap();

    expect_refused(&s2, &root2, &good[..good.len() / 2], "truncated");
    expect_refused(&s2, &root2, &vec![b'x'; 4096], "not a tar");
    expect_refused(&s2, &root2, &archive_of(&[E::File("hello", b"hi")]), "does not contain a manifest.json");

    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    let gp = tmp.path().join("good.tar");
    assert!(Command::new("tar").arg("-xf").arg(&gp).arg("-C").arg(&x).status().unwrap().success());
    let cfg = fs::read(x.join("blobs/sha256").join(l2.hex())).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&fs::read(x.join("manifest.json")).unwrap()).unwrap();
    let layers: Vec<String> = m[0]["Layers"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let l0 = fs::read(x.join(&layers[0])).unwrap();
    let l1 = fs::read(x.join(&layers[1])).unwrap();
    let cfg_name = format!("blobs/sha256/{}", l2.hex());
    let manifest = |layers: &[&str]| serde_json::to_vec(&serde_json::json!([{"Config": cfg_name, "RepoTags": ["bb:l2"], "Layers": layers}])).unwrap();

    // a manifest naming a missing layer
    let a = archive_of(&[E::File(&cfg_name, &cfg), E::File(&layers[0], &l0), E::File("manifest.json", &manifest(&[&layers[0], "blobs/sha256/missing"]))]);
    expect_refused(&s2, &root2, &a, "missing");
    // layers length mismatch
    let a = archive_of(&[E::File(&cfg_name, &cfg), E::File(&layers[0], &l0), E::File("manifest.json", &manifest(&[&layers[0]]))]);
    expect_refused(&s2, &root2, &a, "invalid manifest, layers length mismatch: expected 2, got 1");
    // a layer whose diffID does not match the config (second layer swapped for another tar)
    let other = make_tar(&[E::File("evil", b"x")]);
    let a = archive_of(&[E::File(&cfg_name, &cfg), E::File(&layers[0], &l0), E::File(&layers[1], &other), E::File("manifest.json", &manifest(&[&layers[0], &layers[1]]))]);
    let d = diff_ids(&store, &l2);
    expect_refused(&s2, &root2, &a, &format!("invalid diffID for layer 1: expected {:?}, got {:?}", d[1], berth_storage::Digest::of(&other).as_str()));
    // bad tag in manifest
    let bad_tag = serde_json::to_vec(&serde_json::json!([{"Config": cfg_name, "RepoTags": ["Bad Tag"], "Layers": [&layers[0], &layers[1]]}])).unwrap();
    let a = archive_of(&[E::File(&cfg_name, &cfg), E::File(&layers[0], &l0), E::File(&layers[1], &l1), E::File("manifest.json", &bad_tag)]);
    expect_refused(&s2, &root2, &a, "invalid reference format");
    // and the good one still loads afterwards
    s2.load(&mut &good[..]).unwrap();
    assert_eq!(s2.resolve_image("bb:l2").unwrap(), l2);
}

#[test]
fn traversal_entries_are_refused_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let store = Store::open(&root, DriverKind::Overlay2).unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let sentinel = tmp.path().join("pwned");

    // in an image archive (outer tar)
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", make_tar(&[E::RawFile("../pwned", b"x")])),
        ("nested dotdot", make_tar(&[E::Dir("a/"), E::RawFile("a/../../pwned", b"x")])),
        ("absolute", make_tar(&[E::RawFile(sentinel.to_str().unwrap(), b"x")])),
        ("through symlink", make_tar(&[E::Link("lnk", outside.to_str().unwrap()), E::File("lnk/pwned", b"x")])),
        ("through relative symlink", make_tar(&[E::Link("up", ".."), E::File("up/pwned", b"x")])),
        ("hardlink escape", make_tar(&[E::Hard("h", "../pwned")])),
        ("hardlink through symlink", make_tar(&[E::Link("lnk", outside.to_str().unwrap()), E::Hard("h", "lnk/x")])),
    ];
    fs::write(outside.join("x"), "secret").unwrap();
    for (what, tar) in &cases {
        let before = all_paths(&root);
        let e = store.load(&mut &tar[..]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert!(e.to_string().contains("unsafe path"), "{what}: {e}");
        assert_eq!(all_paths(&root), before, "{what}");
        // and the same tar as a layer (import)
        let e = store.import(&mut &tar[..], &ImportOptions::default()).unwrap_err();
        assert!(e.to_string().contains("unsafe path"), "import {what}: {e}");
        assert_eq!(all_paths(&root), before, "import {what}");
    }
    assert!(!sentinel.exists());
    assert!(!outside.join("pwned").exists() && !tmp.path().join("pwned").exists());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(fs::read_to_string(outside.join("x")).unwrap(), "secret");

    // a manifest.json pointing through a symlink to a host file
    let a = make_tar(&[E::Link("cfg", "/etc/passwd"), E::File("manifest.json", br#"[{"Config":"cfg","RepoTags":null,"Layers":[]}]"#)]);
    let e = store.load(&mut &a[..]).unwrap_err();
    assert!(e.to_string().contains("symlink"), "{e}");
}

#[test]
fn one_layer_blob_shared_by_two_stacks_in_one_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("a"), DriverKind::Overlay2).unwrap();
    let t0 = make_tar(&[E::File("zero", b"0")]);
    let t1 = make_tar(&[E::File("one", b"1")]);
    let a = store.import(&mut &t1[..], &ImportOptions { reference: Some("a:1".into()), ..Default::default() }).unwrap();
    let c0 = store.register_layer(None, &mut &t0[..]).unwrap();
    let c1 = store.register_layer(Some(&c0), &mut &t1[..]).unwrap();
    let ids = store.layer_diff_ids(&c1).unwrap();
    let cfg = serde_json::json!({"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":ids.iter().map(|d| d.as_str()).collect::<Vec<_>>()}});
    let b = store.create_image(&serde_json::to_vec(&cfg).unwrap(), None, Some("b:1")).unwrap();
    let mut archive = Vec::new();
    store.save(&["a:1", "b:1"], SaveFormat::Oci, &mut archive).unwrap();
    let names: Vec<String> = tar::Archive::new(&archive[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(berth_storage::Digest::of(&t1).hex())).count(), 1, "one blob for the shared layer");
    let s2 = Store::open(&tmp.path().join("b"), DriverKind::Overlay2).unwrap();
    assert_eq!(s2.load(&mut &archive[..]).unwrap(), vec!["Loaded image: a:1", "Loaded image: b:1"]);
    assert_eq!(s2.resolve_image("a:1").unwrap(), a);
    assert_eq!(s2.resolve_image("b:1").unwrap(), b);
    assert_eq!(diff_ids(&s2, &b), diff_ids(&store, &b));
    // both stacks are complete on disk: three layer records (t1 twice, on different parents)
    assert_eq!(fs::read_dir(tmp.path().join("b/image/overlay2/layerdb/sha256")).unwrap().count(), 3);
}

#[test]
fn loads_a_pure_oci_archive_written_by_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _bb, l2) = two_images(&tmp.path().join("a"));
    let archive = tmp.path().join("bb.tar");
    save_to(&store, &["bb:l2"], SaveFormat::Oci, &archive);
    // skopeo writes an OCI archive without manifest.json (gzip-compressed layers)
    let oci = tmp.path().join("bb-oci.tar");
    let out = Command::new("skopeo")
        .arg("copy")
        .arg("--quiet")
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("oci-archive:{}:l2", oci.display()))
        .output()
        .expect("skopeo installed (cargo xtask ci installs it)");
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
    let s2 = Store::open(&tmp.path().join("b"), DriverKind::Overlay2).unwrap();
    let lines = s2.load(&mut fs::File::open(&oci).unwrap()).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let id = s2.resolve_image(lines[0].trim_start_matches("Loaded image ID: ")).unwrap();
    assert_eq!(diff_ids(&s2, &id), diff_ids(&store, &l2), "same layers, verified by diffID");
}

/// A stream that fails after `n` bytes (a client that went away mid-upload).
struct FailAfter<'a> {
    data: &'a [u8],
    n: usize,
}

impl std::io::Read for FailAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away"));
        }
        let k = buf.len().min(self.n).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        self.n -= k;
        Ok(k)
    }
}

#[test]
fn a_stream_failing_mid_load_leaves_the_store_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _bb, _l2) = two_images(&tmp.path().join("a"));
    let mut archive = Vec::new();
    store.save(&["bb"], SaveFormat::Oci, &mut archive).unwrap();
    let root2 = tmp.path().join("b");
    let s2 = Store::open(&root2, DriverKind::Overlay2).unwrap();
    let before = all_paths(&root2);
    for frac in [10, 50, 90, 99] {
        let n = archive.len() * frac / 100;
        let e = s2.load(&mut FailAfter { data: &archive, n }).unwrap_err();
        assert!(!e.to_string().is_empty());
        assert_eq!(all_paths(&root2), before, "after failing at {frac}%");
    }
    s2.load(&mut &archive[..]).unwrap();
}
