//! The private-registry lab's token service against the real docker-registry, inside a lab
//! host (its own network namespace): the lab's `install.sh` sets both up from harbor.yml, then
//! curl on the host plays the Docker token protocol. The registry itself verifies every JWT:
//! public projects pull anonymously, private ones only with a user, pushes need a user,
//! unknown projects get nothing, wrong passwords get 401, and a token signed by another key
//! (same issuer and service) is refused.

use anyhow::{ensure, Result};
use berth_grader::catalog::{Lab, Objectives};
use berth_grader::hosts::{self, Config, VirtualLab};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

struct Guard(Config, String);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = hosts::reset(&self.0, &self.1);
    }
}

const LAB: &str = r#"id = "token-selftest"
title = { zh = "令牌服务自检", en = "Token service self-test" }
intro = { zh = "真实的镜像仓库和令牌服务。", en = "The real registry and the token service." }
objectives = ["run-registry"]
hub = false

[[hosts]]
name = "reg"
address = "10.1.1.18/24"

[[steps]]
id = "none"
title = { zh = "无", en = "None" }
instructions = { zh = "无", en = "None" }
host = "reg"
[[steps.checks]]
kind = "process"
host = "reg"
cmdline = "^docker-registry "
[[steps.broken]]
name = "nothing"
why = "nothing runs"
"#;

/// `curl` on the host: status code and body.
fn curl(vl: &VirtualLab, args: &str) -> Result<(u16, String)> {
    let out = vl.run(
        "reg",
        &format!("curl -s -o /tmp/body -w '%{{http_code}}' {args}; echo; cat /tmp/body"),
        Duration::from_secs(20),
    )?;
    let (code, body) = out.stdout.split_once('\n').unwrap_or((&out.stdout, ""));
    Ok((code.trim().parse().unwrap_or(0), body.to_string()))
}

fn token(vl: &VirtualLab, auth: &str, port: u16, scope: &str) -> Result<String> {
    let (code, body) = curl(
        vl,
        &format!(
            "{auth} 'http://10.1.1.18:{port}/service/token?service=harbor-registry&scope={scope}'"
        ),
    )?;
    ensure!(code == 200, "token for {scope}: {code} {body}");
    let v: serde_json::Value = serde_json::from_str(&body)?;
    Ok(v["token"].as_str().unwrap_or_default().to_string())
}

#[test]
fn registry_verifies_the_token_service_s_grants() -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let objectives = Objectives::load(&root().join("labs/objectives.toml")).unwrap();
    // Parsed as if it lived in labs/6-registry, so the host sees the installer at
    // $BERTH_LAB_DIR/harbor as students do: the checkout itself may sit under a path the
    // hosts do not see (/tmp is private to each host).
    let lab = Lab::parse(&root().join("labs/6-registry/token-selftest.toml"), LAB, &objectives).unwrap();
    let t = tempfile::tempdir()?;
    let cfg = Config::new(t.path().join("labs"), env!("CARGO_BIN_EXE_berth-lab-host"));
    let vl = VirtualLab::provision(&lab, &cfg)?;
    let _guard = Guard(cfg.clone(), lab.id.clone());

    let install = vl.run(
        "reg",
        "set -e; cp -r $BERTH_LAB_DIR/harbor /root/harbor && cd /root/harbor && \
         sed -i 's/^hostname: .*/hostname: 10.1.1.18/; s/^harbor_admin_password: .*/harbor_admin_password: 123/' harbor.yml && \
         echo 'project: test private' >> harbor.yml && ./install.sh",
        Duration::from_secs(60),
    )?;
    ensure!(install.status == 0, "install.sh: {install:?}");
    ensure!(
        install
            .stdout
            .contains("projects: --public library --private test"),
        "{install:?}"
    );

    // The registry asks for a token (Bearer challenge naming the realm).
    let out = vl.run(
        "reg",
        "curl -s -D - -o /dev/null http://10.1.1.18/v2/",
        Duration::from_secs(10),
    )?;
    ensure!(
        out.stdout.contains("401")
            && out.stdout.contains(
                "Bearer realm=\"http://10.1.1.18:5001/service/token\",service=\"harbor-registry\""
            ),
        "{out:?}"
    );

    let admin = "-u admin:123";
    // Wrong password: the token service refuses, as `docker login` needs.
    let (code, body) = curl(
        &vl,
        "-u admin:nope 'http://10.1.1.18:5001/service/token?service=harbor-registry&account=admin'",
    )?;
    ensure!(
        code == 401 && body.contains("UNAUTHORIZED"),
        "{code} {body}"
    );

    // A user pushes into the private project: the registry accepts the upload.
    let push = token(&vl, admin, 5001, "repository:test/app:pull,push")?;
    let (code, body) = curl(
        &vl,
        &format!(
            "-X POST -H 'Authorization: Bearer {push}' http://10.1.1.18/v2/test/app/blobs/uploads/"
        ),
    )?;
    ensure!(code == 202, "push with a user's token: {code} {body}");

    // Anonymous: a public repository may be read (404: authorized, just empty), a private
    // one not, and nobody anonymous may push.
    let anon_public = token(&vl, "", 5001, "repository:library/app:pull")?;
    let (code, body) = curl(
        &vl,
        &format!(
            "-H 'Authorization: Bearer {anon_public}' http://10.1.1.18/v2/library/app/tags/list"
        ),
    )?;
    ensure!(
        code == 404 && body.contains("NAME_UNKNOWN"),
        "anonymous public pull: {code} {body}"
    );
    let anon_private = token(&vl, "", 5001, "repository:test/app:pull")?;
    let (code, body) = curl(
        &vl,
        &format!(
            "-H 'Authorization: Bearer {anon_private}' http://10.1.1.18/v2/test/app/tags/list"
        ),
    )?;
    ensure!(
        code == 401 && body.contains("UNAUTHORIZED"),
        "anonymous private pull: {code} {body}"
    );
    let anon_push = token(&vl, "", 5001, "repository:library/app:pull,push")?;
    let (code, _) = curl(
        &vl,
        &format!("-X POST -H 'Authorization: Bearer {anon_push}' http://10.1.1.18/v2/library/app/blobs/uploads/"),
    )?;
    ensure!(code == 401, "anonymous push: {code}");
    // A project that does not exist: nothing, even for a user.
    let nosuch = token(&vl, admin, 5001, "repository:nosuch/app:pull,push")?;
    let (code, _) = curl(
        &vl,
        &format!("-X POST -H 'Authorization: Bearer {nosuch}' http://10.1.1.18/v2/nosuch/app/blobs/uploads/"),
    )?;
    ensure!(code == 401, "push outside any project: {code}");

    // A token from another key, same issuer and service: the registry checks the signature
    // against its trusted certificate and refuses.
    let out = vl.run(
        "reg",
        "set -e; mkdir -p /root/forge && cd /root/forge && \
         openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=harbor-token-issuer -keyout k.pem -out c.pem 2>/dev/null && \
         (setsid berth-lab-host token-server --listen 127.0.0.1:5002 --service harbor-registry --issuer harbor-token-issuer \
            --key k.pem --cert c.pem --user admin:123 --private test </dev/null >/root/forge/log 2>&1 &) && \
         for i in $(seq 50); do ss -ltn | grep -q ':5002 ' && break; sleep 0.1; done",
        Duration::from_secs(30),
    )?;
    ensure!(out.status == 0, "{out:?}");
    let (code, body) = curl(
        &vl,
        "-u admin:123 'http://127.0.0.1:5002/service/token?service=harbor-registry&scope=repository:test/app:pull,push'",
    )?;
    ensure!(code == 200, "{code} {body}");
    let forged = serde_json::from_str::<serde_json::Value>(&body)?["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (code, body) = curl(
        &vl,
        &format!("-X POST -H 'Authorization: Bearer {forged}' http://10.1.1.18/v2/test/app/blobs/uploads/"),
    )?;
    ensure!(code == 401, "a token signed by another key: {code} {body}");

    // Every request is in the service's log, with who asked and what was granted.
    let log = vl.run(
        "reg",
        "cat /var/lib/harbor/log/token.log",
        Duration::from_secs(5),
    )?;
    ensure!(
        log.stdout
            .contains("account=(anonymous) repository:test/app:pull -> []")
            && log
                .stdout
                .contains("account=admin repository:test/app:pull,push -> [pull,push]"),
        "{log:?}"
    );
    Ok(())
}
