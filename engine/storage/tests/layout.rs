//! The on-disk layout after import and container creation, on a real overlay mount: Docker's
//! overlay2 + layerdb + imagedb facts (reference §1, §2).

mod common;

use berth_storage::{Digest, DriverKind, ImportOptions, Store};
use common::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

const CID: &str = "0fd9f42d450fb3a5e47b31a6cbca92a165c25d2865c25d2865c25d2865c25d28";

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn import_busybox(store: &Store) -> berth_storage::ImageId {
    let mut f = fs::File::open(busybox_tar()).unwrap();
    store.import(&mut f, &ImportOptions { reference: Some("bb".into()), ..Default::default() }).unwrap()
}

/// Docker's `size`: lstat sizes of non-directories, computed independently from the fixture tree.
fn fixture_size() -> u64 {
    let mut total = 0;
    let mut stack = vec![fixtures().join("busybox/rootfs")];
    let mut seen = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else if seen.insert((m.dev(), m.ino())) {
                total += m.size();
            }
        }
    }
    total
}

#[test]
fn import_busybox_has_docker_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let store = Store::open(root, DriverKind::Overlay2).unwrap();
    let id = import_busybox(&store);

    let img = root.join("image/overlay2");
    // imagedb: content named by its own sha256, 0600
    let content = img.join("imagedb/content/sha256").join(id.hex());
    let bytes = fs::read(&content).unwrap();
    assert_eq!(Digest::of(&bytes), id);
    assert_eq!(mode(&content), 0o600);
    let cfg: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(cfg["comment"], "Imported from -");
    assert_eq!(cfg["history"][0]["comment"], "Imported from -");
    assert_eq!(cfg["rootfs"]["type"], "layers");
    assert!(cfg["config"]["Cmd"].is_null());

    // diffID = sha256 of the uncompressed tar as given; chainID = diffID for a base layer
    let diff = Digest::of(&fs::read(busybox_tar()).unwrap());
    assert_eq!(cfg["rootfs"]["diff_ids"][0], diff.as_str());
    let ldir = img.join("layerdb/sha256").join(diff.hex());
    assert_eq!(read_exact_file(&ldir.join("diff")), diff.as_str());
    assert!(!ldir.join("parent").exists());
    assert_eq!(read_exact_file(&ldir.join("size")), fixture_size().to_string());
    assert!(ldir.join("tar-split.json.gz").exists());
    let cache = read_exact_file(&ldir.join("cache-id"));
    assert!(berth_storage::digest::is_hex64(&cache));
    assert_eq!(mode(&ldir), 0o700, "renamed AtomicWriteSet dir");
    for f in ["cache-id", "diff", "size"] {
        assert_eq!(mode(&ldir.join(f)), 0o644, "{f}");
    }

    // overlay2/<cache>: diff/ + link, no lower/work for a base layer
    let home = root.join("overlay2");
    let ldir = home.join(&cache);
    assert_eq!(mode(&ldir), 0o710);
    assert_eq!(mode(&ldir.join("diff")), 0o755);
    assert!(ldir.join("diff/bin/busybox").is_file());
    assert!(!ldir.join("lower").exists() && !ldir.join("work").exists() && !ldir.join("committed").exists());
    let lid = read_exact_file(&ldir.join("link"));
    assert_eq!(lid.len(), 26);
    assert_eq!(fs::read_link(home.join("l").join(&lid)).unwrap().to_str().unwrap(), format!("../{cache}/diff"));
    assert_eq!(mode(&home.join("l")), 0o700);

    // repositories.json with familiar keys
    let repos = fs::read_to_string(img.join("repositories.json")).unwrap();
    assert_eq!(repos, format!(r#"{{"Repositories":{{"bb":{{"bb:latest":"{id}"}}}}}}"#));
    let last = read_exact_file(&img.join("imagedb/metadata/sha256").join(id.hex()).join("lastUpdated"));
    assert!(last.ends_with('Z') && last.contains('T'));

    // lookups: familiar, fully qualified, ID, short ID
    for r in ["bb", "bb:latest", "docker.io/library/bb:latest", id.as_str(), id.hex(), &id.hex()[..12]] {
        assert_eq!(store.resolve_image(r).unwrap(), id, "{r}");
    }
    assert_eq!(store.resolve_image("nosuch").unwrap_err().to_string(), "No such image: nosuch:latest");

    // reopening sees the same state
    drop(store);
    let store = Store::open(root, DriverKind::Auto).unwrap();
    assert_eq!(store.driver_name(), "overlay2");
    assert_eq!(store.resolve_image("bb").unwrap(), id);
}

#[test]
fn container_layers_mount_with_docker_lowerdir_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    in_mount_ns(move || {
        let store = Store::open(&root, DriverKind::Overlay2).unwrap();
        let id = import_busybox(&store);
        let home = root.join("overlay2");
        let img_lid = {
            let diff = store.image_graph_driver(&id).unwrap().data["UpperDir"].clone();
            let cache = Path::new(&diff).parent().unwrap().to_path_buf();
            read_exact_file(&cache.join("link"))
        };
        let mount_id = store.create_rw_layer(CID, &id).unwrap();
        let init_id = format!("{mount_id}-init");

        // layerdb/mounts/<cid>
        let m = root.join("image/overlay2/layerdb/mounts").join(CID);
        assert_eq!(read_exact_file(&m.join("mount-id")), mount_id);
        assert_eq!(read_exact_file(&m.join("init-id")), init_id);
        let cfg: serde_json::Value = serde_json::from_slice(&store.image_config(&id).unwrap()).unwrap();
        assert_eq!(read_exact_file(&m.join("parent")), cfg["rootfs"]["diff_ids"][0].as_str().unwrap());

        // init layer: Docker's content, committed, lower = image top
        let init = home.join(&init_id);
        assert_eq!(read_exact_file(&init.join("lower")), format!("l/{img_lid}"));
        assert!(init.join("committed").exists());
        assert_eq!(mode(&init.join("committed")), 0o600);
        assert!(init.join("work").is_dir());
        assert_eq!(mode(&init.join("work/work")), 0, "d--------- as the kernel leaves it");
        let d = init.join("diff");
        for f in [".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console"] {
            let md = fs::symlink_metadata(d.join(f)).unwrap();
            assert!(md.is_file() && md.len() == 0, "{f}");
            assert_eq!(md.mode() & 0o7777, 0o755, "{f}");
        }
        assert_eq!(fs::read_link(d.join("etc/mtab")).unwrap().to_str().unwrap(), "/proc/mounts");
        assert!(d.join("dev/pts").is_dir() && d.join("dev/shm").is_dir());
        // busybox fixture already has /proc and /sys: not created in the init layer
        assert!(!d.join("proc").exists() && !d.join("sys").exists());

        // rw layer: lower = init link then image link; no committed; no merged yet
        let rw = home.join(&mount_id);
        let init_lid = read_exact_file(&init.join("link"));
        assert_eq!(read_exact_file(&rw.join("lower")), format!("l/{init_lid}:l/{img_lid}"));
        assert!(!rw.join("committed").exists() && !rw.join("merged").exists());
        assert_eq!(mode(&rw.join("work")), 0o700);

        // mount: absolute lowerdir chain of l/ links
        let merged = store.mount(CID).unwrap();
        assert_eq!(merged, rw.join("merged"));
        assert!(merged.join("bin/busybox").is_file());
        assert!(merged.join(".dockerenv").is_file());
        let mi = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
        let line = mi.lines().find(|l| l.contains(merged.to_str().unwrap())).expect("overlay mounted");
        let want = format!(
            "lowerdir={h}/l/{init_lid}:{h}/l/{img_lid},upperdir={u},workdir={w}",
            h = home.display(),
            u = rw.join("diff").display(),
            w = rw.join("work").display()
        );
        assert!(line.contains(&want), "{line}\nwant {want}");
        let gd = store.container_graph_driver(CID).unwrap();
        assert_eq!(gd.name, "overlay2");
        assert_eq!(gd.data["MergedDir"], merged.to_str().unwrap());
        assert!(gd.data["LowerDir"].starts_with(&format!("{}/diff:", init.display())));

        store.unmount(CID).unwrap();
        assert!(!rw.join("merged").exists(), "merged is removed at unmount");
        assert!(!fs::read_to_string("/proc/thread-self/mountinfo").unwrap().contains(merged.to_str().unwrap()));

        store.remove_rw_layer(CID).unwrap();
        assert!(!rw.exists() && !init.exists() && !m.exists());
        assert!(!home.join("l").join(&init_lid).exists());
    });
}

#[test]
fn copy_on_write_produces_docker_upper_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    in_mount_ns(move || {
        let store = Store::open(&root, DriverKind::Overlay2).unwrap();
        let id = import_busybox(&store);
        let img_diff = store.image_graph_driver(&id).unwrap().data["UpperDir"].clone();
        let before = snapshot(Path::new(&img_diff));
        store.create_rw_layer(CID, &id).unwrap();
        let m = store.mount(CID).unwrap();
        fs::write(m.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nnew:x:1:1::/:/bin/sh\n").unwrap(); // copy-up
        fs::remove_file(m.join("bin/sleep")).unwrap(); // whiteout
        fs::rename(m.join("etc/group"), m.join("etc/group2")).unwrap(); // whiteout + new file
        fs::create_dir(m.join("data")).unwrap();
        fs::write(m.join("data/c"), "3\n").unwrap();
        fs::remove_dir_all(m.join("root")).ok();
        fs::remove_dir_all(m.join("usr")).unwrap();
        fs::create_dir(m.join("usr")).unwrap(); // opaque dir
        fs::write(m.join("usr/x"), "x").unwrap();
        store.unmount(CID).unwrap();

        let (mount_id, _) = store.rw_layer_ids(CID).unwrap();
        let upper = root.join("overlay2").join(&mount_id).join("diff");
        let snap = snapshot(&upper);
        let keys: Vec<&str> = snap.keys().map(String::as_str).collect();
        assert!(keys.contains(&"etc/passwd") && keys.contains(&"etc/group2") && keys.contains(&"data/c") && keys.contains(&"usr/x"));
        assert_eq!(snap["bin/sleep"], "c 0", "deleted file = 0:0 char device");
        assert_eq!(snap["etc/group"], "c 0", "renamed-away file = whiteout");
        assert!(snap["usr"].ends_with("opaque"), "replaced dir is opaque: {}", snap["usr"]);
        assert!(!snap["etc"].ends_with("opaque"), "copied-up dir is not opaque");
        assert!(!keys.contains(&"bin/busybox"), "untouched files are not copied up");
        assert!(fs::symlink_metadata(upper.join("bin/sleep")).unwrap().file_type().is_char_device());
        // the image layer is untouched
        assert_eq!(snapshot(Path::new(&img_diff)), before);
        store.remove_rw_layer(CID).unwrap();
    });
}

#[test]
fn long_lower_chains_mount_with_relative_paths() {
    let tmp = tempfile::tempdir().unwrap();
    // A long data root makes the absolute options pass one page well before 125 layers.
    let root = tmp.path().join("a-rather-long-data-root-directory-name-to-make-paths-long");
    in_mount_ns(move || {
        let store = Store::open(&root, DriverKind::Overlay2).unwrap();
        let mut parent: Option<berth_storage::ChainId> = None;
        let mut chains = Vec::new();
        let layers = 60;
        for i in 0..layers {
            let name = format!("f{i}");
            let tar = make_tar(&[E::File(&name, name.as_bytes())]);
            let c = store.register_layer(parent.as_ref(), &mut &tar[..]).unwrap();
            chains.push(c.clone());
            parent = Some(c);
        }
        let diff_ids = store.layer_diff_ids(parent.as_ref().unwrap()).unwrap();
        assert_eq!(diff_ids.len(), layers);
        let ids: Vec<&str> = diff_ids.iter().map(|d| d.as_str()).collect();
        let cfg = serde_json::json!({"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":ids}});
        let id = store.create_image(&serde_json::to_vec(&cfg).unwrap(), None, Some("deep:1")).unwrap();
        store.create_rw_layer(CID, &id).unwrap();
        let m = store.mount(CID).unwrap();
        assert_eq!(fs::read_to_string(m.join("f0")).unwrap(), "f0");
        assert_eq!(fs::read_to_string(m.join("f59")).unwrap(), "f59");
        let mi = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
        let line = mi.lines().find(|l| l.contains(m.to_str().unwrap())).expect("mounted");
        assert!(line.contains("lowerdir=l/"), "relative form expected: {line}");
        store.unmount(CID).unwrap();
        store.remove_rw_layer(CID).unwrap();
    });
}
