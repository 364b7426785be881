//! Pull/push on the store side: push plan (re-tarred layers gzip'ed, schema2 manifest), commit
//! of pulled blobs (same image ID, RepoDigests, distribution records), all-or-nothing failure,
//! and a skipped blob rebuilt from a layer with the same content on another parent.

mod common;

use berth_storage::{Digest, DriverKind, ImportOptions, PullCommit, PulledLayer, Store};
use common::{busybox_tar, in_mount_ns};
use std::io::Read;

fn small_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

/// busybox + one small layer, tagged `two:latest`.
fn two_layer_image(s: &Store) -> berth_storage::ImageId {
    let base = s.import(&mut std::fs::File::open(busybox_tar()).unwrap(), &ImportOptions { reference: Some("bb".into()), ..Default::default() }).unwrap();
    let top = s.top_chain_of(&base);
    let tar = small_tar("hello.txt", b"hello registry\n");
    let chain = s.register_layer(Some(&top), &mut &tar[..]).unwrap();
    let mut cfg: serde_json::Value = serde_json::from_slice(&s.image_config(&base).unwrap()).unwrap();
    let diffs = s.layer_diff_ids(&chain).unwrap();
    cfg["rootfs"]["diff_ids"] = serde_json::json!(diffs.iter().map(|d| d.as_str()).collect::<Vec<_>>());
    cfg["history"].as_array_mut().unwrap().push(serde_json::json!({"created": "2026-01-01T00:00:00Z", "created_by": "test"}));
    s.create_image(&serde_json::to_vec(&cfg).unwrap(), Some(&base), Some("two")).unwrap()
}

trait TopChain {
    fn top_chain_of(&self, id: &berth_storage::ImageId) -> berth_storage::ChainId;
}
impl TopChain for Store {
    fn top_chain_of(&self, id: &berth_storage::ImageId) -> berth_storage::ChainId {
        let cfg: serde_json::Value = serde_json::from_slice(&self.image_config(id).unwrap()).unwrap();
        let diffs: Vec<Digest> = cfg["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| Digest::parse(d.as_str().unwrap()).unwrap()).collect();
        berth_storage::digest::chain_ids(&diffs).pop().unwrap()
    }
}

fn layer_count(s: &Store) -> usize {
    std::fs::read_dir(s.data_root().join("image/overlay2/layerdb/sha256")).map(|d| d.count()).unwrap_or(0)
}

fn commit(plan: &berth_storage::PushPlan, files: bool) -> PullCommit {
    PullCommit {
        config: plan.config.clone(),
        layers: plan.layers.iter().map(|l| PulledLayer { blob: l.digest.clone(), file: files.then(|| l.path.clone()) }).collect(),
        tag: Some("127.0.0.1:5000/demo/two:v1".into()),
        repo_digest: Some(Digest::of(&plan.manifest).to_string()),
        source_repository: "127.0.0.1:5000/demo/two".into(),
    }
}

#[test]
fn push_plan_then_pull_commit_round_trip() {
    in_mount_ns(|| {
        let a_dir = tempfile::tempdir().unwrap();
        let a = Store::open(a_dir.path(), DriverKind::Overlay2).unwrap();
        let id = two_layer_image(&a);
        let plan = a.prepare_push(&id, &mut |_| {}).unwrap();
        assert_eq!(plan.layers.len(), 2);
        // Every blob hashes to its digest and gunzips to its diffID.
        for l in &plan.layers {
            let gz = std::fs::read(&l.path).unwrap();
            assert_eq!(Digest::of(&gz), l.digest);
            assert_eq!(gz.len() as u64, l.size);
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw).unwrap();
            assert_eq!(Digest::of(&raw), l.diff_id);
        }
        let m: serde_json::Value = serde_json::from_slice(&plan.manifest).unwrap();
        assert_eq!(m["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
        assert_eq!(m["config"]["digest"], Digest::of(&plan.config).as_str());
        assert_eq!(m["layers"][1]["digest"], plan.layers[1].digest.as_str());
        assert!(String::from_utf8_lossy(&plan.manifest).starts_with("{\n   \"schemaVersion\": 2,\n   \"mediaType\""));
        // Deterministic compression: a second plan has the same digests.
        let again = a.prepare_push(&id, &mut |_| {}).unwrap();
        assert_eq!(again.manifest, plan.manifest);

        let b_dir = tempfile::tempdir().unwrap();
        let b = Store::open(b_dir.path(), DriverKind::Overlay2).unwrap();
        let mut lines = Vec::new();
        let out = b.commit_pull(&commit(&plan, true), &mut |id, st, _| lines.push(format!("{id}: {st}"))).unwrap();
        assert_eq!(out.id, id, "same image ID after the round trip");
        assert!(!out.up_to_date);
        assert_eq!(lines.iter().filter(|l| l.ends_with("Pull complete")).count(), 2, "{lines:?}");
        let inspect = serde_json::to_value(b.inspect_image("127.0.0.1:5000/demo/two:v1").unwrap()).unwrap();
        let md = Digest::of(&plan.manifest);
        assert_eq!(inspect["RepoDigests"], serde_json::json!([format!("127.0.0.1:5000/demo/two@{md}")]));
        assert_eq!(inspect["RepoTags"], serde_json::json!(["127.0.0.1:5000/demo/two:v1"]));
        let dist = b_dir.path().join("image/overlay2/distribution");
        let l0 = &plan.layers[0];
        assert_eq!(std::fs::read_to_string(dist.join("diffid-by-digest/sha256").join(l0.digest.hex())).unwrap(), l0.diff_id.as_str());
        let meta = std::fs::read_to_string(dist.join("v2metadata-by-diffid/sha256").join(l0.diff_id.hex())).unwrap();
        assert!(meta.contains(&format!("\"Digest\":\"{}\",\"SourceRepository\":\"127.0.0.1:5000/demo/two\"", l0.digest)), "{meta}");
        assert!(b.blob_available(&l0.digest));
        assert!(!b.blob_available(&Digest::of(b"nope")));
        // Pulling the same again: up to date, nothing extracted.
        let out2 = b.commit_pull(&commit(&plan, false), &mut |_, _, _| {}).unwrap();
        assert!(out2.up_to_date);
        // rmi of the repository's last tag takes its digest reference along (Docker's rule).
        b.tag("127.0.0.1:5000/demo/two:v1", "keep:me").unwrap();
        let removed: Vec<String> = b.remove_image("127.0.0.1:5000/demo/two:v1", false, true, &[]).unwrap().iter().map(|r| r.to_json().to_string()).collect();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(removed[1].contains(&format!("127.0.0.1:5000/demo/two@{md}")), "{removed:?}");
        assert_eq!(serde_json::to_value(b.inspect_image("keep:me").unwrap()).unwrap()["RepoDigests"], serde_json::json!([]));
        b.remove_image("keep:me", false, true, &[]).unwrap();
        assert!(!b.blob_available(&plan.layers[1].digest), "its layers are gone with the image");
        let out3 = b.commit_pull(&commit(&plan, true), &mut |_, _, _| {}).unwrap();
        assert!(!out3.up_to_date);

        // A blob skipped because its content exists under another parent is rebuilt from it.
        let top = &plan.layers[1];
        let mut cfg: serde_json::Value = serde_json::from_slice(&plan.config).unwrap();
        cfg["rootfs"]["diff_ids"] = serde_json::json!([top.diff_id.as_str()]);
        cfg["history"] = serde_json::json!([{"created": "2026-01-01T00:00:00Z"}]);
        let c = PullCommit {
            config: serde_json::to_vec(&cfg).unwrap(),
            layers: vec![PulledLayer { blob: top.digest.clone(), file: None }],
            tag: Some("127.0.0.1:5000/demo/solo:latest".into()),
            repo_digest: None,
            source_repository: "127.0.0.1:5000/demo/solo".into(),
        };
        let before = layer_count(&b);
        b.commit_pull(&c, &mut |_, _, _| {}).unwrap();
        assert_eq!(layer_count(&b), before + 1);
        assert!(b.resolve_image("127.0.0.1:5000/demo/solo").is_ok());
    });
}

#[test]
fn failed_pull_commit_leaves_nothing() {
    in_mount_ns(|| {
        let a_dir = tempfile::tempdir().unwrap();
        let a = Store::open(a_dir.path(), DriverKind::Overlay2).unwrap();
        let id = two_layer_image(&a);
        let plan = a.prepare_push(&id, &mut |_| {}).unwrap();

        let c_dir = tempfile::tempdir().unwrap();
        let c = Store::open(c_dir.path(), DriverKind::Overlay2).unwrap();
        // The small layer's blob where the busybox layer belongs: its diffID is not diff_ids[0].
        let mut bad = commit(&plan, true);
        bad.layers.swap(0, 1);
        let e = c.commit_pull(&bad, &mut |_, _, _| {}).unwrap_err();
        assert!(e.to_string().contains("invalid diffID for layer 0"), "{e}");
        assert_eq!(layer_count(&c), 0);
        assert!(c.list_images(&Default::default()).unwrap().is_empty());

        // Second layer broken (truncated gzip): the first, already registered layer is released.
        let mut broken = commit(&plan, true);
        let cut = c_dir.path().join("cut.gz");
        let data = std::fs::read(&plan.layers[1].path).unwrap();
        std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
        broken.layers[1].file = Some(cut);
        assert!(c.commit_pull(&broken, &mut |_, _, _| {}).is_err());
        assert_eq!(layer_count(&c), 0, "the base layer registered by the failed pull is gone");
        assert!(c.list_images(&Default::default()).unwrap().is_empty());
        assert!(!c_dir.path().join("image/overlay2/distribution/diffid-by-digest/sha256").join(plan.layers[0].digest.hex()).exists());
        let tmp: Vec<_> = std::fs::read_dir(c_dir.path().join("tmp")).unwrap().collect();
        assert!(tmp.is_empty(), "scratch left: {tmp:?}");
        // Config/manifest layer count mismatch.
        let mut short = commit(&plan, true);
        short.layers.pop();
        assert!(c.commit_pull(&short, &mut |_, _, _| {}).unwrap_err().to_string().contains("rootfs.diff_ids"));
    });
}
