//! `docker build` against berthd: the classic builder's steps, output, history strings, layers,
//! cache and errors, driven by `berth build` and by the real docker CLI (legacy builder).

use std::path::Path;

use berth_tests::engine::{have_docker, Engine, Run};
use serde_json::Value;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
    }
}

fn inspect(e: &Engine, name: &str) -> Value {
    let out = e.ok(&["inspect", "--type", "image", name]);
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

/// `CreatedBy` of each history entry, newest first (`GET /images/{name}/history`).
fn history(e: &Engine, name: &str) -> Vec<String> {
    let v = berth_tests::raw_api::request(&e.sock, "GET", &format!("/v1.41/images/{name}/history"), None).json();
    v.as_array().unwrap().iter().map(|h| h["CreatedBy"].as_str().unwrap().to_string()).collect()
}

fn build(e: &Engine, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    e.berth(&args)
}

const WEB: &str = "FROM busybox
MAINTAINER berth course <course@example.org>
ENV APP_HOME=/srv/app GREETING=\"hello from the build\"
WORKDIR $APP_HOME
COPY index.html ./
COPY conf/ ./conf/
ADD site.tar.gz /srv/
RUN echo \"$GREETING\" > built.txt && ls /srv/site > listing.txt
EXPOSE 8080 53/udp
VOLUME /data
LABEL course.chapter=10 \"course.case\"=\"web v1\"
CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/srv/app\"]
";

fn web_context(dir: &Path) {
    write(dir, &[("Dockerfile", WEB), ("index.html", "<h1>built by berth</h1>\n"), ("conf/a.conf", "a=1\n"), ("conf/deep/b.conf", "b=2\n")]);
    // site.tar.gz: ADD unpacks it.
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "site/page.txt", &b"page\n"[..]).unwrap();
    std::fs::write(dir.join("site.tar.gz"), b.into_inner().unwrap().finish().unwrap()).unwrap();
}

#[test]
fn a_dockerfile_builds_with_dockers_steps_config_history_and_layers() {
    let e = Engine::start();
    e.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    web_context(ctx.path());
    let r = build(&e, ctx.path(), &["-t", "web:v1"]);
    assert_eq!(r.code, 0, "{r:?}\n{}", e.daemon_log());
    let out = &r.stdout;
    assert!(out.starts_with("Sending build context to Docker daemon  "), "{out}");
    assert!(out.contains("Step 1/12 : FROM busybox\n"), "{out}");
    assert!(out.contains("Step 8/12 : RUN echo \"$GREETING\" > built.txt && ls /srv/site > listing.txt\n ---> Running in "), "{out}");
    assert!(out.contains("Removing intermediate container "), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.trim_end().ends_with("Successfully tagged web:v1"), "{out}");

    let img = inspect(&e, "web:v1");
    let cfg = &img["Config"];
    assert_eq!(cfg["Cmd"], serde_json::json!(["httpd", "-f", "-p", "8080", "-h", "/srv/app"]));
    assert_eq!(cfg["WorkingDir"], "/srv/app");
    let env: Vec<&str> = cfg["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "{env:?}");
    assert!(env.contains(&"GREETING=hello from the build"), "{env:?}");
    assert_eq!(cfg["ExposedPorts"], serde_json::json!({"53/udp": {}, "8080/tcp": {}}));
    assert_eq!(cfg["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(cfg["Labels"]["course.case"], "web v1");
    assert_eq!(img["Author"], "berth course <course@example.org>");
    // Layers: the base, WORKDIR's directory, two COPYs, ADD and RUN.
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 6, "{img:#}");

    let h = history(&e, "web:v1");
    assert_eq!(h[0], "/bin/sh -c #(nop)  CMD [\"httpd\" \"-f\" \"-p\" \"8080\" \"-h\" \"/srv/app\"]");
    assert!(h.contains(&"/bin/sh -c #(nop)  VOLUME [/data]".to_string()), "{h:?}");
    assert!(h.contains(&"/bin/sh -c #(nop)  EXPOSE 53/udp 8080".to_string()), "{h:?}");
    assert!(h.contains(&"/bin/sh -c #(nop) WORKDIR /srv/app".to_string()), "{h:?}");
    assert!(h.contains(&"/bin/sh -c #(nop)  ENV APP_HOME=/srv/app GREETING=hello from the build".to_string()), "{h:?}");
    assert!(h.contains(&"/bin/sh -c echo \"$GREETING\" > built.txt && ls /srv/site > listing.txt".to_string()), "{h:?}");
    assert!(h.iter().any(|l| l.starts_with("/bin/sh -c #(nop) COPY file:") && l.ends_with(" in ./ ")), "{h:?}");
    assert!(h.iter().any(|l| l.starts_with("/bin/sh -c #(nop) COPY dir:") && l.ends_with(" in ./conf/ ")), "{h:?}");
    assert!(h.iter().any(|l| l.starts_with("/bin/sh -c #(nop) ADD file:") && l.ends_with(" in /srv/ ")), "{h:?}");

    // The files are where Docker puts them, and RUN saw ENV.
    let r = e.berth(&["run", "--rm", "web:v1", "sh", "-c", "cat built.txt listing.txt index.html conf/deep/b.conf /srv/site/page.txt; stat -c '%u:%g %a' index.html"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "hello from the build\npage.txt\n<h1>built by berth</h1>\nb=2\npage\n0:0 644\n");

    // No step container is left.
    assert_eq!(e.ok(&["ps", "-aq"]).trim(), "");

    // A second build of the same context is all cache, and the same image.
    let id1 = img["Id"].as_str().unwrap().to_string();
    let r = build(&e, ctx.path(), &["-t", "web:v1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.matches(" ---> Using cache").count(), 11, "{}", r.stdout);
    assert!(!r.stdout.contains("Running in"), "{}", r.stdout);
    assert_eq!(inspect(&e, "web:v1")["Id"].as_str().unwrap(), id1);

    // mtime alone keeps the cache; a mode change rebuilds from that COPY on.
    let f = std::fs::File::options().write(true).open(ctx.path().join("index.html")).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
    let r = build(&e, ctx.path(), &["-t", "web:v1"]);
    assert_eq!(r.stdout.matches(" ---> Using cache").count(), 11, "{}", r.stdout);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ctx.path().join("index.html"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = build(&e, ctx.path(), &["-t", "web:v1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.matches(" ---> Using cache").count(), 3, "{}", r.stdout);
    assert!(r.stdout.contains("Step 5/12 : COPY index.html ./\n ---> "), "{}", r.stdout);
}

#[test]
fn failures_say_what_docker_says_and_leave_no_image() {
    let e = Engine::start();
    e.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("Dockerfile", "FROM busybox\nRUN echo about to fail && exit 3\n")]);
    let r = build(&e, ctx.path(), &["-t", "bad:1"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("about to fail\n"), "{r:?}");
    assert_eq!(r.stderr.trim(), "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
    assert_ne!(e.berth(&["inspect", "--type", "image", "bad:1"]).code, 0);
    // As the classic builder: the failed step's container stays for inspection (--rm only
    // removes after success), --force-rm removes it too.
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
    e.ok(&["container", "prune", "-f"]);
    let r = build(&e, ctx.path(), &["--force-rm", "-t", "bad:1"]);
    assert_eq!(r.code, 3);
    assert_eq!(e.ok(&["ps", "-aq"]).trim(), "");

    write(ctx.path(), &[("Dockerfile", "FROM busybox\nFOO bar\n")]);
    let r = build(&e, ctx.path(), &[]);
    assert_eq!((r.code, r.stderr.trim()), (1, "Error response from daemon: dockerfile parse error line 2: unknown instruction: FOO"));

    write(ctx.path(), &[("Dockerfile", "FROM busybox\nCOPY ../secret /x\n")]);
    let r = build(&e, ctx.path(), &[]);
    assert_eq!((r.code, r.stderr.trim()), (1, "COPY failed: forbidden path outside the build context: ../secret ()"));

    write(ctx.path(), &[("Dockerfile", "FROM busybox\nCOPY missing.txt /x\n")]);
    let r = build(&e, ctx.path(), &[]);
    assert_eq!(
        (r.code, r.stderr.trim()),
        (1, "COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist")
    );

    // An image that is nowhere (a registry that refuses connections: no traffic leaves).
    write(ctx.path(), &[("Dockerfile", "FROM 127.0.0.1:1/nosuchimage-here\n")]);
    let r = build(&e, ctx.path(), &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.ends_with("Step 1/1 : FROM 127.0.0.1:1/nosuchimage-here\n"), "{r:?}");
    assert!(r.stderr.contains("127.0.0.1:1"), "{r:?}");

    std::fs::remove_file(ctx.path().join("Dockerfile")).unwrap();
    let r = build(&e, ctx.path(), &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "), "{r:?}");
    // Nothing left in the builder's scratch space.
    let scratch = e.data_root().join("builder");
    let left: Vec<_> = std::fs::read_dir(&scratch).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn multi_stage_target_build_args_and_dockerignore() {
    let e = Engine::start();
    e.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            (
                "Dockerfile",
                "ARG BASE=busybox
FROM ${BASE} AS compile
ARG WHO=world
RUN mkdir /out && echo \"hi $WHO\" > /out/greeting
FROM busybox
COPY --from=compile /out/ /srv/
COPY . /ctx/
CMD cat /srv/greeting
",
            ),
            (".dockerignore", "*.env\nlogs/*.log\n!logs/keep.log\n**/*.tmp\n"),
            ("secret.env", "x"),
            ("logs/x.log", "x"),
            ("logs/keep.log", "k"),
            ("sub/junk.tmp", "j"),
            ("sub/real.txt", "r"),
        ],
    );
    let r = build(&e, ctx.path(), &["-t", "ms:1", "--build-arg", "WHO=class", "--build-arg", "UNUSED=1"]);
    assert_eq!(r.code, 0, "{r:?}\n{}", e.daemon_log());
    assert!(r.stdout.contains("[Warning] One or more build-args [UNUSED] were not consumed"), "{}", r.stdout);
    let r = e.berth(&["run", "--rm", "ms:1"]);
    assert_eq!(r.stdout, "hi class\n");
    let r = e.berth(&["run", "--rm", "ms:1", "find", "/ctx", "-type", "f"]);
    let mut files: Vec<&str> = r.stdout.lines().collect();
    files.sort();
    assert_eq!(files, vec!["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/logs/keep.log", "/ctx/sub/real.txt"]);
    // The RUN's history names the build arg it saw.
    assert!(history(&e, "ms:1").len() >= 3);
    let h = history(&e, "ms:1");
    assert!(!h.iter().any(|l| l.contains("|1 WHO=class")), "the final stage did not run the RUN: {h:?}");

    // --target stops at the named stage.
    let r = build(&e, ctx.path(), &["-t", "ms:compile", "--target", "compile", "--build-arg", "WHO=class"]);
    assert_eq!(r.code, 0, "{r:?}");
    let h = history(&e, "ms:compile");
    assert!(h.iter().any(|l| l == "|1 WHO=class /bin/sh -c mkdir /out && echo \"hi $WHO\" > /out/greeting"), "{h:?}");
}

#[test]
fn the_docker_cli_builds_against_berthd() {
    if !have_docker("docker build against berthd") {
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    web_context(ctx.path());
    let mut cmd = e.docker_command();
    cmd.env("DOCKER_BUILDKIT", "0").args(["build", "-f", ctx.path().join("Dockerfile").to_str().unwrap(), "-t", "web:docker", ctx.path().to_str().unwrap()]);
    let o = cmd.output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{out}\n{err}\n{}", e.daemon_log());
    assert!(out.contains("Step 12/12 : CMD"), "{out}");
    assert!(out.contains("Successfully tagged web:docker"), "{out}");
    // The context hash the docker CLI's tar gives is the same the berth CLI's gives (both send
    // root-owned entries): the second build, by the other client, is all cache.
    let r = build(&e, ctx.path(), &["-t", "web:berth"]);
    assert_eq!(r.code, 0, "{r:?}");
    // -q prints the image ID only.
    let mut cmd = e.docker_command();
    cmd.env("DOCKER_BUILDKIT", "0").args(["build", "-q", ctx.path().to_str().unwrap()]);
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(out.trim().starts_with("sha256:") && out.trim().len() == 71, "{out:?}");
    // A failing RUN: the docker CLI exits with the RUN's code.
    write(ctx.path(), &[("Dockerfile", "FROM busybox\nRUN exit 7\n")]);
    let mut cmd = e.docker_command();
    cmd.env("DOCKER_BUILDKIT", "0").args(["build", ctx.path().to_str().unwrap()]);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("The command '/bin/sh -c exit 7' returned a non-zero code: 7"));
}

#[test]
fn docker_py_builds_against_berthd() {
    if !berth_tests::raw_api::have_docker_py("docker-py images.build against berthd") {
        return;
    }
    let e = Engine::start();
    e.import_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("Dockerfile", "FROM busybox\nARG MSG=default\nRUN echo \"$MSG\" > /msg.txt\nCMD [\"cat\", \"/msg.txt\"]\n")]);
    let script = format!(
        r#"
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path={ctx:?}, tag="py:1", buildargs={{"MSG": "from docker-py"}}, rm=True)
steps = [l["stream"] for l in logs if "stream" in l and l["stream"].startswith("Step ")]
print(len(steps), img.tags, c.containers.run("py:1", remove=True).decode().strip())
try:
    c.images.build(path={ctx:?}, dockerfile="nope")
except docker.errors.APIError as e:
    print("api error:", e.explanation)
except docker.errors.BuildError as e:
    print("build error:", e.msg)
"#,
        ctx = ctx.path().to_str().unwrap()
    );
    let (ok, out, err) = berth_tests::raw_api::docker_py(&e.host(), &script);
    assert!(ok, "{out}\n{err}\n{}", e.daemon_log());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "4 ['py:1'] from docker-py", "{out}");
    assert_eq!(lines[1], "api error: Cannot locate specified Dockerfile: nope", "{out}");
}

/// A client that goes away mid-build: the running step is killed, no container keeps running,
/// nothing is tagged, and the context's scratch directory is gone.
#[test]
fn a_client_that_disconnects_stops_the_build() {
    use std::io::{BufRead, Write};
    let e = Engine::start();
    e.import_busybox();
    let mut b = tar::Builder::new(Vec::new());
    let df = b"FROM busybox\nRUN echo started && sleep 60\nCMD [\"true\"]\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(df.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "Dockerfile", &df[..]).unwrap();
    let ctx = b.into_inner().unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(&e.sock).unwrap();
    write!(s, "POST /v1.41/build?t=gone:1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n", ctx.len()).unwrap();
    s.write_all(&ctx).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let mut r = std::io::BufReader::new(s.try_clone().unwrap());
    let mut seen = String::new();
    while !seen.contains("started") {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "the build ended before its RUN started: {seen}");
        seen.push_str(&l);
    }
    // The RUN is running now; the client goes.
    drop(r);
    s.shutdown(std::net::Shutdown::Both).unwrap();
    drop(s);
    e.eventually(20, "the step container stops", || e.ok(&["ps", "-q"]).trim().is_empty());
    assert_ne!(e.berth(&["inspect", "--type", "image", "gone:1"]).code, 0);
    e.eventually(10, "the context is removed", || {
        std::fs::read_dir(e.data_root().join("builder")).map(|d| d.count() == 0).unwrap_or(true)
    });
}
