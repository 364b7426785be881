//! The dispatcher against the fake engine: what each instruction does to the config, which
//! steps make layers, the history/cache strings, the cache itself, build args, stages, and
//! the errors. No root, no daemon.

use std::collections::BTreeMap;
use std::path::Path;

use berth_build::backend::Output;
use berth_build::builder::{read_dockerfile, BuildError, BuildOptions, Builder};
use berth_build::context::Context;
use berth_build::fake::{Collect, Fake};
use berth_storage::ContainerConfig;

/// A RUN that understands `echo WORDS > FILE` (relative to the root) and `exit N`.
fn runner() -> Box<berth_build::fake::RunFn> {
    Box::new(|root: &Path, argv: &[String], out: &mut dyn Output| {
        let script = argv.last().cloned().unwrap_or_default();
        if let Some(n) = script.strip_prefix("exit ") {
            out.stream("failing\n").unwrap();
            return n.trim().parse().unwrap_or(1);
        }
        if let Some((words, file)) = script.strip_prefix("echo ").and_then(|s| s.split_once(" > ")) {
            let p = root.join(file.trim().trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, format!("{words}\n")).unwrap();
        }
        out.stream(&format!("ran {script}\n")).unwrap();
        0
    })
}

struct Case {
    fake: Fake,
    ctx_dir: tempfile::TempDir,
}

impl Case {
    fn new(files: &[(&str, &str)]) -> Case {
        let fake = Fake::new(ContainerConfig { cmd: Some(vec!["sh".into()]), ..Default::default() }, runner());
        let ctx_dir = tempfile::tempdir().unwrap();
        for (n, b) in files {
            let p = ctx_dir.path().join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
        Case { fake, ctx_dir }
    }

    fn build(&self, opts: &BuildOptions) -> (Result<String, BuildError>, String) {
        let ctx = Context::from_dir(self.ctx_dir.path()).unwrap();
        let mut out = Collect::default();
        let r = read_dockerfile(&ctx, &opts.dockerfile).and_then(|df| Builder::new(&self.fake, &ctx, opts, &mut out).build(df)).map(|b| b.image_id);
        (r, out.text)
    }

    fn ok(&self, opts: &BuildOptions) -> (String, String) {
        let (r, text) = self.build(opts);
        (r.unwrap_or_else(|e| panic!("{e}\n{text}")), text)
    }
}

fn tagged(t: &str) -> BuildOptions {
    BuildOptions { tags: vec![t.into()], ..Default::default() }
}

#[test]
fn metadata_steps_make_empty_layers_and_docker_history() {
    let c = Case::new(&[(
        "Dockerfile",
        "FROM busybox\nENV A=1\nENV A=2 B=$A\nLABEL k=v \"x y\"=z\nEXPOSE 80 53/udp\nVOLUME [\"/data\", \"/cache\"]\nUSER 1000:1000\nSTOPSIGNAL SIGINT\nSHELL [\"/bin/ash\", \"-c\"]\nENTRYPOINT echo\nCMD [\"hi\"]\nONBUILD RUN echo child\nMAINTAINER me\n",
    )]);
    let (id, text) = c.ok(&tagged("meta"));
    assert!(text.starts_with("Step 1/13 : FROM busybox\n ---> base\n"), "{text}");
    assert!(text.contains("Step 2/13 : ENV A=1\n ---> Running in "), "{text}");
    assert!(text.ends_with(&format!("Successfully built {}\nSuccessfully tagged meta:latest\n", &id[7..19])), "{text}");
    let img = c.fake.get(&id);
    let cfg = &img.config;
    assert_eq!(cfg.env.as_ref().unwrap(), &vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(), "A=2".into(), "B=1".into()]);
    assert_eq!(cfg.labels.as_ref().unwrap().get("x y").map(String::as_str), Some("z"));
    assert_eq!(cfg.exposed_ports.as_ref().unwrap().keys().collect::<Vec<_>>(), vec!["53/udp", "80/tcp"]);
    assert_eq!(cfg.volumes.as_ref().unwrap().keys().collect::<Vec<_>>(), vec!["/cache", "/data"]);
    assert_eq!(cfg.user, "1000:1000");
    assert_eq!(cfg.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(cfg.shell.as_ref().unwrap(), &vec!["/bin/ash".to_string(), "-c".into()]);
    // ENTRYPOINT in shell form uses the SHELL; CMD after it stays.
    assert_eq!(cfg.entrypoint.as_ref().unwrap(), &vec!["/bin/ash".to_string(), "-c".into(), "echo".into()]);
    assert_eq!(cfg.cmd.as_ref().unwrap(), &vec!["hi".to_string()]);
    assert_eq!(cfg.on_build.as_ref().unwrap(), &vec!["RUN echo child".to_string()]);
    assert_eq!(img.author, "me");
    let h = c.fake.history(&id);
    assert!(h.iter().all(|(_, layer)| !layer), "metadata steps make no layer: {h:?}");
    let names: Vec<&str> = h.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "/bin/sh -c #(nop)  ENV A=1",
            "/bin/sh -c #(nop)  ENV A=2 B=1",
            "/bin/sh -c #(nop)  LABEL k=v x y=z",
            "/bin/sh -c #(nop)  EXPOSE 53/udp 80", // buildkit's parser sorts the words
            "/bin/sh -c #(nop)  VOLUME [/data /cache]",
            "/bin/sh -c #(nop)  USER 1000:1000",
            "/bin/sh -c #(nop)  STOPSIGNAL SIGINT",
            // The new SHELL already names its own step.
            "/bin/ash -c #(nop)  SHELL [/bin/ash -c]",
            "/bin/ash -c #(nop)  ENTRYPOINT [\"/bin/ash\" \"-c\" \"echo\"]",
            "/bin/ash -c #(nop)  CMD [\"hi\"]",
            "/bin/ash -c #(nop)  ONBUILD RUN echo child",
            "/bin/ash -c #(nop)  MAINTAINER me",
        ]
    );
    assert!(c.fake.live().is_empty(), "step containers removed: {:?}", c.fake.live());
}

#[test]
fn run_copy_and_workdir_make_layers_and_the_cache_holds() {
    let c = Case::new(&[
        ("Dockerfile", "FROM busybox\nWORKDIR /app\nCOPY a.txt .\nCOPY --chown=app sub /srv/\nRUN echo built > /app/out.txt\nARG V=1\nRUN echo $V > v.txt\n"),
        ("a.txt", "A"),
        ("sub/s.txt", "S"),
    ]);
    let (id, text) = c.ok(&tagged("files"));
    let h = c.fake.history(&id);
    let layers: Vec<bool> = h.iter().map(|(_, l)| *l).collect();
    assert_eq!(layers, vec![true, true, true, true, false, true], "{h:?}");
    assert_eq!(h[0].0, "/bin/sh -c #(nop) WORKDIR /app");
    assert!(h[1].0.starts_with("/bin/sh -c #(nop) COPY file:") && h[1].0.ends_with(" in . "), "{h:?}");
    assert!(h[2].0.starts_with("/bin/sh -c #(nop) COPY --chown=appdir:") && h[2].0.ends_with(" in /srv/ "), "{h:?}");
    assert_eq!(h[3].0, "/bin/sh -c echo built > /app/out.txt");
    assert_eq!(h[4].0, "/bin/sh -c #(nop)  ARG V=1");
    assert_eq!(h[5].0, "|1 V=1 /bin/sh -c echo $V > v.txt");
    let root = c.fake.image_root(&id);
    assert_eq!(std::fs::read_to_string(root.join("app/a.txt")).unwrap(), "A");
    assert_eq!(std::fs::read_to_string(root.join("srv/s.txt")).unwrap(), "S");
    assert!(text.contains("ran echo built > /app/out.txt\n"), "{text}");
    // The RUN saw its build arg in the environment, and no ENTRYPOINT.
    assert_eq!(c.fake.runs()[1], vec!["/bin/sh".to_string(), "-c".into(), "echo $V > v.txt".into()]);

    // Again: every step from cache, the same image.
    let (id2, text2) = c.ok(&tagged("files"));
    assert_eq!(id2, id);
    assert_eq!(text2.matches(" ---> Using cache\n").count(), 6, "{text2}");
    assert_eq!(c.fake.runs().len(), 2, "no RUN ran again");
    // A different build arg: cached up to the RUN that uses it.
    let mut o = tagged("files");
    o.build_args = BTreeMap::from([("V".to_string(), Some("2".to_string()))]);
    let (id3, text3) = c.ok(&o);
    assert_ne!(id3, id);
    assert_eq!(text3.matches(" ---> Using cache\n").count(), 5, "{text3}");
    assert_eq!(c.fake.history(&id3)[5].0, "|1 V=2 /bin/sh -c echo $V > v.txt");
    // --no-cache: nothing from cache.
    let (_, text4) = c.ok(&BuildOptions { no_cache: true, ..tagged("files") });
    assert!(!text4.contains("Using cache"), "{text4}");
}

#[test]
fn errors_and_what_is_left() {
    let c = Case::new(&[("Dockerfile", "FROM busybox\nRUN exit 3\n")]);
    let (r, text) = c.build(&tagged("x"));
    match r {
        Err(BuildError::Run { message, code }) => {
            assert_eq!(code, 3);
            assert_eq!(message, "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
        }
        other => panic!("{other:?}"),
    }
    assert!(text.contains("failing\n"));
    assert!(c.fake.tagged("x:latest").is_none());
    assert_eq!(c.fake.live().len(), 1, "the failed step's container stays (classic builder)");
    let (r, _) = c.build(&BuildOptions { force_remove: true, ..tagged("x") });
    assert!(r.is_err());
    assert_eq!(c.fake.live().len(), 1, "--force-rm removed the new one");

    let c = Case::new(&[("Dockerfile", "RUN true\n")]);
    assert_eq!(c.build(&tagged("x")).0.unwrap_err().to_string(), "no build stage in current context");
    let c = Case::new(&[("Dockerfile", "")]);
    assert_eq!(c.build(&tagged("x")).0.unwrap_err().to_string(), "the Dockerfile (Dockerfile) cannot be empty");
    let c = Case::new(&[]);
    assert_eq!(c.build(&tagged("x")).0.unwrap_err().to_string(), "Cannot locate specified Dockerfile: Dockerfile");
    let c = Case::new(&[("Dockerfile", "FROM busybox\nCOPY a b /x\n"), ("a", ""), ("b", "")]);
    assert_eq!(
        c.build(&tagged("x")).0.unwrap_err().to_string(),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    let c = Case::new(&[("Dockerfile", "FROM busybox AS a\nFROM busybox\n")]);
    assert_eq!(
        c.build(&BuildOptions { target: Some("nope".into()), ..tagged("x") }).0.unwrap_err().to_string(),
        "failed to reach build target nope in Dockerfile"
    );
}

#[test]
fn stages_copy_from_and_triggers() {
    let c = Case::new(&[(
        "Dockerfile",
        "ARG BASE=busybox\nFROM $BASE AS one\nRUN echo made > /out/made.txt\nFROM busybox\nCOPY --from=one /out/made.txt /got.txt\nCOPY --from=0 /out /again/\n",
    )]);
    let (id, text) = c.ok(&tagged("ms"));
    assert!(text.starts_with("Step 1/6 : ARG BASE=busybox\nStep 2/6 : FROM $BASE AS one\n"), "{text}");
    let root = c.fake.image_root(&id);
    assert_eq!(std::fs::read_to_string(root.join("got.txt")).unwrap(), "made\n");
    assert_eq!(std::fs::read_to_string(root.join("again/made.txt")).unwrap(), "made\n");
    assert!(c.fake.live().is_empty(), "{:?}", c.fake.live());

    // ONBUILD triggers run right after FROM of the image that declared them.
    let c = Case::new(&[("Dockerfile", "FROM busybox\nONBUILD RUN echo trig > /t.txt\n")]);
    let (parent, _) = c.ok(&tagged("parent"));
    let _ = parent;
    std::fs::write(c.ctx_dir.path().join("Dockerfile"), "FROM parent\nENV X=1\n").unwrap();
    let (child, text) = c.ok(&tagged("child"));
    assert!(text.contains("# Executing 1 build trigger\n"), "{text}");
    assert_eq!(std::fs::read_to_string(c.fake.image_root(&child).join("t.txt")).unwrap(), "trig\n");
    assert!(c.fake.get(&child).config.on_build.as_ref().is_none_or(|v| v.is_empty()));
}

#[test]
fn labels_option_is_a_last_step() {
    let c = Case::new(&[("Dockerfile", "FROM busybox\n")]);
    let o = BuildOptions { labels: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "one".into())]), ..tagged("l") };
    let (id, text) = c.ok(&o);
    assert!(text.contains("Step 2/2 : LABEL \"a\"='one' \"b\"='2'\n"), "{text}");
    let l = c.fake.get(&id).config.labels.unwrap();
    assert_eq!(l.get("a").map(String::as_str), Some("one"));
}

/// A context as the docker CLI sends it: a tar of `files`, unpacked into a directory of its own.
fn tar_context(files: &[(&str, &str)], dir: &Path) -> Context {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o100644);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    Context::from_tar(&b.into_inner().unwrap()[..], &dir.join("ctx")).unwrap()
}

/// What Docker 20.10 showed the build differential test (tests/tests/build_differential.rs),
/// kept here where no oracle is needed.
#[test]
fn step_configs_are_what_dockerds_create_leaves() {
    let c = Case::new(&[(
        "Dockerfile",
        "FROM busybox\nHEALTHCHECK --interval=30s --retries=2 CMD [\"true\"]\nHEALTHCHECK NONE\nWORKDIR /srv/x/../app\nENV A=1\n",
    )]);
    let (id, text) = c.ok(&tagged("h"));
    assert!(text.contains("Note: overriding previous HEALTHCHECK: [CMD true]\n"), "{text}");
    let img = c.fake.get(&id);
    // The step's Healthcheck is the stage's: filled from the parent image at create.
    let merged = serde_json::json!({"Test": ["NONE"], "Interval": 30_000_000_000u64, "Retries": 2});
    assert_eq!(img.config.healthcheck.as_ref(), Some(&merged));
    assert_eq!(img.container_config.healthcheck.as_ref(), Some(&merged));
    // WORKDIR as written in the image, cleaned in the step container's config.
    assert_eq!(img.config.working_dir, "/srv/x/../app");
    assert_eq!(img.container_config.working_dir, "/srv/app");
    // The base has no labels: null in the image, {} in the container config (moby's merge).
    assert_eq!(img.config.labels, None);
    assert_eq!(img.container_config.labels, Some(BTreeMap::new()));
    let last = text.lines().rev().find_map(|l| l.strip_prefix(" ---> Running in ")).unwrap();
    assert_eq!(img.container_config.hostname, last);
    // Docker 20.10's cache compare ignores Healthcheck: the rebuild is all cache.
    let (id2, text2) = c.ok(&tagged("h"));
    assert_eq!(id2, id);
    assert_eq!(text2.matches(" ---> Using cache\n").count(), 4, "{text2}");
}

#[test]
fn run_keys_triggers_and_dockerignored_dockerfiles() {
    // A proxy build arg reaches RUN but not its cache key, unless an ARG declares it.
    let c = Case::new(&[("Dockerfile", "FROM busybox\nARG WHO=x\nRUN echo $WHO > /a\nARG HTTP_PROXY\nRUN echo p > /b\n")]);
    let o = BuildOptions { build_args: BTreeMap::from([("HTTP_PROXY".to_string(), Some("http://p:3128".to_string()))]), ..tagged("r") };
    let (id, _) = c.ok(&o);
    let h = c.fake.history(&id);
    assert_eq!(h[1].0, "|1 WHO=x /bin/sh -c echo $WHO > /a");
    assert_eq!(h[3].0, "|2 HTTP_PROXY=http://p:3128 WHO=x /bin/sh -c echo p > /b");

    // FROM with triggers: the image ID is printed once, after them.
    let c = Case::new(&[("Dockerfile", "FROM busybox\nONBUILD ENV T=1\n")]);
    c.ok(&tagged("parent"));
    std::fs::write(c.ctx_dir.path().join("Dockerfile"), "FROM parent\n").unwrap();
    let (child, text) = c.ok(&tagged("child"));
    assert!(text.starts_with("Step 1/1 : FROM parent\n# Executing 1 build trigger\n ---> Running in "), "{text}");
    assert!(text.ends_with(&format!(" ---> {}\nSuccessfully built {}\nSuccessfully tagged child:latest\n", &child[7..19], &child[7..19])), "{text}");

    // .dockerignore naming the Dockerfile and itself: both leave the context once read.
    let t = tempfile::tempdir().unwrap();
    let ctx = tar_context(&[("Dockerfile", "FROM busybox\nCOPY . /ctx/\n"), (".dockerignore", "Dockerfile\n.dockerignore\n"), ("a.txt", "a")], t.path());
    let df = read_dockerfile(&ctx, "Dockerfile").unwrap();
    assert!(!ctx.dir().join("Dockerfile").exists() && !ctx.dir().join(".dockerignore").exists());
    let fake = Fake::new(ContainerConfig::default(), runner());
    let mut out = Collect::default();
    let id = Builder::new(&fake, &ctx, &tagged("i"), &mut out).build(df).unwrap().image_id;
    let root = fake.image_root(&id);
    assert!(root.join("ctx/a.txt").exists() && !root.join("ctx/Dockerfile").exists(), "{out:?}", out = out.text);
    // A directory given as is (not a client's tar) is never changed.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    std::fs::write(d.path().join(".dockerignore"), "Dockerfile\n").unwrap();
    read_dockerfile(&Context::from_dir(d.path()).unwrap(), "Dockerfile").unwrap();
    assert!(d.path().join("Dockerfile").exists());
}
