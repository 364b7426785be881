//! Whiteouts that name no file (`.wh.`, `.wh..`, `.wh...`) or that lead out of the layer through
//! a symlink must be refused — never turned into a deletion of the layer itself, of its siblings
//! (vfs: `vfs/dir/*`, overlay2: `overlay2/<id>`) or of host files. Both the bare extraction
//! (`tar_safe::apply`, per mode) and `Store::load` (what `berth load` runs) are checked, and a
//! refused load must leave the data root exactly as it was.

mod common;

use berth_storage::archive::tar_reader::TarReader;
use berth_storage::archive::tar_safe::{self, Mode};
use berth_storage::{Digest, DriverKind, ErrorKind, ImportOptions, Store};
use common::*;
use std::fs;
use std::path::Path;

/// Extraction chowns, mknods whiteouts and sets `trusted.*` xattrs: root only.
fn have_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("{test}: skipped: needs root (chown to 0:0, mknod of whiteouts, trusted.* xattrs)");
    }
    root
}

fn have_overlay(test: &str) -> bool {
    let ok = berth_storage::driver::overlay_supported();
    if !ok {
        eprintln!("{test}: overlay2 part skipped: the kernel has no overlayfs (/proc/filesystems)");
    }
    ok
}

/// The entries that must be refused: (entry name, what its target would have been).
const BAD: &[(&str, &str)] = &[
    (".wh...", "the layer's parent directory"),
    (".wh..", "the layer itself"),
    (".wh.", "the layer itself"),
    ("dir/.wh...", "the layer itself"),
    ("dir/.wh..", "dir itself"),
    ("dir/.wh.", "dir itself"),
];

/// Layer tars with one bad whiteout entry: amid ordinary content (later entries fail once the
/// layer dir is gone), last, and alone (nothing after it can fail: the load "works").
fn layers_with(bad: &str) -> [(&'static str, Vec<u8>); 3] {
    [
        ("mid", make_tar(&[E::Dir("dir/"), E::File("dir/f", b"f"), E::RawFile(bad, b""), E::File("after", b"a")])),
        ("last", make_tar(&[E::Dir("dir/"), E::File("dir/f", b"f"), E::RawFile(bad, b"")])),
        ("alone", make_tar(&[E::RawFile(bad, b"")])),
    ]
}

/// Every bad entry in every position: ((entry, what it names), position, layer tar).
fn bad_layers() -> Vec<((&'static str, &'static str), &'static str, Vec<u8>)> {
    BAD.iter().flat_map(|b| layers_with(b.0).map(|(pos, t)| (*b, pos, t))).collect()
}

fn modes() -> Vec<Mode> {
    vec![Mode::Naive, Mode::Overlay]
}

#[test]
fn apply_refuses_whiteouts_that_name_no_file() {
    if !have_root("apply_refuses_whiteouts_that_name_no_file") {
        return;
    }
    let mut fails = Vec::new();
    for mode in modes() {
        for ((bad, what), pos, tar) in bad_layers() {
            let case = format!("{mode:?} {bad:?} ({pos}, names {what})");
            let tmp = tempfile::tempdir().unwrap();
            // layers/{sibling,me}: like vfs/dir/<id> or overlay2/<id>/diff next to other layers
            let layers = tmp.path().join("layers");
            let me = layers.join("me");
            fs::create_dir_all(layers.join("sibling/etc")).unwrap();
            fs::write(layers.join("sibling/etc/keep"), "keep").unwrap();
            fs::create_dir_all(me.join("dir")).unwrap();
            fs::write(me.join("own"), "own").unwrap();
            fs::write(me.join("dir/old"), "old").unwrap();
            let mut tr = TarReader::new(&tar[..], false);
            let res = tar_safe::apply(&mut tr, &me, mode);
            // the siblings, the layer dir and its content survive whatever happened
            let mut f = Vec::new();
            for (ok, what) in [
                (layers.join("sibling/etc/keep").is_file(), "sibling layer deleted"),
                (me.is_dir(), "the layer's own directory deleted"),
                (me.join("own").is_file(), "layer content deleted"),
                (me.join("dir/old").is_file(), "dir/ content deleted"),
            ] {
                if !ok {
                    f.push(what.to_string());
                }
            }
            match &res {
                Ok(_) => f.push("apply returned Ok".into()),
                Err(e) => {
                    let msg = e.to_string();
                    if e.kind() != ErrorKind::InvalidInput
                        || !msg.contains(&format!("{bad:?}"))
                        || !msg.contains("whiteout")
                        || msg.contains('\n')
                    {
                        f.push(format!("not a one-line InvalidInput error naming the whiteout entry: {:?}: {msg}", e.kind()));
                    }
                }
            }
            if !f.is_empty() {
                fails.push(format!("{case}: {}", f.join("; ")));
            }
        }
    }
    assert!(fails.is_empty(), "{} of {} cases failed:\n{}", fails.len(), 2 * bad_layers().len(), fails.join("\n"));
}

/// A whiteout under a symlink that points out of the layer must not delete outside the layer —
/// whether the symlink comes from the same tar or (vfs) from the parent's copy; and a whiteout
/// of a symlink removes the link, not what it points to.
#[test]
fn apply_never_deletes_through_a_symlink() {
    if !have_root("apply_never_deletes_through_a_symlink") {
        return;
    }
    for mode in modes() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir_all(outside.join("sub")).unwrap();
        fs::write(outside.join("victim"), "v").unwrap();
        fs::write(outside.join("sub/x"), "x").unwrap();
        // `r -> /`: the whiteout names our tempdir's `outside/victim` through the host root
        let via_root = format!("r/{}/.wh.victim", outside.strip_prefix("/").unwrap().display());
        let via_root_opq = format!("r/{}/.wh..wh..opq", outside.join("sub").strip_prefix("/").unwrap().display());
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("symlink to / from the same tar", make_tar(&[E::Link("r", "/"), E::RawFile(&via_root, b"")]), true),
            ("opaque dir through symlink to /", make_tar(&[E::Link("r", "/"), E::RawFile(&via_root_opq, b"")]), true),
            ("absolute symlink, same tar", make_tar(&[E::Link("a", outside.to_str().unwrap()), E::RawFile("a/.wh.victim", b"")]), true),
            ("relative symlink up, same tar", make_tar(&[E::Link("up", "../outside"), E::RawFile("up/.wh.victim", b"")]), true),
            ("opaque through a symlink", make_tar(&[E::Link("a", outside.to_str().unwrap()), E::RawFile("a/.wh..wh..opq", b"")]), true),
            ("whiteout of the symlink itself", make_tar(&[E::Link("a", outside.to_str().unwrap()), E::RawFile(".wh.a", b"")]), false),
        ];
        for (what, tar, refused) in &cases {
            let layer = tmp.path().join("layer");
            let _ = fs::remove_dir_all(&layer);
            fs::create_dir(&layer).unwrap();
            let mut tr = TarReader::new(&tar[..], false);
            let res = tar_safe::apply(&mut tr, &layer, mode);
            assert!(outside.join("victim").is_file(), "{mode:?} {what}: deleted a file outside the layer");
            assert!(outside.join("sub/x").is_file(), "{mode:?} {what}: emptied a directory outside the layer");
            if *refused {
                let e = res.err().unwrap_or_else(|| panic!("{mode:?} {what}: accepted"));
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{mode:?} {what}: {e}");
                assert!(e.to_string().contains("symlink"), "{mode:?} {what}: {e}");
            } else {
                res.unwrap_or_else(|e| panic!("{mode:?} {what}: {e}"));
                assert!(fs::symlink_metadata(layer.join("a")).map(|m| !m.file_type().is_symlink()).unwrap_or(true), "{what}: link kept");
            }
        }
        // vfs: the symlink is in the parent's copy, the whiteout comes from the child's tar
        if mode == Mode::Naive {
            let layer = tmp.path().join("layer");
            let _ = fs::remove_dir_all(&layer);
            fs::create_dir(&layer).unwrap();
            std::os::unix::fs::symlink("/", layer.join("r")).unwrap();
            std::os::unix::fs::symlink(&outside, layer.join("a")).unwrap();
            for name in [via_root.as_str(), "a/.wh.victim", "a/.wh..wh..opq"] {
                let tar = make_tar(&[E::RawFile(name, b"")]);
                let mut tr = TarReader::new(&tar[..], false);
                let e = tar_safe::apply(&mut tr, &layer, mode).err().unwrap_or_else(|| panic!("{name}: accepted"));
                assert!(e.to_string().contains("symlink"), "{name}: {e}");
                assert!(outside.join("victim").is_file() && outside.join("sub/x").is_file(), "{name}: deleted outside the layer");
            }
        }
    }
}

/// An image archive (Docker 20.10 layout) with the given layer tars.
fn image_archive(layers: &[&[u8]], tag: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).as_str().to_string()).collect();
    let cfg = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
        "config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":diff_ids}}))
    .unwrap();
    let cfg_name = format!("{}.json", Digest::of(&cfg).hex());
    let names: Vec<String> = (0..layers.len()).map(|i| format!("l{i}/layer.tar")).collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}])).unwrap();
    let mut entries = vec![E::File(&cfg_name, &cfg)];
    for (n, l) in names.iter().zip(layers) {
        entries.push(E::File(n, l));
    }
    entries.push(E::File("manifest.json", &manifest));
    make_tar(&entries)
}

fn check_load_refused(kind: DriverKind, driver: &str) {
    let mut fails = Vec::new();
    for ((bad, what), pos, evil) in bad_layers() {
        let case = format!("{driver} {bad:?} ({pos}, names {what})");
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let store = Store::open(&root, kind).unwrap();
        assert_eq!(store.driver_name(), driver);
        // an image already on the host (like busybox), whose layer must survive
        let keep_tar = make_tar(&[E::Dir("bin/"), E::File("bin/sh", b"#!sh")]);
        let keep = store.import(&mut &keep_tar[..], &ImportOptions { reference: Some("keep:1".into()), ..Default::default() }).unwrap();
        let keep_dir = store.image_graph_driver(&keep).unwrap().data.get("UpperDir").cloned();
        let keep_sh = match keep_dir {
            Some(d) => Path::new(&d).join("bin/sh"), // overlay2
            None => {
                let cache = fs::read_dir(root.join("vfs/dir")).unwrap().next().unwrap().unwrap().path();
                cache.join("bin/sh")
            }
        };
        assert!(keep_sh.is_file());
        let before = all_paths(&root);

        // base layer + the crafted one on top (vfs: the crafted one starts as a copy of the base)
        let base = make_tar(&[E::File("base", b"0")]);
        let archive = image_archive(&[&base, &evil], "evil:1");
        let res = store.load(&mut &archive[..]);

        let mut f = Vec::new();
        if !keep_sh.is_file() {
            f.push(format!("the other image's layer is gone ({} missing)", keep_sh.display()));
        }
        let after = all_paths(&root);
        if after != before {
            let gone: Vec<_> = before.iter().filter(|p| !after.contains(p)).collect();
            let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
            f.push(format!(
                "data root changed: {} paths gone (first: {:?}), {} new (first: {:?})",
                gone.len(),
                gone.first(),
                new.len(),
                new.first()
            ));
        }
        match &res {
            Ok(lines) => f.push(format!("load succeeded: {lines:?}")),
            Err(e) => {
                let msg = e.to_string();
                if e.kind() != ErrorKind::InvalidInput || !msg.contains(&format!("{bad:?}")) || !msg.contains("whiteout") {
                    f.push(format!("not an InvalidInput error naming the whiteout entry: {:?}: {msg}", e.kind()));
                }
            }
        }
        if store.resolve_image("evil:1").is_ok() {
            f.push("image tagged".into());
        }
        if f.is_empty() {
            // the old image is still there and the store loads good archives afterwards
            assert_eq!(store.resolve_image("keep:1").unwrap(), keep);
            let good = image_archive(&[&base], "good:1");
            store.load(&mut &good[..]).unwrap_or_else(|e| panic!("{case}: good load after a refused one: {e}"));
        } else {
            fails.push(format!("{case}: {}", f.join("; ")));
        }
    }
    assert!(fails.is_empty(), "{} of {} cases failed:\n{}", fails.len(), bad_layers().len(), fails.join("\n"));
}

#[test]
fn load_vfs_refuses_whiteouts_that_name_no_file_and_keeps_every_layer() {
    if !have_root("load_vfs_refuses_whiteouts_that_name_no_file_and_keeps_every_layer") {
        return;
    }
    check_load_refused(DriverKind::Vfs, "vfs");
}

#[test]
fn load_overlay2_refuses_whiteouts_that_name_no_file_and_keeps_every_layer() {
    let t = "load_overlay2_refuses_whiteouts_that_name_no_file_and_keeps_every_layer";
    if !have_root(t) || !have_overlay(t) {
        return;
    }
    check_load_refused(DriverKind::Overlay2, "overlay2");
}

/// vfs: the parent layer has `r -> /` and `a -> <outside>`; the child's tar whites out through
/// them. The load is refused, nothing outside the data root is touched, the store is unchanged.
#[test]
fn load_vfs_whiteout_through_a_parent_symlink_is_refused() {
    if !have_root("load_vfs_whiteout_through_a_parent_symlink_is_refused") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(outside.join("sub")).unwrap();
    fs::write(outside.join("victim"), "v").unwrap();
    fs::write(outside.join("sub/x"), "x").unwrap();
    let root = tmp.path().join("root");
    let store = Store::open(&root, DriverKind::Vfs).unwrap();
    let before = all_paths(&root);
    let base = make_tar(&[E::Link("r", "/"), E::Link("a", outside.to_str().unwrap())]);
    let via_root = format!("r/{}/.wh.victim", outside.strip_prefix("/").unwrap().display());
    for name in [via_root.as_str(), "a/.wh.victim", "a/.wh..wh..opq"] {
        let child = make_tar(&[E::RawFile(name, b"")]);
        let e = store.load(&mut &image_archive(&[&base, &child], "evil:1")[..]).err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
        assert!(e.to_string().contains("symlink"), "{name}: {e}");
        assert!(outside.join("victim").is_file() && outside.join("sub/x").is_file(), "{name}: deleted outside the layer");
        assert_eq!(all_paths(&root), before, "{name}: store changed");
    }
    assert!(Path::new("/").join(outside.strip_prefix("/").unwrap()).join("victim").is_file());
}

/// Directory times are set after all entries: a directory replaced by a symlink meanwhile (later
/// entry `a` → symlink to outside) must not get the outside's `b` its mtime.
#[test]
fn directory_times_are_not_set_through_a_later_symlink() {
    if !have_root("directory_times_are_not_set_through_a_later_symlink") {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    for mode in modes() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir_all(outside.join("b")).unwrap();
        let t = nix::sys::time::TimeSpec::new(1_000_000_000, 0);
        nix::sys::stat::utimensat(None, &outside.join("b"), &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink).unwrap();
        let layer = tmp.path().join("layer");
        fs::create_dir(&layer).unwrap();
        let tar = make_tar(&[E::Dir("a/"), E::Dir("a/b/"), E::Link("a", outside.to_str().unwrap())]);
        let mut tr = TarReader::new(&tar[..], false);
        tar_safe::apply(&mut tr, &layer, mode).unwrap();
        assert!(fs::symlink_metadata(layer.join("a")).unwrap().file_type().is_symlink());
        assert_eq!(fs::symlink_metadata(outside.join("b")).unwrap().mtime(), 1_000_000_000, "{mode:?}: mtime set through the symlink");
        // a directory whited out later in the same tar has no time left to set (vfs failed here)
        let tar = make_tar(&[E::Dir("gone/"), E::RawFile(".wh.gone", b"")]);
        let mut tr = TarReader::new(&tar[..], false);
        tar_safe::apply(&mut tr, &layer, mode).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    }
}
