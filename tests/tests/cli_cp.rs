//! `cp` both ways with Docker's semantics (`dir` vs `dir/.`, new vs existing destination,
//! `-` tar streams), on running and stopped containers, through berth and the docker CLI.

use std::path::Path;

use berth_tests::engine::{Engine, have_docker};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn tar_names(data: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("x.tar");
    std::fs::write(&t, data).unwrap();
    let o = std::process::Command::new("tar").arg("-tf").arg(&t).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout).lines().map(String::from).collect()
}

#[test]
fn cp_both_directions() {
    let e = Engine::start();
    e.import_busybox();
    let w = tempfile::tempdir().unwrap();
    let w = w.path();
    let p = |n: &str| w.join(n).display().to_string();
    e.ok(&["run", "-d", "--name", "cpc", "-v", &format!("{}:/hostdir", p("bind")), "busybox", "sh", "-c",
           "mkdir -p /data/sub && echo hello > /data/sub/f.txt && ln -s /data/sub/f.txt /data/link && echo b > /hostdir/b && sleep 300"]);
    e.eventually(10, "setup in the container", || e.berth(&["exec", "cpc", "test", "-e", "/hostdir/b"]).code == 0);

    // From the container.
    e.ok(&["cp", "cpc:/data", &p("new")]);
    assert_eq!(read(&w.join("new/sub/f.txt")), "hello\n", "new destination takes the source's place");
    assert_eq!(std::fs::read_link(w.join("new/link")).unwrap().display().to_string(), "/data/sub/f.txt");
    std::fs::create_dir(w.join("existing")).unwrap();
    e.ok(&["cp", "cpc:/data", &p("existing")]);
    assert_eq!(read(&w.join("existing/data/sub/f.txt")), "hello\n", "existing dir receives the source dir");
    std::fs::create_dir(w.join("contents")).unwrap();
    e.ok(&["cp", "cpc:/data/.", &p("contents")]);
    assert_eq!(read(&w.join("contents/sub/f.txt")), "hello\n", "dir/. copies the contents");
    e.ok(&["cp", "cpc:/data/sub/f.txt", &p("renamed.txt")]);
    assert_eq!(read(&w.join("renamed.txt")), "hello\n");
    e.ok(&["cp", "-L", "cpc:/data/link", &p("followed")]);
    assert_eq!(read(&w.join("followed")), "hello\n", "-L copies the link's target");
    e.ok(&["cp", "cpc:/hostdir/b", &p("frombind")]);
    assert_eq!(read(&w.join("frombind")), "b\n", "bind mounts are visible");
    let r = std::process::Command::new(berth_tests::engine::bins().0)
        .args(["cp", "cpc:/data/sub", "-"])
        .env("BERTH_HOST", e.host())
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    assert_eq!(tar_names(&r.stdout), ["sub/", "sub/f.txt"]);

    // Into the container.
    std::fs::write(w.join("host.txt"), "from host\n").unwrap();
    std::fs::create_dir_all(w.join("hdir/inner")).unwrap();
    std::fs::write(w.join("hdir/inner/x"), "x\n").unwrap();
    e.ok(&["cp", &p("host.txt"), "cpc:/tmp/"]);
    e.ok(&["cp", &p("host.txt"), "cpc:/tmp/other.txt"]);
    e.ok(&["cp", &p("hdir"), "cpc:/newdir"]);
    e.ok(&["cp", &p("hdir/."), "cpc:/tmp"]);
    let out = e.ok(&["exec", "cpc", "sh", "-c", "cat /tmp/host.txt /tmp/other.txt /newdir/inner/x /tmp/inner/x; stat -c %u /tmp/host.txt"]);
    assert_eq!(out, "from host\nfrom host\nx\nx\n0\n");
    let tarball = std::fs::read(tar_path(w)).unwrap();
    let r = e.berth_stdin(&["cp", "-", "cpc:/nodir"], Some(&tarball));
    assert_eq!((r.code, r.stderr.as_str()), (1, "destination \"cpc:/nodir\" must be a directory\n"));
    let r = e.berth_stdin(&["cp", "-", "cpc:/tmp"], Some(&tarball));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(e.ok(&["exec", "cpc", "cat", "/tmp/t/x"]), "x\n");

    // Errors as Docker words them.
    let r = e.berth(&["cp", "cpc:/nope", &p("x")]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error response from daemon: Could not find the file /nope in container cpc\n"));
    let r = e.berth(&["cp", "nosuch:/etc", &p("x")]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error response from daemon: No such container: nosuch\n"));
    let r = e.berth(&["cp", &p("hdir"), "cpc:/etc/passwd"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "cannot copy directory\n"));
    let r = e.berth(&["cp", &p("host.txt"), "cpc:/nodir/sub/f"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error response from daemon: Could not find the file /nodir/sub in container cpc\n"));
    std::fs::write(w.join("sub"), "file\n").unwrap();
    let r = e.berth(&["cp", &p("sub"), "cpc:/data"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("Error response from daemon: cannot overwrite directory \"/data/sub\" with non-directory"), "{r:?}");
    let r = e.berth(&["cp", &p("nope"), "cpc:/tmp"]);
    assert_eq!((r.code, r.stderr.clone()), (1, format!("lstat {}: no such file or directory\n", p("nope"))));
    let r = e.berth(&["cp", "cpc:/a", "cpc:/b"]);
    assert_eq!(r.stderr, "copying between containers is not supported\n");

    // A container that never ran: its rootfs is mounted for the copy.
    e.ok(&["create", "--name", "cold", "busybox", "cat", "/host.txt"]);
    e.ok(&["cp", &p("host.txt"), "cold:/"]);
    e.ok(&["cp", "cold:/etc/passwd", &p("cold-passwd")]);
    assert!(read(&w.join("cold-passwd")).starts_with("root:"));
    assert_eq!(e.ok(&["start", "-a", "cold"]), "from host\n");

    if have_docker("the docker cp checks") {
        let r = e.docker(&["cp", "cpc:/data", &p("dnew")]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(read(&w.join("dnew/sub/f.txt")), "hello\n");
        let r = e.docker(&["cp", &p("host.txt"), "cpc:/tmp/docker.txt"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(e.ok(&["exec", "cpc", "cat", "/tmp/docker.txt"]), "from host\n");
        let r = e.docker(&["cp", &p("hdir/."), "cold:/tmp"]);
        assert_eq!(r.code, 0, "{r:?}");
        let r = e.docker(&["cp", "cold:/tmp/inner/x", "-"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.starts_with("x"), "a tar whose first entry is x: {r:?}");
        let r = e.docker(&["cp", "cpc:/nope", &p("y")]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("Could not find the file /nope in container cpc"), "{r:?}");
    }
    e.ok(&["rm", "-f", "cpc", "cold"]);
}

/// A tar with `t/x` made by the system tar (`cp - ctr:/dir` input).
fn tar_path(w: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(w.join("tsrc/t")).unwrap();
    std::fs::write(w.join("tsrc/t/x"), "x\n").unwrap();
    let out = w.join("t.tar");
    let o = std::process::Command::new("tar").arg("-cf").arg(&out).arg("-C").arg(w.join("tsrc")).arg("t").output().unwrap();
    assert!(o.status.success(), "{o:?}");
    out
}
