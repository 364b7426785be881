//! Image store operations: tag, rmi (untag vs delete, conflicts), list/filters, history, inspect,
//! prune, repositories.json normalisation. Small generated tars, no mounts.

mod common;

use berth_storage::{ContainerRef, DriverKind, ImageFilters, ImportOptions, RemovedItem, Store};
use common::*;
use std::fs;

fn import(store: &Store, tar: &[u8], r: Option<&str>) -> berth_storage::ImageId {
    store.import(&mut &tar[..], &ImportOptions { reference: r.map(str::to_string), ..Default::default() }).unwrap()
}

fn strs(v: &[RemovedItem]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn tag_untag_delete_with_docker_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Overlay2).unwrap();
    let tar = make_tar(&[E::Dir("etc/"), E::File("etc/a", b"1\n")]);
    let id1 = import(&store, &tar, Some("bb:imported"));
    // same tar imported twice: different image (created differs), one shared layer
    std::thread::sleep(std::time::Duration::from_millis(5));
    let id2 = import(&store, &tar, Some("bb:imported2"));
    assert_ne!(id1, id2);
    let layer = store.layer_diff_ids(&berth_storage::digest::chain_ids(&[berth_storage::Digest::of(&tar)])[0]).unwrap();
    assert_eq!(layer.len(), 1);

    store.tag("bb:imported", "docker.io/library/bb:other").unwrap();
    store.tag("bb:imported", "127.0.0.1:5002/teach/bb:v1").unwrap();
    let repos = fs::read_to_string(tmp.path().join("image/overlay2/repositories.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&repos).unwrap();
    assert_eq!(v["Repositories"]["bb"]["bb:other"], id1.as_str());
    assert_eq!(v["Repositories"]["127.0.0.1:5002/teach/bb"]["127.0.0.1:5002/teach/bb:v1"], id1.as_str());
    assert_eq!(store.tag("nosuch:1", "foo:2").unwrap_err().to_string(), "No such image: nosuch:1");
    assert_eq!(store.tag("bb:imported", "Foo").unwrap_err().to_string(), "invalid reference format: repository name (library/Foo) must be lowercase");

    // untag only while other tags remain
    let out = store.remove_image("bb:other", false, true, &[]).unwrap();
    assert_eq!(strs(&out), vec!["Untagged: bb:other"]);
    let out = store.remove_image("127.0.0.1:5002/teach/bb:v1", false, true, &[]).unwrap();
    assert_eq!(strs(&out), vec!["Untagged: 127.0.0.1:5002/teach/bb:v1"]);

    // container conflicts, Docker's texts
    let cid = "0fd9f42d450fb3a5e47b31a6cbca92a165c25d2865c25d2865c25d2865c25d28".to_string();
    let running = [ContainerRef { id: cid.clone(), image: id1.clone(), running: true }];
    let e = store.remove_image("bb:imported", false, true, &running).unwrap_err();
    assert_eq!(e.to_string(), format!("conflict: unable to remove repository reference \"bb:imported\" (must force) - container 0fd9f42d450f is using its referenced image {}", &id1.hex()[..12]));
    assert_eq!(e.kind(), berth_storage::ErrorKind::Conflict);
    let stopped = [ContainerRef { id: cid.clone(), image: id1.clone(), running: false }];
    let e = store.remove_image(&id1.hex()[..12], false, true, &stopped).unwrap_err();
    assert_eq!(e.to_string(), format!("conflict: unable to delete {} (must be forced) - image is being used by stopped container 0fd9f42d450f", &id1.hex()[..12]));
    let e = store.remove_image(&id1.hex()[..12], true, true, &running).unwrap_err();
    assert_eq!(e.to_string(), format!("conflict: unable to delete {} (cannot be forced) - image is being used by running container 0fd9f42d450f", &id1.hex()[..12]));

    // last tags: untag + delete image; the shared layer goes with the last image
    let out = store.remove_image("bb:imported", false, true, &[]).unwrap();
    assert_eq!(strs(&out), vec!["Untagged: bb:imported".to_string(), format!("Deleted: {id1}")]);
    let out = store.remove_image("bb:imported2", false, true, &[]).unwrap();
    let d = berth_storage::Digest::of(&tar);
    assert_eq!(strs(&out), vec!["Untagged: bb:imported2".to_string(), format!("Deleted: {id2}"), format!("Deleted: {d}")]);
    assert!(!tmp.path().join("image/overlay2/layerdb/sha256").join(d.hex()).exists());
    assert_eq!(fs::read_dir(tmp.path().join("overlay2")).unwrap().count(), 1, "only l/ is left");
    assert_eq!(store.remove_image("nosuchimage", false, true, &[]).unwrap_err().to_string(), "No such image: nosuchimage:latest");
}

#[test]
fn list_filters_history_inspect_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Overlay2).unwrap();
    let a = import(&store, &make_tar(&[E::File("a", b"12345")]), Some("app:1"));
    let b = import(&store, &make_tar(&[E::File("b", b"12")]), None);
    let c = store
        .import(&mut &make_tar(&[E::File("c", b"1")])[..], &ImportOptions {
            reference: Some("user/tool".into()),
            message: Some("from export".into()),
            changes: vec![r#"CMD ["sh"]"#.into(), "LABEL team=x".into()],
            ..Default::default()
        })
        .unwrap();
    let all = store.list_images(&ImageFilters::default()).unwrap();
    assert_eq!(all.len(), 3);
    let row = all.iter().find(|r| r.id == a).unwrap();
    assert_eq!(row.repo_tags, vec!["app:1"]);
    assert_eq!(row.size, 5);
    let row = all.iter().find(|r| r.id == b).unwrap();
    assert_eq!(row.repo_tags, vec!["<none>:<none>"]);
    let dangling = store.list_images(&ImageFilters { dangling: Some(true), ..Default::default() }).unwrap();
    assert_eq!(dangling.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![b.clone()]);
    let refd = store.list_images(&ImageFilters { reference: vec!["user/*".into()], ..Default::default() }).unwrap();
    assert_eq!(refd.len(), 1);
    assert_eq!(refd[0].id, c);
    let lab = store.list_images(&ImageFilters { label: vec!["team=x".into()], ..Default::default() }).unwrap();
    assert_eq!(lab.len(), 1);

    let h = store.history("user/tool").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].id, c.to_string());
    assert_eq!(h[0].comment, "from export");
    assert_eq!(h[0].tags, vec!["user/tool:latest"]);
    assert_eq!(h[0].size, 1);

    let ins = serde_json::to_value(store.inspect_image("user/tool").unwrap()).unwrap();
    assert_eq!(ins["Id"], c.as_str());
    assert_eq!(ins["Config"]["Cmd"][0], "sh");
    assert_eq!(ins["Config"]["Labels"]["team"], "x");
    assert_eq!(ins["Comment"], "from export");
    assert_eq!(ins["GraphDriver"]["Name"], "overlay2");
    let upper = ins["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(upper.starts_with(tmp.path().join("overlay2").to_str().unwrap()) && upper.ends_with("/diff"));
    assert!(ins["GraphDriver"]["Data"].get("LowerDir").is_none(), "a one-layer image has no LowerDir");
    assert_eq!(ins["RootFS"]["Layers"].as_array().unwrap().len(), 1);

    let rep = store.prune_images(false, &[]).unwrap();
    assert_eq!(rep.deleted.len(), 2, "{:?}", rep.deleted); // image + its layer
    assert_eq!(rep.space_reclaimed, 2);
    assert!(store.resolve_image(b.as_str()).is_err());
    let rep = store.prune_images(true, &[ContainerRef { id: "x".repeat(64), image: a.clone(), running: false }]).unwrap();
    assert!(rep.deleted.contains(&RemovedItem::Untagged("user/tool:latest".into())));
    assert!(store.resolve_image("app:1").is_ok(), "used by a container: kept");
}

#[test]
fn bad_references_and_bad_tars_leave_the_store_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Overlay2).unwrap();
    import(&store, &make_tar(&[E::File("a", b"1")]), Some("ok:1"));
    let before = all_paths(tmp.path());
    let bad_ref = |r: &str| {
        store.import(&mut &make_tar(&[E::File("a", b"2")])[..], &ImportOptions { reference: Some(r.into()), ..Default::default() }).unwrap_err()
    };
    assert_eq!(bad_ref("bad!name").to_string(), "invalid reference format");
    assert_eq!(bad_ref("UPPER").kind(), berth_storage::ErrorKind::InvalidInput);
    let junk = vec![7u8; 3000];
    assert!(store.import(&mut &junk[..], &ImportOptions::default()).is_err());
    let full = make_tar(&[E::File("a", &[1u8; 5000]), E::File("b", b"x")]);
    let e = store.import(&mut &full[..3000], &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let e = store.import(&mut &b"\x1f\x8b\x08\x00garbage"[..], &ImportOptions::default()).unwrap_err();
    assert_eq!(e.kind(), berth_storage::ErrorKind::InvalidInput, "{e}");
    let e = store
        .import(&mut &make_tar(&[E::File("a", b"2")])[..], &ImportOptions { changes: vec!["RUN x".into()], ..Default::default() })
        .unwrap_err();
    assert_eq!(e.to_string(), "run is not a valid change command");
    assert_eq!(all_paths(tmp.path()), before);
}

#[test]
fn digest_references_and_layer_tars_for_the_registry_client() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Overlay2).unwrap();
    let tar = make_tar(&[E::Dir("etc/"), E::File("etc/a", b"1\n")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let chain = store.register_layer(None, &mut &gz.finish().unwrap()[..]).unwrap();
    assert_eq!(chain, berth_storage::Digest::of(&tar), "diffID of the uncompressed stream");
    let mut out = Vec::new();
    assert_eq!(store.write_layer_tar(&chain, &mut out).unwrap(), tar.len() as u64);
    assert_eq!(out, tar, "byte-identical layer tar");
    assert_eq!(store.layer_tar_size(&chain).unwrap(), tar.len() as u64);
    let cfg = serde_json::json!({"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[chain.as_str()]}});
    let id = store.create_image(&serde_json::to_vec(&cfg).unwrap(), None, Some("127.0.0.1:5002/teach/bb:v1")).unwrap();
    let dref = format!("127.0.0.1:5002/teach/bb@sha256:{}", "2497158f49adc0a57d1036b3f98818886a1599ad2d5e2154ed8ef9dbc41a897b");
    store.set_reference(&dref, &id).unwrap();
    assert_eq!(store.resolve_image(&dref).unwrap(), id);
    let row = &store.list_images(&ImageFilters::default()).unwrap()[0];
    assert_eq!(row.repo_digests, vec![dref.clone()]);
    assert_eq!(row.repo_tags, vec!["127.0.0.1:5002/teach/bb:v1"]);
    let repos = fs::read_to_string(tmp.path().join("image/overlay2/repositories.json")).unwrap();
    assert!(repos.contains(&format!("\"{dref}\":\"{id}\"")), "{repos}");
}

#[test]
fn distribution_metadata_has_docker_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), DriverKind::Overlay2).unwrap();
    let blob = berth_storage::Digest::of(b"compressed");
    let diff = berth_storage::Digest::of(b"uncompressed");
    assert_eq!(store.blob_diff_id(&blob).unwrap(), None);
    store.set_blob_diff_id(&blob, &diff).unwrap();
    assert_eq!(store.blob_diff_id(&blob).unwrap(), Some(diff.clone()));
    let d = tmp.path().join("image/overlay2/distribution");
    assert_eq!(read_exact_file(&d.join("diffid-by-digest/sha256").join(blob.hex())), diff.as_str());
    let m = |repo: &str| berth_storage::V2Metadata { digest: blob.to_string(), source_repository: repo.into(), hmac: String::new() };
    store.add_v2_metadata(&diff, m("127.0.0.1:5002/teach/bb")).unwrap();
    store.add_v2_metadata(&diff, m("127.0.0.1:5002/teach/bb")).unwrap();
    store.add_v2_metadata(&diff, m("127.0.0.1:5002/other")).unwrap();
    assert_eq!(store.v2_metadata(&diff).unwrap().len(), 2);
    let raw = fs::read_to_string(d.join("v2metadata-by-diffid/sha256").join(diff.hex())).unwrap();
    assert_eq!(
        raw,
        format!(r#"[{{"Digest":"{blob}","SourceRepository":"127.0.0.1:5002/teach/bb","HMAC":""}},{{"Digest":"{blob}","SourceRepository":"127.0.0.1:5002/other","HMAC":""}}]"#)
    );
}
