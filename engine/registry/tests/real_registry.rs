//! Happy paths against the real CNCF distribution registry (Debian `docker-registry` 2.8),
//! without auth and with htpasswd (Basic) auth.

mod common;

use berth_registry::progress::{NoProgress, ProgressLog};
use berth_registry::{
    ClientConfig, Credentials, ImageRef, MountResult, PushRequest, RegistryClient, RegistryError,
};
use bytes::Bytes;
use common::image::{make_image, TestImage};
use common::real_registry::{Auth, RealRegistry};
use common::store::MemStore;
use std::collections::HashMap;

fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig::default()).unwrap()
}

async fn push(
    c: &RegistryClient,
    r: &ImageRef,
    creds: Credentials,
    img: &TestImage,
    hints: HashMap<berth_registry::Digest, Vec<String>>,
) -> Result<ProgressLog, RegistryError> {
    let src = MemStore::with(img.blobs());
    let log = ProgressLog::default();
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: hints,
    };
    let pushed = c.push_image(r, creds, req, &log).await?;
    assert_eq!(pushed.digest, img.manifest_digest);
    Ok(log)
}

fn assert_same(img: &TestImage, pulled: &berth_registry::PulledImage, sink: &MemStore) {
    assert_eq!(pulled.manifest.bytes, img.manifest, "exact manifest bytes");
    assert_eq!(pulled.repo_digest, img.manifest_digest);
    assert_eq!(pulled.config, img.config.bytes);
    for (l, _) in &img.layers {
        assert_eq!(sink.get(&l.digest).as_ref(), Some(&l.bytes));
    }
}

#[tokio::test]
async fn push_then_pull_without_auth() {
    let reg = RealRegistry::start(Auth::None);
    let img = make_image("noauth", &[20_000, 150_000], false);
    let r = ImageRef::tagged(&reg.host, "demo/app", "v1");
    let c = client();
    push(&c, &r, Credentials::Anonymous, &img, HashMap::new())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", reg.log()));
    let sink = MemStore::default();
    let pulled = c
        .pull_image(&r, Credentials::Anonymous, &[], &sink, &NoProgress)
        .await
        .unwrap();
    assert_same(&img, &pulled, &sink);

    // HEAD by tag gives the digest and type without the body
    let s = c
        .session_for(&reg.host, Credentials::Anonymous)
        .await
        .unwrap();
    let repo = s.repository("demo/app", false);
    let head = repo.head_manifest("v1").await.unwrap();
    assert_eq!(head.digest.as_ref(), Some(&img.manifest_digest));
    assert_eq!(head.media_type, img.media_type);
    assert_eq!(head.size, Some(img.manifest.len() as u64));

    // delete by tag: resolved to the digest, then the tag is gone
    assert_eq!(
        repo.delete_manifest("v1").await.unwrap(),
        img.manifest_digest
    );
    assert_eq!(
        repo.head_manifest("v1").await.unwrap_err().api_code(),
        Some("MANIFEST_UNKNOWN")
    );
    let again = s
        .repository("demo/app", true)
        .delete_manifest(img.manifest_digest.as_str())
        .await
        .unwrap_err();
    assert_eq!(again.to_string(), "manifest unknown: manifest unknown");

    // unknown tag: Docker's words
    let err = c
        .pull_image(
            &ImageRef::tagged(&reg.host, "demo/app", "nosuchtag"),
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/demo/app:nosuchtag not found: manifest unknown: manifest unknown",
            reg.host
        )
    );
}

#[tokio::test]
async fn chunked_upload_oci_image_tags_and_catalog() {
    let reg = RealRegistry::start(Auth::None);
    let c = RegistryClient::new(ClientConfig {
        upload_chunk_size: 64 * 1024,
        ..Default::default()
    })
    .unwrap();
    let img = make_image("chunked", &[300_000], true);
    for tag in ["b", "a", "c"] {
        push(
            &c,
            &ImageRef::tagged(&reg.host, "demo/oci", tag),
            Credentials::Anonymous,
            &img,
            HashMap::new(),
        )
        .await
        .unwrap();
    }
    let sink = MemStore::default();
    let pulled = c
        .pull_image(
            &ImageRef::tagged(&reg.host, "demo/oci", "a"),
            Credentials::Anonymous,
            &[],
            &sink,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_same(&img, &pulled, &sink);
    assert_eq!(
        pulled.manifest.media_type,
        berth_registry::media_types::OCI_MANIFEST
    );

    for name in ["demo/x1", "demo/x2", "other/y"] {
        push(
            &c,
            &ImageRef::tagged(&reg.host, name, "v1"),
            Credentials::Anonymous,
            &img,
            HashMap::new(),
        )
        .await
        .unwrap();
    }
    let s = c
        .session_for(&reg.host, Credentials::Anonymous)
        .await
        .unwrap();
    assert_eq!(
        s.repository("demo/oci", false)
            .list_tags(None)
            .await
            .unwrap(),
        vec!["a", "b", "c"]
    );
    // page size 2 forces the registry's relative Link header
    assert_eq!(
        s.catalog(Some(2)).await.unwrap(),
        vec!["demo/oci", "demo/x1", "demo/x2", "other/y"]
    );
}

#[tokio::test]
async fn mounts_and_single_post_fallback_on_the_real_registry() {
    let reg = RealRegistry::start(Auth::None);
    let c = client();
    let img = make_image("mount", &[10_000, 12_000], false);
    push(
        &c,
        &ImageRef::tagged(&reg.host, "lib/base", "v1"),
        Credentials::Anonymous,
        &img,
        HashMap::new(),
    )
    .await
    .unwrap();

    let hints: HashMap<_, _> = img
        .layers
        .iter()
        .map(|(l, _)| (l.digest.clone(), vec!["lib/base".to_string()]))
        .collect();
    let log = push(
        &c,
        &ImageRef::tagged(&reg.host, "team/app", "v1"),
        Credentials::Anonymous,
        &img,
        hints,
    )
    .await
    .unwrap();
    let mounted = log
        .messages()
        .iter()
        .filter(|m| m.status == "Mounted from lib/base")
        .count();
    assert_eq!(mounted, 2, "{:#?}", log.messages());

    // mount from a repository that lacks the blob: 202 and an upload session
    let s = c
        .session_for(&reg.host, Credentials::Anonymous)
        .await
        .unwrap();
    let repo = s.repository("team/new", true);
    let blob = Bytes::from(common::image::noise(5000, 42));
    let d = berth_registry::Digest::of(&blob);
    match repo.mount_blob(&d, "lib/base").await.unwrap() {
        MountResult::Upload(loc) => {
            let mut r: &[u8] = &blob;
            repo.upload_blob(&d, blob.len() as u64, &mut r, Some(loc), &mut |_| {})
                .await
                .unwrap();
        }
        MountResult::Mounted => panic!("mounted a blob the source does not have"),
    }
    assert_eq!(repo.blob_exists(&d).await.unwrap(), Some(5000));

    // 2.8.2 answers a monolithic POST with 202 and ignores the body: the client PUTs it
    let blob2 = Bytes::from(common::image::noise(3000, 7));
    let d2 = berth_registry::Digest::of(&blob2);
    repo.upload_blob_single_post(&d2, blob2.clone())
        .await
        .unwrap();
    assert_eq!(repo.blob_exists(&d2).await.unwrap(), Some(3000));
    assert_eq!(repo.fetch_blob_bytes(&d2, Some(3000)).await.unwrap(), blob2);
}

#[tokio::test]
async fn htpasswd_basic_auth() {
    let reg = RealRegistry::start(Auth::Htpasswd(vec![("alice".into(), "s3cret".into())]));
    let c = client();
    let img = make_image("basic", &[8_000], false);
    let r = ImageRef::tagged(&reg.host, "private/app", "v1");

    let e = c
        .login(&reg.host, &Credentials::basic("alice", "wrong"))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            reg.host
        )
    );
    let ok = c
        .login(&reg.host, &Credentials::basic("alice", "s3cret"))
        .await
        .unwrap();
    assert_eq!(ok.url, format!("http://{}/v2/", reg.host));

    let err = push(&c, &r, Credentials::Anonymous, &img, HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "unauthorized: authentication required");
    let err = push(
        &c,
        &r,
        Credentials::basic("alice", "wrong"),
        &img,
        HashMap::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.api_code(), Some("UNAUTHORIZED"));

    push(
        &c,
        &r,
        Credentials::basic("alice", "s3cret"),
        &img,
        HashMap::new(),
    )
    .await
    .unwrap();
    let sink = MemStore::default();
    let pulled = c
        .pull_image(
            &r,
            Credentials::basic("alice", "s3cret"),
            &[],
            &sink,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_same(&img, &pulled, &sink);

    let err = c
        .pull_image(
            &r,
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("pull access denied for {}/private/app, repository does not exist or may require 'docker login': unauthorized: authentication required", reg.host)
    );
}
