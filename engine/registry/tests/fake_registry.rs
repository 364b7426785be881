//! The client against an in-process fake registry: faults and malicious answers.

mod common;

use berth_registry::progress::ProgressLog;
use berth_registry::{
    ClientConfig, Credentials, ImageRef, Platform, PushRequest, RegistryClient, RegistryError,
};
use bytes::Bytes;
use common::fake::{FakeAuth, FakeRegistry, Knobs};
use common::image::{make_image, make_index, TestImage};
use common::store::MemStore;
use std::collections::HashMap;
use std::time::Duration;

fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig {
        retry_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .unwrap()
}

async fn seeded(knobs: Knobs, repo: &str, img: &TestImage) -> FakeRegistry {
    let f = FakeRegistry::start(knobs).await;
    f.seed(repo, &img.blobs(), "v1", &img.manifest, &img.media_type);
    f
}

async fn pull(
    f: &FakeRegistry,
    repo: &str,
    creds: Credentials,
    sink: &MemStore,
) -> Result<berth_registry::PulledImage, RegistryError> {
    let log = ProgressLog::default();
    client()
        .pull_image(
            &ImageRef::tagged(&f.host, repo, "v1"),
            creds,
            &[],
            sink,
            &log,
        )
        .await
}

fn assert_pulled(img: &TestImage, sink: &MemStore) {
    for (l, _) in &img.layers {
        assert_eq!(
            sink.get(&l.digest).as_ref(),
            Some(&l.bytes),
            "layer {}",
            l.digest
        );
    }
}

#[tokio::test]
async fn anonymous_pull_with_docker_progress_lines() {
    let img = make_image("anon", &[3000, 200_000], false);
    let f = seeded(Knobs::default(), "demo/app", &img).await;
    let sink = MemStore::default();
    let log = ProgressLog::default();
    let pulled = client()
        .pull_image(
            &ImageRef::tagged(&f.host, "demo/app", "v1"),
            Credentials::Anonymous,
            &[],
            &sink,
            &log,
        )
        .await
        .unwrap();
    assert_eq!(pulled.manifest.bytes, img.manifest);
    assert_eq!(pulled.repo_digest, img.manifest_digest);
    assert_eq!(pulled.config, img.config.bytes);
    assert_eq!(pulled.downloaded.len(), 2);
    assert_pulled(&img, &sink);
    let lines: Vec<String> = log.messages().iter().map(|m| m.to_json_line()).collect();
    let id = img.layers[1].0.digest.short().to_string();
    assert_eq!(lines[0], r#"{"status":"Pulling from demo/app","id":"v1"}"#);
    for status in [
        "Pulling fs layer",
        "Verifying Checksum",
        "Download complete",
    ] {
        let want = format!(r#"{{"status":"{status}","progressDetail":{{}},"id":"{id}"}}"#);
        assert!(lines.contains(&want), "missing {want} in {lines:#?}");
    }
    let total = img.layers[1].0.bytes.len();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            r#"{{"status":"Downloading","progressDetail":{{"current":{total},"total":{total}}}"#
        ))),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &format!(r#"{{"status":"Digest: {}"}}"#, img.manifest_digest)
    );
    // Accept is always sent with all four types, by tag
    for e in f.requests("GET", "/manifests/v1") {
        let accept = e.accept.unwrap_or_default();
        for t in [
            "index.v1+json",
            "manifest.list.v2+json",
            "oci.image.manifest.v1+json",
            "distribution.manifest.v2+json",
        ] {
            assert!(accept.contains(t), "{accept}");
        }
    }

    // second pull: everything already exists, nothing downloaded
    let log2 = ProgressLog::default();
    let again = client()
        .pull_image(
            &ImageRef::tagged(&f.host, "demo/app", "v1"),
            Credentials::Anonymous,
            &[],
            &sink,
            &log2,
        )
        .await
        .unwrap();
    assert!(again.downloaded.is_empty());
    assert!(log2.messages().iter().any(|m| m.status == "Already exists"));
}

#[tokio::test]
async fn manifest_list_picks_linux_amd64_and_by_digest() {
    let amd = make_image("amd", &[1000], false);
    let arm = make_image("arm", &[1100], true);
    let (list, list_mt) = make_index(
        &[
            (
                serde_json::json!({"os":"linux","architecture":"arm64","variant":"v8"}),
                &arm.manifest_digest,
                arm.manifest.len(),
                &arm.media_type,
            ),
            (
                serde_json::json!({"os":"linux","architecture":"amd64"}),
                &amd.manifest_digest,
                amd.manifest.len(),
                &amd.media_type,
            ),
        ],
        false,
    );
    let f = FakeRegistry::start(Knobs::default()).await;
    f.seed(
        "multi",
        &amd.blobs(),
        &amd.manifest_digest.to_string(),
        &amd.manifest,
        &amd.media_type,
    );
    f.seed(
        "multi",
        &arm.blobs(),
        &arm.manifest_digest.to_string(),
        &arm.manifest,
        &arm.media_type,
    );
    f.seed_manifest("multi", "v1", &list, &list_mt);
    let sink = MemStore::default();
    let pulled = pull(&f, "multi", Credentials::Anonymous, &sink)
        .await
        .unwrap();
    assert_eq!(
        pulled.repo_digest,
        berth_registry::Digest::of(&list),
        "RepoDigest is the list's digest"
    );
    assert_eq!(pulled.manifest.digest, amd.manifest_digest);
    assert_pulled(&amd, &sink);
    assert!(sink.get(&arm.layers[0].0.digest).is_none());

    // arm64 client picks the OCI one
    let c = RegistryClient::new(ClientConfig {
        platform: Platform::new("linux", "arm64", None),
        ..Default::default()
    })
    .unwrap();
    let sink = MemStore::default();
    let p = c
        .pull_image(
            &ImageRef::tagged(&f.host, "multi", "v1"),
            Credentials::Anonymous,
            &[],
            &sink,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(p.manifest.digest, arm.manifest_digest);
    assert_eq!(
        p.manifest.media_type,
        berth_registry::media_types::OCI_MANIFEST
    );

    // by digest reference
    let sink = MemStore::default();
    let r = ImageRef::digested(&f.host, "multi", amd.manifest_digest.clone());
    let p = client()
        .pull_image(
            &r,
            Credentials::Anonymous,
            &[],
            &sink,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(p.repo_digest, amd.manifest_digest);
}

#[tokio::test]
async fn manifest_list_with_another_platform_only() {
    let arm = make_image("arm", &[100], false);
    let (list, list_mt) = make_index(
        &[(
            serde_json::json!({"os":"linux","architecture":"arm64","variant":"v8"}),
            &arm.manifest_digest,
            arm.manifest.len(),
            &arm.media_type,
        )],
        true,
    );
    let f = FakeRegistry::start(Knobs::default()).await;
    f.seed(
        "armonly",
        &arm.blobs(),
        &arm.manifest_digest.to_string(),
        &arm.manifest,
        &arm.media_type,
    );
    f.seed_manifest("armonly", "v1", &list, &list_mt);
    let sink = MemStore::default();
    let err = pull(&f, "armonly", Credentials::Anonymous, &sink)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::NoMatchingPlatform { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("no matching manifest for linux/amd64 in the manifest list entries"),
        "{err}"
    );
    assert_eq!(sink.len(), 0);
}

#[tokio::test]
async fn wrong_password_is_a_clear_unauthorized() {
    let img = make_image("basic", &[500], false);
    let f = seeded(
        Knobs {
            auth: FakeAuth::Basic("alice".into(), "s3cret".into()),
            ..Default::default()
        },
        "priv/app",
        &img,
    )
    .await;
    let sink = MemStore::default();
    let err = pull(&f, "priv/app", Credentials::basic("alice", "wrong"), &sink)
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("UNAUTHORIZED"));
    assert!(
        err.to_string()
            .ends_with("unauthorized: authentication required"),
        "{err}"
    );
    assert!(err.to_string().contains("pull access denied for"), "{err}");
    assert_eq!(sink.len(), 0);
    // anonymous: same
    assert_eq!(
        pull(&f, "priv/app", Credentials::Anonymous, &sink)
            .await
            .unwrap_err()
            .api_code(),
        Some("UNAUTHORIZED")
    );
    // right password works, and Basic is sent on every request after the ping
    pull(&f, "priv/app", Credentials::basic("alice", "s3cret"), &sink)
        .await
        .unwrap();
    assert_pulled(&img, &sink);
    // login
    let c = client();
    assert!(c
        .login(&f.host, &Credentials::basic("alice", "s3cret"))
        .await
        .is_ok());
    let e = c
        .login(&f.host, &Credentials::basic("alice", "nope"))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            f.host
        )
    );
}

#[tokio::test]
async fn bearer_token_is_cached_and_refreshed_when_expired() {
    let img = make_image("tok", &[800, 900], false);
    let f = seeded(
        Knobs {
            auth: FakeAuth::Bearer(None),
            token_uses: Some(3),
            ..Default::default()
        },
        "lib/bb",
        &img,
    )
    .await;
    let sink = MemStore::default();
    let c = client();
    c.pull_image(
        &ImageRef::tagged(&f.host, "lib/bb", "v1"),
        Credentials::Anonymous,
        &[],
        &sink,
        &berth_registry::progress::NoProgress,
    )
    .await
    .unwrap();
    assert_pulled(&img, &sink);
    let token_reqs = f.state.token_requests.lock().unwrap().clone();
    // manifest + config + 2 layers = 4 requests with a 3-use token: exactly one refresh
    assert_eq!(token_reqs.len(), 2, "{token_reqs:?}");
    assert!(
        token_reqs[0].contains("scope=repository%3Alib%2Fbb%3Apull"),
        "{token_reqs:?}"
    );
    assert!(token_reqs[0].contains("service=fake-registry"));
    let rejected = f.log().iter().filter(|e| e.status == 401).count();
    assert_eq!(rejected, 2, "ping + one expired token"); // the /v2/ ping and the expired token
}

#[tokio::test]
async fn insufficient_scope_is_retried_once_with_a_wider_token() {
    let img = make_image("scope", &[700], false);
    let f = FakeRegistry::start(Knobs {
        auth: FakeAuth::Bearer(None),
        withhold_push: 1,
        ..Default::default()
    })
    .await;
    let src = MemStore::with(img.blobs());
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let pushed = client()
        .push_image(
            &ImageRef::tagged(&f.host, "team/app", "v1"),
            Credentials::Anonymous,
            req,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(pushed.digest, img.manifest_digest);
    assert!(
        f.log().iter().any(|e| e.status == 401 && e.method != "GET"),
        "an insufficient_scope 401 happened"
    );
    assert_eq!(f.state.token_requests.lock().unwrap().len(), 2);

    // a token server that never grants push: one retry, then a clear error
    f.knobs(|k| k.withhold_push = 100);
    let img2 = make_image("scope2", &[700], false);
    let src = MemStore::with(img2.blobs());
    let req = PushRequest {
        manifest: img2.manifest.clone(),
        media_type: img2.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let before = f.state.token_requests.lock().unwrap().len();
    let err = client()
        .push_image(
            &ImageRef::tagged(&f.host, "team/other", "v1"),
            Credentials::Anonymous,
            req,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "unauthorized: authentication required");
    assert!(f.state.token_requests.lock().unwrap().len() - before <= 3);
}

#[tokio::test]
async fn bearer_with_credentials_sends_basic_to_the_realm() {
    let img = make_image("cred", &[300], false);
    let f = FakeRegistry::start(Knobs {
        auth: FakeAuth::Bearer(Some(("bob".into(), "pw".into()))),
        ..Default::default()
    })
    .await;
    let src = MemStore::with(img.blobs());
    let mk = || PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let err = client()
        .push_image(
            &ImageRef::tagged(&f.host, "bob/app", "v1"),
            Credentials::basic("bob", "bad"),
            mk(),
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("incorrect username or password"),
        "{err}"
    );
    client()
        .push_image(
            &ImageRef::tagged(&f.host, "bob/app", "v1"),
            Credentials::basic("bob", "pw"),
            mk(),
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap();
    let reqs = f.state.token_requests.lock().unwrap().clone();
    assert!(reqs.last().unwrap().contains("account=bob"), "{reqs:?}");
    assert!(reqs.last().unwrap().contains("pull%2Cpush"), "{reqs:?}");
    let login = client()
        .login(&f.host, &Credentials::basic("bob", "pw"))
        .await
        .unwrap();
    assert_eq!(login.identity_token, None);
    assert!(f
        .state
        .token_requests
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .contains("offline_token=true"));
}

#[tokio::test]
async fn dropped_connection_mid_blob_resumes_with_range() {
    let img = make_image("drop", &[300_000], false);
    let f = seeded(
        Knobs {
            drop_blob_after: Some((100_000, 2)),
            ..Default::default()
        },
        "r/drop",
        &img,
    )
    .await;
    let sink = MemStore::default();
    pull(&f, "r/drop", Credentials::Anonymous, &sink)
        .await
        .unwrap();
    assert_pulled(&img, &sink);
    let layer = img.layers[0].0.digest.to_string();
    let gets = f.requests("GET", &layer);
    let ranges: Vec<_> = gets.iter().map(|e| e.range.clone()).collect();
    // the layer: first GET from 0, then two resumes from where the data stopped (100000 and
    // 200000 bytes when the fake's bytes were all flushed before the cut)
    assert_eq!(ranges.len(), 3, "{ranges:?}");
    assert_eq!(ranges[0], None);
    let offsets: Vec<u64> = ranges[1..]
        .iter()
        .map(|r| {
            r.as_deref()
                .unwrap()
                .strip_prefix("bytes=")
                .unwrap()
                .trim_end_matches('-')
                .parse()
                .unwrap()
        })
        .collect();
    assert!(offsets[0] > 0 && offsets[1] > offsets[0], "{ranges:?}");

    // a registry that ignores Range (200 with the whole blob) still gives the right bytes
    let f = seeded(
        Knobs {
            drop_blob_after: Some((100_000, 1)),
            ignore_range: true,
            ..Default::default()
        },
        "r/drop",
        &img,
    )
    .await;
    let sink = MemStore::default();
    pull(&f, "r/drop", Credentials::Anonymous, &sink)
        .await
        .unwrap();
    assert_pulled(&img, &sink);
}

#[tokio::test]
async fn dropped_connection_every_time_fails_cleanly() {
    let img = make_image("drop2", &[300_000], false);
    let f = seeded(
        Knobs {
            drop_blob_after: Some((1000, 1000)),
            ignore_range: true,
            ..Default::default()
        },
        "r/drop",
        &img,
    )
    .await;
    let sink = MemStore::default();
    let err = pull(&f, "r/drop", Credentials::Anonymous, &sink)
        .await
        .unwrap_err();
    match &err {
        RegistryError::DownloadFailed { attempts, .. } => assert_eq!(*attempts, 5),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("connection lost after 5 attempts"),
        "{err}"
    );
    assert_eq!(sink.len(), 0, "nothing committed");
    assert_eq!(
        sink.created.lock().unwrap().len(),
        1,
        "the writer was created, then dropped"
    );
}

#[tokio::test]
async fn blob_digest_mismatch_commits_nothing() {
    let img = make_image("bad", &[5000, 6000], false);
    let f = seeded(Knobs::default(), "r/bad", &img).await;
    // the config is fetched fine; then the layers come back corrupted
    let sink = MemStore::default();
    f.knobs(|k| k.corrupt_blobs = true);
    let err = pull(&f, "r/bad", Credentials::Anonymous, &sink)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::BlobVerification { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("filesystem layer verification failed for digest sha256:"),
        "{err}"
    );
    assert_eq!(sink.len(), 0);
}

#[tokio::test]
async fn lying_manifest_by_digest_is_rejected() {
    let img = make_image("liar", &[100], false);
    let other = make_image("other", &[100], false);
    let f = seeded(Knobs::default(), "r/liar", &img).await;
    f.knobs(|k| k.manifest_override = Some((other.manifest.clone(), other.media_type.clone())));
    let r = ImageRef::digested(&f.host, "r/liar", img.manifest_digest.clone());
    let err = client()
        .pull_image(
            &r,
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "manifest verification failed for digest {}",
            img.manifest_digest
        )),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_media_types_are_rejected() {
    let f = FakeRegistry::start(Knobs::default()).await;
    let weird = Bytes::from_static(
        br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}"#,
    );
    f.seed_manifest(
        "r/weird",
        "v1",
        &weird,
        "application/vnd.example.thing+json",
    );
    let err = pull(&f, "r/weird", Credentials::Anonymous, &MemStore::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"unsupported media type "application/vnd.example.thing+json" for manifest v1"#
    );

    let v1 = Bytes::from_static(br#"{"schemaVersion":1,"name":"r/old","tag":"v1","fsLayers":[]}"#);
    f.seed_manifest(
        "r/old",
        "v1",
        &v1,
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    );
    let err = pull(&f, "r/old", Credentials::Anonymous, &MemStore::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::UnsupportedMediaType { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("manifest.v1+prettyjws"), "{err}");

    // a layer of an unknown type inside a valid manifest
    let img = make_image("ok", &[100], false);
    let bad = String::from_utf8(img.manifest.to_vec())
        .unwrap()
        .replace("rootfs.diff.tar.gzip", "rootfs.diff.tar.rar");
    f.seed(
        "r/layer",
        &img.blobs(),
        "v1",
        &Bytes::from(bad),
        &img.media_type,
    );
    let err = pull(&f, "r/layer", Credentials::Anonymous, &MemStore::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("application/vnd.docker.image.rootfs.diff.tar.rar"),
        "{err}"
    );
}

#[tokio::test]
async fn html_answers_name_status_and_content_type() {
    let f = FakeRegistry::start(Knobs {
        html: true,
        ..Default::default()
    })
    .await;
    let err = pull(&f, "r/html", Credentials::Anonymous, &MemStore::default())
        .await
        .unwrap_err();
    let s = err.to_string();
    assert!(
        matches!(err, RegistryError::UnexpectedResponse { .. }),
        "{err:?}"
    );
    assert!(s.contains("HTTP 502 Bad Gateway"), "{s}");
    assert!(s.contains("Content-Type: text/html"), "{s}");
    assert!(s.contains("<h1>502 Bad Gateway</h1>"), "{s}");
}

#[tokio::test]
async fn not_found_in_docker_words() {
    let f = FakeRegistry::start(Knobs::default()).await;
    let r = ImageRef::tagged(&f.host, "research/nope", "latest");
    let err = client()
        .pull_image(
            &r,
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/research/nope:latest not found: manifest unknown: manifest unknown",
            f.host
        )
    );
}

#[tokio::test]
async fn catalog_and_tags_follow_link_pagination() {
    let f = FakeRegistry::start(Knobs {
        catalog_page: Some(2),
        tags_page: Some(2),
        ..Default::default()
    })
    .await;
    let m = Bytes::from_static(br#"{"schemaVersion":2}"#);
    for r in ["a/one", "a/two", "b/three", "c/four", "d/five"] {
        f.seed_manifest(
            r,
            "latest",
            &m,
            "application/vnd.oci.image.manifest.v1+json",
        );
    }
    for t in ["v3", "v1", "v5", "v2", "v4"] {
        f.seed_manifest("a/one", t, &m, "application/vnd.oci.image.manifest.v1+json");
    }
    let s = client()
        .session_for(&f.host, Credentials::Anonymous)
        .await
        .unwrap();
    let repos = s.catalog(None).await.unwrap();
    assert_eq!(repos, vec!["a/one", "a/two", "b/three", "c/four", "d/five"]);
    assert_eq!(f.requests("GET", "/v2/_catalog").len(), 3);
    let tags = s.repository("a/one", false).list_tags(None).await.unwrap();
    assert_eq!(tags, vec!["latest", "v1", "v2", "v3", "v4", "v5"]);
    assert_eq!(f.requests("GET", "/tags/list").len(), 3);
    let err = s
        .repository("nope/x", false)
        .list_tags(None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "name unknown: repository name not known to registry"
    );
}

#[tokio::test]
async fn push_monolithic_with_progress_then_layer_already_exists() {
    let img = make_image("push", &[4000, 5000], false);
    let f = FakeRegistry::start(Knobs::default()).await;
    let src = MemStore::with(img.blobs());
    let log = ProgressLog::default();
    let r = ImageRef::tagged(&f.host, "demo/push", "v1");
    let mk = || PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let pushed = client()
        .push_image(&r, Credentials::Anonymous, mk(), &log)
        .await
        .unwrap();
    assert_eq!(pushed.digest, img.manifest_digest);
    assert_eq!(
        f.blob(&img.layers[0].0.digest).unwrap(),
        img.layers[0].0.bytes
    );
    let lines: Vec<String> = log.messages().iter().map(|m| m.to_json_line()).collect();
    assert_eq!(
        lines[0],
        format!(
            r#"{{"status":"The push refers to repository [{}/demo/push]"}}"#,
            f.host
        )
    );
    let diff_id = img.layers[0].1.short().to_string();
    assert!(
        lines.contains(&format!(
            r#"{{"status":"Preparing","progressDetail":{{}},"id":"{diff_id}"}}"#
        )),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&format!(
            r#"{{"status":"Pushed","progressDetail":{{}},"id":"{diff_id}"}}"#
        )),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains(r#""status":"Pushing""#)));
    assert_eq!(
        lines[lines.len() - 2],
        format!(
            r#"{{"status":"v1: digest: {} size: {}"}}"#,
            img.manifest_digest,
            img.manifest.len()
        )
    );
    assert_eq!(
        lines[lines.len() - 1],
        format!(
            r#"{{"progressDetail":{{}},"aux":{{"Digest":"{}","Size":{},"Tag":"v1"}}}}"#,
            img.manifest_digest,
            img.manifest.len()
        )
    );
    // monolithic: no PATCH
    assert!(f.requests("PATCH", "").is_empty());
    // the manifest was PUT with its exact media type and bytes
    assert_eq!(
        f.state.manifests.lock().unwrap()[&("demo/push".to_string(), "v1".to_string())].0,
        img.manifest
    );

    let log = ProgressLog::default();
    client()
        .push_image(&r, Credentials::Anonymous, mk(), &log)
        .await
        .unwrap();
    assert_eq!(
        log.messages()
            .iter()
            .filter(|m| m.status == "Layer already exists")
            .count(),
        2
    );
}

#[tokio::test]
async fn chunked_upload_follows_newest_location_with_content_range() {
    let img = make_image("chunk", &[10_000], false);
    let f = FakeRegistry::start(Knobs::default()).await;
    let c = RegistryClient::new(ClientConfig {
        upload_chunk_size: 3000,
        ..Default::default()
    })
    .unwrap();
    let src = MemStore::with(img.blobs());
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    c.push_image(
        &ImageRef::tagged(&f.host, "demo/chunk", "v1"),
        Credentials::Anonymous,
        req,
        &berth_registry::progress::NoProgress,
    )
    .await
    .unwrap();
    let layer = &img.layers[0].0;
    assert_eq!(f.blob(&layer.digest).unwrap(), layer.bytes);
    let patches = f.requests("PATCH", "/blobs/uploads/");
    let n = layer.bytes.len().div_ceil(3000);
    assert_eq!(patches.len(), n);
    assert_eq!(patches[0].content_range.as_deref(), Some("0-2999"));
    assert_eq!(patches[1].content_range.as_deref(), Some("3000-5999"));
    assert!(patches.iter().all(|p| p.status == 202));
    // every PATCH used the newest _state
    for (i, p) in patches.iter().enumerate() {
        assert!(p.uri.ends_with(&format!("-{i}")), "{}", p.uri);
    }
}

#[tokio::test]
async fn cross_repo_mount_201_and_202_fallback() {
    let img = make_image("mount", &[2000, 3000], false);
    let f = seeded(Knobs::default(), "lib/base", &img).await;
    let src = MemStore::with(img.blobs());
    let mut hints = HashMap::new();
    // layer 0 is in lib/base (201); layer 1 is hinted at a repo that lacks it (202 → upload)
    hints.insert(img.layers[0].0.digest.clone(), vec!["lib/base".to_string()]);
    hints.insert(
        img.layers[1].0.digest.clone(),
        vec!["lib/empty".to_string()],
    );
    f.state
        .links
        .lock()
        .unwrap()
        .remove(&("lib/base".to_string(), img.layers[1].0.digest.to_string()));
    let log = ProgressLog::default();
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: hints,
    };
    client()
        .push_image(
            &ImageRef::tagged(&f.host, "team/app", "v1"),
            Credentials::Anonymous,
            req,
            &log,
        )
        .await
        .unwrap();
    let msgs = log.messages();
    let id0 = img.layers[0].1.short();
    let id1 = img.layers[1].1.short();
    assert!(
        msgs.iter()
            .any(|m| m.status == "Mounted from lib/base" && m.id.as_deref() == Some(id0)),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.status == "Pushed" && m.id.as_deref() == Some(id1)),
        "{msgs:#?}"
    );
    assert!(f.has_blob("team/app", &img.layers[0].0.digest));
    assert!(f.has_blob("team/app", &img.layers[1].0.digest));
    let mounts = f.requests("POST", "mount=");
    assert_eq!(mounts.iter().map(|m| m.status).collect::<Vec<_>>().len(), 2);
    // the 202 session was used for the upload: only the mount POSTs, no plain POST
    assert_eq!(
        f.requests("POST", "/blobs/uploads/").len(),
        2 + 1,
        "2 mounts + the config upload"
    );
}

#[tokio::test]
async fn single_post_upload_201_and_202() {
    let f = FakeRegistry::start(Knobs::default()).await;
    let s = client()
        .session_for(&f.host, Credentials::Anonymous)
        .await
        .unwrap();
    let repo = s.repository("r/post", true);
    let body = Bytes::from_static(b"hello blob");
    let d = berth_registry::Digest::of(&body);
    repo.upload_blob_single_post(&d, body.clone())
        .await
        .unwrap(); // 202 then PUT
    assert_eq!(f.requests("PUT", "/blobs/uploads/").len(), 1);
    assert_eq!(repo.blob_exists(&d).await.unwrap(), Some(body.len() as u64));
    f.knobs(|k| k.accept_single_post = true);
    let body2 = Bytes::from_static(b"second blob");
    let d2 = berth_registry::Digest::of(&body2);
    repo.upload_blob_single_post(&d2, body2).await.unwrap(); // 201 directly
    assert_eq!(f.requests("PUT", "/blobs/uploads/").len(), 1);
    assert!(f.has_blob("r/post", &d2));
}

#[tokio::test]
async fn local_blob_that_does_not_match_is_not_pushed() {
    let img = make_image("local", &[1000], false);
    let f = FakeRegistry::start(Knobs::default()).await;
    let mut blobs = img.blobs();
    blobs.insert(
        img.layers[0].0.digest.clone(),
        Bytes::from(vec![0u8; img.layers[0].0.bytes.len()]),
    );
    let src = MemStore::with(blobs);
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let err = client()
        .push_image(
            &ImageRef::tagged(&f.host, "r/local", "v1"),
            Credentials::Anonymous,
            req,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("digest mismatch for local blob"),
        "{err}"
    );
    assert!(f.requests("PUT", "/blobs/uploads/").is_empty());
    assert!(
        !f.requests("DELETE", "/blobs/uploads/").is_empty(),
        "the session was cancelled"
    );
}

#[tokio::test]
async fn redirects_are_followed_without_credentials() {
    let img = make_image("cdn", &[50_000], false);
    let f = seeded(
        Knobs {
            auth: FakeAuth::Basic("alice".into(), "pw".into()),
            redirect_blobs: true,
            ..Default::default()
        },
        "r/cdn",
        &img,
    )
    .await;
    let sink = MemStore::default();
    pull(&f, "r/cdn", Credentials::basic("alice", "pw"), &sink)
        .await
        .unwrap();
    assert_pulled(&img, &sink);
    let cdn = f.state.cdn_log.lock().unwrap().clone();
    assert_eq!(cdn.len(), 2, "config + layer fetched from the CDN");
    assert!(
        cdn.iter().all(|e| e.authorization.is_none()),
        "credentials leaked to another host: {cdn:?}"
    );
    assert!(f
        .requests("GET", "/blobs/")
        .iter()
        .all(|e| e.authorization.is_some()));
}

#[tokio::test]
async fn mirrors_are_tried_first_for_docker_hub_only() {
    let img = make_image("hub", &[100], false);
    let mirror = seeded(Knobs::default(), "library/busybox", &img).await;
    let dead = format!("http://127.0.0.1:{}", common::real_registry::free_port());
    let mirrors = vec![dead, format!("http://{}", mirror.host)];
    let sink = MemStore::default();
    let pulled = client()
        .pull_image(
            &ImageRef::tagged("docker.io", "library/busybox", "v1"),
            Credentials::Anonymous,
            &mirrors,
            &sink,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(pulled.endpoint, mirror.host);
    assert_pulled(&img, &sink);
}

#[tokio::test]
async fn transfers_run_in_parallel_within_dockers_limits() {
    let img = make_image(
        "par",
        &[1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700],
        false,
    );
    let f = seeded(
        Knobs {
            transfer_delay: Some(Duration::from_millis(300)),
            ..Default::default()
        },
        "r/par",
        &img,
    )
    .await;
    let log = ProgressLog::default();
    let sink = MemStore::default();
    client()
        .pull_image(
            &ImageRef::tagged(&f.host, "r/par", "v1"),
            Credentials::Anonymous,
            &[],
            &sink,
            &log,
        )
        .await
        .unwrap();
    assert_pulled(&img, &sink);
    let max = f
        .state
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=3).contains(&max),
        "at most 3 concurrent downloads, and some parallelism: {max}"
    );
    assert!(
        log.messages().iter().any(|m| m.status == "Waiting"),
        "queued layers show Waiting"
    );

    let f = FakeRegistry::start(Knobs {
        transfer_delay: Some(Duration::from_millis(300)),
        ..Default::default()
    })
    .await;
    let src = MemStore::with(img.blobs());
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    client()
        .push_image(
            &ImageRef::tagged(&f.host, "r/par", "v1"),
            Credentials::Anonymous,
            req,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap();
    let max = f
        .state
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (4..=5).contains(&max),
        "at most 5 concurrent uploads, and some parallelism: {max}"
    );
}

#[tokio::test]
async fn unreachable_registry_names_the_url_and_cause() {
    let host = format!("127.0.0.1:{}", common::real_registry::free_port());
    let err = client()
        .pull_image(
            &ImageRef::tagged(&host, "x/y", "v1"),
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    let s = err.to_string();
    // https was tried first (insecure loopback), then http: the last error is reported
    assert!(
        s.starts_with(&format!("GET \"http://{host}/v2/\": ")),
        "{s}"
    );
    assert!(s.contains("Connection refused"), "{s}");
}

#[tokio::test]
async fn a_stalled_blob_download_times_out_and_resumes() {
    let img = make_image("stall", &[200_000], false);
    let f = seeded(
        Knobs {
            drop_blob_after: Some((50_000, 1)),
            stall_instead_of_drop: true,
            ..Default::default()
        },
        "r/stall",
        &img,
    )
    .await;
    let c = RegistryClient::new(ClientConfig {
        read_timeout: Duration::from_millis(300),
        retry_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .unwrap();
    let sink = MemStore::default();
    c.pull_image(
        &ImageRef::tagged(&f.host, "r/stall", "v1"),
        Credentials::Anonymous,
        &[],
        &sink,
        &berth_registry::progress::NoProgress,
    )
    .await
    .unwrap();
    assert_pulled(&img, &sink);
    let gets = f.requests("GET", img.layers[0].0.digest.as_str());
    assert_eq!(gets.len(), 2);
    assert!(gets[1].range.is_some());
}

/// The daemon spawns pulls and pushes on tokio: their futures must be Send.
#[allow(dead_code)]
fn transfers_are_send(c: RegistryClient, r: ImageRef, sink: MemStore, req: PushRequest<'static>) {
    fn is_send<T: Send>(_: T) {}
    let log = ProgressLog::default();
    is_send(c.pull_image(&r, Credentials::Anonymous, &[], &sink, &log));
    is_send(c.push_image(&r, Credentials::Anonymous, req, &log));
}

#[tokio::test]
async fn push_refuses_a_content_type_that_contradicts_the_body() {
    let img = make_image("mt", &[100], true);
    let f = FakeRegistry::start(Knobs::default()).await;
    let src = MemStore::with(img.blobs());
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: berth_registry::media_types::DOCKER_MANIFEST_V2.into(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let err = client()
        .push_image(
            &ImageRef::tagged(&f.host, "r/mt", "v1"),
            Credentials::Anonymous,
            req,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("mediaType \"application/vnd.oci.image.manifest.v1+json\" in the body"),
        "{err}"
    );
    assert!(f.requests("POST", "").is_empty(), "nothing uploaded");
}

#[tokio::test]
async fn failed_layer_uploads_are_retried_in_a_new_session() {
    let img = make_image("retry", &[4000], false);
    let f = FakeRegistry::start(Knobs {
        fail_upload_puts: 2,
        ..Default::default()
    })
    .await;
    let c = RegistryClient::new(ClientConfig {
        upload_retry_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .unwrap();
    let src = MemStore::with(img.blobs());
    let log = ProgressLog::default();
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    c.push_image(
        &ImageRef::tagged(&f.host, "r/retry", "v1"),
        Credentials::Anonymous,
        req,
        &log,
    )
    .await
    .unwrap();
    assert!(f.has_blob("r/retry", &img.layers[0].0.digest));
    let puts: Vec<u16> = f
        .requests("PUT", "/blobs/uploads/")
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        puts,
        vec![500, 500, 201, 201],
        "layer: 2 failures then success; then the config"
    );
    let retries: Vec<String> = log
        .messages()
        .into_iter()
        .filter(|m| m.status.starts_with("Retrying"))
        .map(|m| m.status)
        .collect();
    assert_eq!(
        retries,
        vec!["Retrying in 1 second", "Retrying in 1 second"]
    );

    // a registry that keeps failing: the error after upload_attempts
    f.knobs(|k| k.fail_upload_puts = 100);
    let img2 = make_image("retry2", &[4000], false);
    let src = MemStore::with(img2.blobs());
    let req = PushRequest {
        manifest: img2.manifest.clone(),
        media_type: img2.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    let err = c
        .push_image(
            &ImageRef::tagged(&f.host, "r/retry2", "v1"),
            Credentials::Anonymous,
            req,
            &berth_registry::progress::NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown: unknown error");
    assert_eq!(f.requests("PUT", "r/retry2/blobs/uploads/").len(), 5);
}

#[tokio::test]
async fn basic_challenge_after_an_open_ping_is_answered_with_the_credentials() {
    let img = make_image("openping", &[500], false);
    let f = seeded(
        Knobs {
            auth: FakeAuth::Basic("alice".into(), "pw".into()),
            open_ping: true,
            ..Default::default()
        },
        "r/open",
        &img,
    )
    .await;
    let sink = MemStore::default();
    pull(&f, "r/open", Credentials::basic("alice", "pw"), &sink)
        .await
        .unwrap();
    assert_pulled(&img, &sink);
    // one 401 on the first repository request, then Basic on every request
    assert_eq!(f.log().iter().filter(|e| e.status == 401).count(), 1);
}
