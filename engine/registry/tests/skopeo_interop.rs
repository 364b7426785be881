//! skopeo as a second client through the real registry: what berth pushes, skopeo reads
//! byte-for-byte; what skopeo pushes from a hand-written OCI layout, berth pulls and verifies.

mod common;

use berth_registry::progress::NoProgress;
use berth_registry::{ClientConfig, Credentials, Digest, ImageRef, PushRequest, RegistryClient};
use common::image::{make_image, TestImage};
use common::real_registry::{Auth, RealRegistry};
use common::store::MemStore;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("running skopeo (apt-get install skopeo; `cargo xtask ci` installs it): {e}")
        });
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Writes `img` as an OCI image layout tagged `tag`.
fn write_oci_layout(dir: &Path, img: &TestImage, tag: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    for (d, b) in img.blobs() {
        std::fs::write(blobs.join(d.hex()), &b).unwrap();
    }
    std::fs::write(blobs.join(img.manifest_digest.hex()), &img.manifest).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": img.media_type,
            "digest": img.manifest_digest,
            "size": img.manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn creds_arg(creds: &Credentials) -> Option<String> {
    match creds {
        Credentials::Basic { username, password } => Some(format!("{username}:{password}")),
        _ => None,
    }
}

async fn berth_to_skopeo(reg: &RealRegistry, creds: Credentials) {
    let c = RegistryClient::new(ClientConfig::default()).unwrap();
    let img = make_image("to-skopeo", &[40_000, 70_000], false);
    let src = MemStore::with(img.blobs());
    let r = ImageRef::tagged(&reg.host, "interop/from-berth", "v1");
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    c.push_image(&r, creds.clone(), req, &NoProgress)
        .await
        .unwrap();

    let url = format!("docker://{}/interop/from-berth:v1", reg.host);
    let mut auth: Vec<String> = Vec::new();
    if let Some(cr) = creds_arg(&creds) {
        auth = vec!["--creds".into(), cr];
    }
    let mut raw_args = vec!["inspect", "--raw", "--tls-verify=false"];
    raw_args.extend(auth.iter().map(String::as_str));
    raw_args.push(&url);
    assert_eq!(
        skopeo(&raw_args),
        img.manifest.to_vec(),
        "skopeo sees berth's exact manifest bytes"
    );

    let out = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:v1", out.path().display());
    let mut copy = vec!["copy", "--src-tls-verify=false"];
    let src_creds = creds_arg(&creds);
    if let Some(cr) = &src_creds {
        copy.extend(["--src-creds", cr.as_str()]);
    }
    copy.extend([url.as_str(), dest.as_str()]);
    skopeo(&copy);
    // skopeo verified every blob digest while copying; the layers land unchanged
    for (l, _) in &img.layers {
        let got = std::fs::read(out.path().join("blobs/sha256").join(l.digest.hex())).unwrap();
        assert_eq!(Digest::of(&got), l.digest);
    }
}

async fn skopeo_to_berth(reg: &RealRegistry, creds: Credentials) {
    let img = make_image("from-skopeo", &[30_000, 90_000], true);
    let layout = tempfile::tempdir().unwrap();
    write_oci_layout(layout.path(), &img, "v1");
    let src = format!("oci:{}:v1", layout.path().display());
    let dest = format!("docker://{}/interop/from-skopeo:v1", reg.host);
    let mut copy = vec!["copy", "--dest-tls-verify=false"];
    let dest_creds = creds_arg(&creds);
    if let Some(cr) = &dest_creds {
        copy.extend(["--dest-creds", cr.as_str()]);
    }
    copy.extend([src.as_str(), dest.as_str()]);
    skopeo(&copy);

    let c = RegistryClient::new(ClientConfig::default()).unwrap();
    let sink = MemStore::default();
    let pulled = c
        .pull_image(
            &ImageRef::tagged(&reg.host, "interop/from-skopeo", "v1"),
            creds,
            &[],
            &sink,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(
        pulled.manifest.digest, img.manifest_digest,
        "skopeo kept the OCI manifest byte-for-byte"
    );
    assert_eq!(
        pulled.manifest.media_type,
        berth_registry::media_types::OCI_MANIFEST
    );
    assert_eq!(pulled.config, img.config.bytes);
    for (l, _) in &img.layers {
        assert_eq!(sink.get(&l.digest).unwrap(), l.bytes);
    }
}

#[tokio::test]
async fn skopeo_interop_without_auth() {
    let reg = RealRegistry::start(Auth::None);
    berth_to_skopeo(&reg, Credentials::Anonymous).await;
    skopeo_to_berth(&reg, Credentials::Anonymous).await;
}

#[tokio::test]
async fn skopeo_interop_with_htpasswd() {
    let reg = RealRegistry::start(Auth::Htpasswd(vec![("alice".into(), "s3cret".into())]));
    berth_to_skopeo(&reg, Credentials::basic("alice", "s3cret")).await;
    skopeo_to_berth(&reg, Credentials::basic("alice", "s3cret")).await;
}
