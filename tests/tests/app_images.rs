//! The application fixture images of chapter 9 (issue 13) under berthd, each in an Engine
//! sandbox of its own: mysql's environment contract (the three password options and the
//! official image's error without one, MYSQL_DATABASE/USER/PASSWORD, hostile passwords, a data
//! directory initialised once and reused by a new container), tomcat's page and a JSP page from
//! a bind-mounted webapp, and the debian image installing packages with apt from the lab hub's
//! repository — and apt's own error when that repository lacks a dependency. The repository is
//! served inside the sandbox's network namespace at the hub's address (10.1.1.10:80) by a
//! busybox httpd this test starts and kills.

use berth_tests::engine::{fixtures_dir, Engine, Run};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

fn archive(name: &str) -> PathBuf {
    let p = fixtures_dir().join("images").join(format!("{name}.tar"));
    assert!(p.is_file(), "fixture {} is missing: run cargo xtask fixtures", p.display());
    p
}

fn loaded(name: &str) -> Engine {
    let e = Engine::start();
    let out = e.ok(&["load", "-i", archive(name).to_str().unwrap()]);
    assert!(out.contains("Loaded image: "), "{out}");
    e
}

fn exec(e: &Engine, args: &[&str]) -> Run {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    e.berth(&a)
}

/// `SELECT …` through the container's own client over TCP (the server's network listener).
fn sql(e: &Engine, container: &str, user: &str, password: Option<&str>, query: &str) -> Run {
    let pw = password.map(|p| format!("-p{p}"));
    let mut args = vec![container, "mariadb", "-h", "127.0.0.1", "-u", user, "-N", "-B", "-e", query];
    if let Some(p) = &pw {
        args.insert(6, p);
    }
    exec(e, &args)
}

fn wait_sql(e: &Engine, container: &str, user: &str, password: Option<&str>) {
    e.eventually(90, &format!("{container} accepting {user}"), || sql(e, container, user, password, "SELECT 1").code == 0);
}

fn logs(e: &Engine, c: &str) -> String {
    let r = e.berth(&["logs", c]);
    format!("{}{}", r.stdout, r.stderr)
}

#[test]
fn mysql_without_a_password_option_exits_with_the_official_message() {
    let e = loaded("mysql");
    e.ok(&["run", "-d", "--name", "nopw", "mysql:5.6"]);
    e.eventually(60, "nopw exited", || e.ok(&["inspect", "-f", "{{.State.Status}}", "nopw"]).trim() == "exited");
    assert_eq!(e.ok(&["inspect", "-f", "{{.State.ExitCode}}", "nopw"]).trim(), "1");
    let log = logs(&e, "nopw");
    let want = "[ERROR] [Entrypoint]: Database is uninitialized and password option is not specified\n\
                \tYou need to specify one of the following as an environment variable:\n\
                \t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD\n";
    assert!(log.contains(want), "log:\n{log}");
    // MYSQL_USER=root is refused with the official image's words too.
    e.ok(&["run", "-d", "--name", "rootuser", "-e", "MYSQL_ROOT_PASSWORD=x", "-e", "MYSQL_USER=root", "-e", "MYSQL_PASSWORD=y", "mysql"]);
    e.eventually(60, "rootuser exited", || e.ok(&["inspect", "-f", "{{.State.Status}}", "rootuser"]).trim() == "exited");
    assert!(logs(&e, "rootuser").contains("MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user"));
}

#[test]
fn mysql_initialises_once_and_a_new_container_keeps_the_data() {
    let e = loaded("mysql");
    let host = tempfile::tempdir().unwrap();
    let datadir = host.path().join("mysql");
    let vol = format!("{}:/var/lib/mysql", datadir.display());
    // A password the SQL must carry as data: quotes, a backslash, a space, a dollar.
    let pw = "p'w\"d\\ x$y";
    e.ok(&[
        "run", "-d", "--name", "m1", "-v", &vol, "-e", &format!("MYSQL_ROOT_PASSWORD={pw}"), "-e", "MYSQL_DATABASE=school",
        "-e", "MYSQL_USER=teacher", "-e", "MYSQL_PASSWORD=chalk", "mysql:5.6",
    ]);
    wait_sql(&e, "m1", "root", Some(pw));
    let r = sql(&e, "m1", "root", Some(pw), "CREATE TABLE school.student (id INT, name VARCHAR(20)); INSERT INTO school.student VALUES (1, 'zhangsan')");
    assert_eq!(r.code, 0, "{r:?}");
    // The regular user owns MYSQL_DATABASE and nothing else.
    let r = sql(&e, "m1", "teacher", Some("chalk"), "SELECT name FROM school.student");
    assert_eq!((r.code, r.stdout.trim()), (0, "zhangsan"), "{r:?}");
    let r = sql(&e, "m1", "teacher", Some("chalk"), "SELECT user FROM mysql.user");
    assert_ne!(r.code, 0, "teacher must not read mysql.user: {r:?}");
    // No passwordless way in: root over TCP without the password, or a wrong one, is refused.
    assert_ne!(sql(&e, "m1", "root", None, "SELECT 1").code, 0);
    let r = sql(&e, "m1", "root", Some("123"), "SELECT 1");
    assert!(r.stderr.contains("Access denied for user 'root'@'127.0.0.1'"), "{r:?}");
    // The data directory is the host's, owned by the server's uid (999, as the official image).
    assert!(datadir.join("ibdata1").is_file() && datadir.join("school").is_dir());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(datadir.join("ibdata1")).unwrap().uid(), 999);
    let first = logs(&e, "m1");
    assert!(first.contains("Initializing database files") && first.contains("ready for connections"), "{first}");

    // A new container on the same directory, without any password option: not initialised
    // again, the table and root's password are the old ones.
    e.ok(&["rm", "-f", "m1"]);
    e.ok(&["run", "-d", "--name", "m2", "-v", &vol, "mysql:latest"]);
    wait_sql(&e, "m2", "root", Some(pw));
    let r = sql(&e, "m2", "root", Some(pw), "SELECT id, name FROM school.student");
    assert_eq!((r.code, r.stdout.trim()), (0, "1\tzhangsan"), "{r:?}");
    let second = logs(&e, "m2");
    assert!(!second.contains("Initializing database files"), "initialised again:\n{second}");
}

#[test]
fn mysql_empty_and_random_root_passwords() {
    let e = loaded("mysql");
    e.ok(&["run", "-d", "--name", "empty", "-e", "MYSQL_ALLOW_EMPTY_PASSWORD=yes", "mariadb"]);
    wait_sql(&e, "empty", "root", None);
    e.ok(&["run", "-d", "--name", "random", "-e", "MYSQL_RANDOM_ROOT_PASSWORD=1", "mysql:5.6"]);
    e.eventually(90, "the generated password in the log", || logs(&e, "random").contains("GENERATED ROOT PASSWORD: "));
    let log = logs(&e, "random");
    let pw = log.split("GENERATED ROOT PASSWORD: ").nth(1).unwrap().lines().next().unwrap().trim().to_string();
    assert_eq!(pw.len(), 32, "{pw:?}");
    wait_sql(&e, "random", "root", Some(&pw));
    assert_ne!(sql(&e, "random", "root", None, "SELECT 1").code, 0, "random root password, yet no password works");
}

#[test]
fn tomcat_serves_its_page_and_a_mounted_jsp() {
    let e = loaded("tomcat");
    e.ok(&["run", "-d", "--name", "t1", "tomcat:latest"]);
    let page = |c: &str| exec(&e, &[c, "wget", "-qO-", "http://127.0.0.1:8080/"]);
    e.eventually(90, "tomcat's page", || page("t1").code == 0);
    assert!(page("t1").stdout.contains("<h1>Apache Tomcat</h1>"));
    assert!(logs(&e, "t1").contains("Server startup in"), "catalina.sh run logs to the container's output");
    assert_eq!(e.ok(&["inspect", "-f", "{{.Config.WorkingDir}} {{json .Config.Cmd}}", "t1"]).trim(), r#"/usr/local/tomcat ["catalina.sh","run"]"#);

    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("index.jsp"), "<%= \"JSP says \" + (6 * 7) %>\n").unwrap();
    e.ok(&["run", "-d", "--name", "t2", "-v", &format!("{}:/usr/local/tomcat/webapps/ROOT", app.path().display()), "tomcat"]);
    e.eventually(120, "the JSP page", || page("t2").stdout.contains("JSP says 42"));
}

/// busybox httpd serving `dir` at 10.1.1.10:80 inside the sandbox's network namespace; killed
/// (by PID, the child we started) on drop.
struct Mirror(Child);

impl Mirror {
    fn serve(e: &Engine, dir: &Path) -> Mirror {
        // The hub's address on the sandbox's own loopback (up: a down lo has no local routes).
        for args in [&["ip", "link", "set", "lo", "up"][..], &["ip", "addr", "add", "10.1.1.10/32", "dev", "lo"]] {
            let r = e.in_sandbox(args);
            assert_eq!(r.code, 0, "{args:?}: {r:?}");
        }
        let child = e
            .netns_command("busybox")
            .args(["httpd", "-f", "-p", "10.1.1.10:80", "-h"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("busybox (busybox-static) is needed");
        let m = Mirror(child);
        e.eventually(10, "the mirror listening", || {
            e.in_netns(|| std::net::TcpStream::connect("10.1.1.10:80").is_ok())
        });
        m
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repository() -> PathBuf {
    let p = fixtures_dir().join("apt");
    assert!(p.join("debian/dists/bookworm/Release").is_file(), "{} is missing: run cargo xtask fixtures", p.display());
    p
}

#[test]
fn debian_installs_from_the_hub_repository() {
    let e = loaded("debian");
    let _mirror = Mirror::serve(&e, &repository());
    let r = e.berth(&[
        "run", "--rm", "debian:bookworm", "sh", "-c",
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y apache2 && apache2 -v && dpkg -s apache2 | grep '^Status'",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Server version: Apache/2.4"), "{}", r.stdout);
    assert!(r.stdout.contains("Status: install ok installed"), "{}", r.stdout);
    // The image itself is a Debian system dpkg trusts: nothing half-installed, 12 (bookworm).
    let r = e.berth(&["run", "--rm", "debian:12", "sh", "-c", "dpkg --audit && cat /etc/debian_version && ls -l /bin"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("12."), "{}", r.stdout);
    assert!(r.stdout.contains("/bin -> usr/bin"), "merged /usr: {}", r.stdout);
}

#[test]
fn a_repository_missing_a_dependency_gets_apt_s_own_error() {
    let e = loaded("debian");
    // A copy of the repository whose index lacks libapr1, which apache2-bin depends on.
    let broken = tempfile::tempdir().unwrap();
    let src = repository().join("debian");
    let dst = broken.path().join("debian");
    std::fs::create_dir_all(dst.join("dists/bookworm/main/binary-amd64")).unwrap();
    std::os::unix::fs::symlink(src.join("pool"), dst.join("pool")).unwrap();
    let packages = std::fs::read_to_string(src.join("dists/bookworm/main/binary-amd64/Packages")).unwrap();
    let kept: Vec<&str> = packages.split("\n\n").filter(|p| !p.starts_with("Package: libapr1\n")).collect();
    assert_eq!(kept.len() + 1, packages.split("\n\n").count(), "libapr1 was in the index");
    let packages = kept.join("\n\n");
    std::fs::write(dst.join("dists/bookworm/main/binary-amd64/Packages"), &packages).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(packages.as_bytes()));
    let release = std::fs::read_to_string(src.join("dists/bookworm/Release")).unwrap();
    let release: String = release
        .lines()
        .map(|l| if l.ends_with(" main/binary-amd64/Packages") { format!(" {sha} {} main/binary-amd64/Packages", packages.len()) } else { l.to_string() })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(dst.join("dists/bookworm/Release"), release).unwrap();
    let _mirror = Mirror::serve(&e, broken.path());
    let r = e.berth(&["run", "--rm", "debian", "sh", "-c", "apt-get update && apt-get install -y apache2"]);
    assert_eq!(r.code, 100, "apt-get's exit code for an unresolvable install: {r:?}");
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(out.contains("Depends: libapr1") && out.contains("but it is not installable"), "{out}");
    assert!(out.contains("E: Unable to correct problems, you have held broken packages."), "{out}");
}

#[test]
fn a_dockerfile_run_step_installs_from_the_hub_repository() {
    let e = loaded("debian");
    let _mirror = Mirror::serve(&e, &repository());
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM debian:bookworm\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y curl\nCMD [\"curl\", \"--version\"]\n",
    )
    .unwrap();
    let r = e.berth(&["build", "-t", "withcurl", ctx.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}\n--- berthd log:\n{}", e.daemon_log());
    assert!(r.stdout.contains("Step 2/3 : RUN apt-get update"), "{}", r.stdout);
    let r = e.berth(&["run", "--rm", "withcurl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("curl 7.88"), "{}", r.stdout);
}
