//! HTTPS: a TLS registry verified with an extra CA, refused without it, and reached without
//! verification when it is an insecure registry (Docker's loopback default).

mod common;

use berth_registry::progress::NoProgress;
use berth_registry::{
    ClientConfig, Credentials, ImageRef, PushRequest, RegistryClient, RegistryError,
};
use common::image::make_image;
use common::real_registry::{Auth, RealRegistry};
use common::store::MemStore;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for IP 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=berth-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[tokio::test]
async fn https_with_extra_ca_and_insecure_fallbacks() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let reg = RealRegistry::start_with(
        Auth::None,
        Some((certs.path().join("srv.crt"), certs.path().join("srv.key"))),
    );
    let ca = std::fs::read(certs.path().join("ca.crt")).unwrap();

    // verified TLS: loopback not treated as insecure, CA given for this registry
    let mut cfg = ClientConfig {
        loopback_insecure: false,
        ..Default::default()
    };
    cfg.registry_ca_certs
        .insert(reg.host.clone(), vec![ca.clone()]);
    let c = RegistryClient::new(cfg).unwrap();
    let img = make_image("tls", &[10_000], false);
    let src = MemStore::with(img.blobs());
    let r = ImageRef::tagged(&reg.host, "secure/app", "v1");
    let req = PushRequest {
        manifest: img.manifest.clone(),
        media_type: img.media_type.clone(),
        source: &src,
        mount_from: HashMap::new(),
    };
    c.push_image(&r, Credentials::Anonymous, req, &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", reg.log()));
    let s = c
        .session_for(&reg.host, Credentials::Anonymous)
        .await
        .unwrap();
    assert_eq!(s.base_url().scheme(), "https");

    // without the CA the certificate is refused, with a transport error naming the URL
    let strict = RegistryClient::new(ClientConfig {
        loopback_insecure: false,
        ..Default::default()
    })
    .unwrap();
    let err = strict
        .pull_image(
            &r,
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Http { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("GET \"https://{}/v2/\"", reg.host)),
        "{err}"
    );
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Docker's default: loopback is insecure, HTTPS is tried first without verification
    let lax = RegistryClient::new(ClientConfig::default()).unwrap();
    let sink = MemStore::default();
    let p = lax
        .pull_image(&r, Credentials::Anonymous, &[], &sink, &NoProgress)
        .await
        .unwrap();
    assert_eq!(p.manifest.digest, img.manifest_digest);
    assert_eq!(
        lax.session_for(&reg.host, Credentials::Anonymous)
            .await
            .unwrap()
            .base_url()
            .scheme(),
        "https"
    );

    // a bad PEM is a configuration error up front
    let bad = ClientConfig {
        ca_certs: vec![b"not a certificate".to_vec()],
        ..Default::default()
    };
    assert!(matches!(
        RegistryClient::new(bad),
        Err(RegistryError::Config(_))
    ));
}
