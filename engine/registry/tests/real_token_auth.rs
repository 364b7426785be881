//! Bearer-token auth against the real registry (`auth.token`) with an in-test token server:
//! anonymous pull of public repositories only, user pushes, refresh tokens from login.

mod common;

use berth_registry::progress::NoProgress;
use berth_registry::{
    AuthScheme, ClientConfig, Credentials, ImageRef, PushRequest, RegistryClient,
};
use common::image::make_image;
use common::real_registry::{Auth, RealRegistry};
use common::store::MemStore;
use common::token_server::{TokenServer, ISSUER, SERVICE};
use std::collections::HashMap;

#[tokio::test]
async fn token_auth_public_and_private_repositories() {
    let keys = tempfile::tempdir().unwrap();
    let ts = TokenServer::start(keys.path(), &[("alice", "s3cret")]).await;
    let reg = RealRegistry::start(Auth::Token {
        realm: ts.realm.clone(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        rootcert: ts.cert.clone(),
    });
    let c = RegistryClient::new(ClientConfig::default()).unwrap();
    let alice = Credentials::basic("alice", "s3cret");

    let s = c
        .session_for(&reg.host, Credentials::Anonymous)
        .await
        .unwrap();
    assert_eq!(
        s.auth_scheme(),
        AuthScheme::Bearer {
            realm: ts.realm.clone(),
            service: Some(SERVICE.into())
        }
    );

    let img = make_image("tok", &[25_000, 5_000], false);
    let src = MemStore::with(img.blobs());
    for repo in ["public/app", "private/app"] {
        let r = ImageRef::tagged(&reg.host, repo, "v1");
        // anonymous push is refused in Docker's words
        let req = PushRequest {
            manifest: img.manifest.clone(),
            media_type: img.media_type.clone(),
            source: &src,
            mount_from: HashMap::new(),
        };
        let err = c
            .push_image(&r, Credentials::Anonymous, req, &NoProgress)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unauthorized: authentication required",
            "{}",
            reg.log()
        );
        let req = PushRequest {
            manifest: img.manifest.clone(),
            media_type: img.media_type.clone(),
            source: &src,
            mount_from: HashMap::new(),
        };
        c.push_image(&r, alice.clone(), req, &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", reg.log()));
    }
    let reqs = ts.requests.lock().unwrap().clone();
    assert!(
        reqs.iter().any(|r| r.contains("account=alice")
            && r.contains("scope=repository%3Apublic%2Fapp%3Apull%2Cpush")),
        "{reqs:#?}"
    );

    // public: anonymous pull works
    let sink = MemStore::default();
    let p = c
        .pull_image(
            &ImageRef::tagged(&reg.host, "public/app", "v1"),
            Credentials::Anonymous,
            &[],
            &sink,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(p.manifest.digest, img.manifest_digest);
    // private: anonymous pull is refused like Docker Hub does
    let err = c
        .pull_image(
            &ImageRef::tagged(&reg.host, "private/app", "v1"),
            Credentials::Anonymous,
            &[],
            &MemStore::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("pull access denied for {}/private/app, repository does not exist or may require 'docker login'", reg.host)),
        "{err}"
    );

    // login: wrong password, then a refresh token that replaces the password
    let e = c
        .login(&reg.host, &Credentials::basic("alice", "nope"))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            reg.host
        )
    );
    let login = c.login(&reg.host, &alice).await.unwrap();
    let rt = login.identity_token.expect("refresh token");
    let fresh = RegistryClient::new(ClientConfig::default()).unwrap(); // empty token cache
    let sink = MemStore::default();
    let idt = Credentials::IdentityToken {
        username: "alice".into(),
        token: rt,
    };
    let p = fresh
        .pull_image(
            &ImageRef::tagged(&reg.host, "private/app", "v1"),
            idt.clone(),
            &[],
            &sink,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(p.manifest.digest, img.manifest_digest);
    assert!(ts
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.starts_with("POST") && r.contains("grant_type=refresh_token")));

    // catalog needs registry:catalog:*
    let s = c.session_for(&reg.host, alice).await.unwrap();
    assert_eq!(
        s.catalog(None).await.unwrap(),
        vec!["private/app", "public/app"]
    );
}
