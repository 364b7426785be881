//! The lab hub (issue 7): a lab host running the real distribution registry (Debian's
//! `docker-registry`) that holds every fixture image. Every other host of a lab has
//! `"registry-mirrors": ["http://<hub address>:5000"]` in its daemon.json, so `docker pull
//! busybox` works offline in every lab, exactly as through a registry mirror.
//!
//! The hub also serves the fixtures' Debian package repository (`<fixtures>/apt`, shown
//! read-only at `/run/berth-lab/apt`) over HTTP on port 80 with busybox's httpd: the debian
//! image's apt sources name `http://<hub>/debian`, so `apt-get install` works in a container or
//! a Dockerfile `RUN` step with nothing beyond the lab's LAN. Without a repository the server
//! serves an empty tree, and apt says what it says when a mirror lacks its files.
//!
//! Each lab's hub serves a copy-on-write view of one shared registry storage: built once per
//! fixture set by [`super::hub_cache`] (every image pushed by berth through the real protocol),
//! shown read-only at `/run/berth-lab/hub` and overlaid (upper on a tmpfs of the hub's own) at
//! Debian's `/var/lib/docker-registry`. The registry runs in the hub's namespaces and cgroup, so
//! `reset` removes it with the host.

use super::{HostError, VirtualLab};
use std::path::Path;
use std::time::{Duration, Instant};

/// The hub's registry port (`http://<hub>:5000` is the mirror URL).
pub const HUB_PORT: u16 = 5000;
pub(super) const REGISTRY_DIR: &str = "/tmp/berth-hub-registry";

/// Where a hub host sees the shared registry storage (read-only).
pub const STORAGE_DIR: &str = "/run/berth-lab/hub";

/// Where a hub host sees the Debian package repository (read-only), and the port it is served on.
pub const APT_DIR: &str = "/run/berth-lab/apt";
pub const APT_PORT: u16 = 80;

/// The hub's second service: the package repository over HTTP (busybox httpd, the machine's
/// busybox-static), ready once port 80 answers. A lab without a repository gets an empty one.
pub fn packages_service(host: &str, ip: &str) -> crate::catalog::Service {
    let start = format!(
        "d={APT_DIR}; if [ ! -d $d ]; then d=/run/hub-no-packages; mkdir -p $d; fi; \
exec busybox httpd -f -p {APT_PORT} -h $d"
    );
    let ready = serde_json::json!([
        { "kind": "tcp", "from": host, "to": format!("{ip}:{APT_PORT}") },
    ]);
    crate::catalog::Service {
        name: "packages".into(),
        start,
        ready: serde_json::from_value(ready).expect("packages ready check is valid"),
        timeout_secs: 10.0,
    }
}

/// The hub's registry service (the implicit hub host's only service): the copy-on-write
/// storage, Debian's config path, `docker-registry serve`; ready once port 5000 answers.
pub fn service(host: &str, ip: &str) -> crate::catalog::Service {
    let config = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        "    rootdirectory: /var/lib/docker-registry",
        "  delete:",
        "    enabled: true",
        "http:",
        &format!("  addr: 0.0.0.0:{HUB_PORT}"),
        "  secret: berth-lab-hub",
        "  headers:",
        "    X-Content-Type-Options: [nosniff]",
    ]
    .map(|l| format!("'{l}'"))
    .join(" ");
    // The upper dir lives on a tmpfs in the hub's mount namespace: it works whatever the state
    // dir's filesystem is, and vanishes with the host.
    let start = format!(
        "mkdir -p /run/hub-rw /var/lib/docker-registry /etc/docker/registry && \
mount -t tmpfs -o mode=0755 hub-rw /run/hub-rw && mkdir /run/hub-rw/upper /run/hub-rw/work && \
mount -t overlay hub -o lowerdir={STORAGE_DIR},upperdir=/run/hub-rw/upper,workdir=/run/hub-rw/work /var/lib/docker-registry && \
printf '%s\\n' {config} > /etc/docker/registry/config.yml && \
exec docker-registry serve /etc/docker/registry/config.yml"
    );
    let ready = serde_json::json!([
        { "kind": "tcp", "from": host, "to": format!("{ip}:{HUB_PORT}") },
        { "kind": "process", "host": host, "cmdline": "^docker-registry serve " },
    ]);
    crate::catalog::Service {
        name: "registry".into(),
        start,
        ready: serde_json::from_value(ready).expect("hub ready checks are valid"),
        timeout_secs: 30.0,
    }
}

/// The daemon.json every other host starts with.
pub fn daemon_json(hub_ip: &str) -> String {
    format!("{{\"registry-mirrors\": [\"http://{hub_ip}:{HUB_PORT}\"]}}\n")
}

/// `registry-mirrors` entry for the other hosts: `http://10.1.1.10:5000`.
pub fn mirror_url(vl: &VirtualLab, hub: &str) -> Result<String, HostError> {
    let h = vl.host_state(hub)?;
    let ip = h.address.split('/').next().unwrap_or(&h.address);
    Ok(format!("http://{ip}:{HUB_PORT}"))
}

/// The fixture images to publish: every `<name>.tar` in `images_dir`, sorted.
pub fn fixture_images(images_dir: &Path) -> Result<Vec<String>, HostError> {
    let mut names: Vec<String> = std::fs::read_dir(images_dir)
        .map_err(super::io(images_dir))?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".tar")
                .map(String::from)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Starts the registry on `hub` (whose berthd must be running) and pushes every fixture image
/// there as `library/<repo>:<tag>`. Returns the references pushed (`busybox:latest`, …).
pub fn provision_hub(
    vl: &VirtualLab,
    hub: &str,
    images_dir: &Path,
) -> Result<Vec<String>, HostError> {
    let images = fixture_images(images_dir)?;
    start_registry(vl, hub)?;
    let mut pushed = Vec::new();
    for name in images {
        let archive = format!("{}/{name}.tar", super::init::IMAGES_DIR);
        let out = run_ok(
            vl,
            hub,
            &format!("berth load -i {archive}"),
            Duration::from_secs(120),
        )?;
        // One archive is one image: its first name is pushed, the others are that manifest
        // put under more names (a push per name would compress every layer again).
        let mut first: Option<(String, String)> = None;
        for loaded in out.lines().filter_map(|l| l.strip_prefix("Loaded image: ")) {
            let (repo, tag) = loaded.rsplit_once(':').unwrap_or((loaded, "latest"));
            // Docker Hub names: `busybox` is `library/busybox` on the wire.
            let path = if repo.contains('/') {
                repo.to_string()
            } else {
                format!("library/{repo}")
            };
            match &first {
                None => {
                    let target = format!("127.0.0.1:{HUB_PORT}/{path}:{tag}");
                    run_ok(
                        vl,
                        hub,
                        &format!(
                            "berth tag {loaded} {target} && berth push {target} && berth rmi {target}"
                        ),
                        Duration::from_secs(300),
                    )?;
                    first = Some((path, tag.to_string()));
                }
                Some((from_path, from_tag)) => {
                    let pid = vl.host_state(hub)?.init.as_ref().map(|p| p.pid);
                    let (from, to) = ((from_path.clone(), from_tag.clone()), (path.clone(), tag.to_string()));
                    let copied = crate::checks::netns::in_netns(&vl.config.proc_root, pid, move || {
                        super::registry_tags::copy(
                            &format!("127.0.0.1:{HUB_PORT}"),
                            (&from.0, &from.1),
                            (&to.0, &to.1),
                        )
                    });
                    copied.and_then(|r| r).map_err(|e| {
                        HostError::Helper(format!("hub {hub}: tagging {loaded} in the registry: {e}"))
                    })?;
                }
            }
            pushed.push(format!("{repo}:{tag}"));
        }
    }
    Ok(pushed)
}

fn run_ok(vl: &VirtualLab, host: &str, cmd: &str, timeout: Duration) -> Result<String, HostError> {
    let out = vl.run(host, cmd, timeout)?;
    if out.status != 0 {
        return Err(HostError::Helper(format!(
            "hub {host}: `{cmd}` failed ({}): {}{}",
            out.status,
            out.stdout.trim(),
            out.stderr.trim()
        )));
    }
    Ok(out.stdout)
}

fn start_registry(vl: &VirtualLab, hub: &str) -> Result<(), HostError> {
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {REGISTRY_DIR}/storage\n  delete:\n    enabled: true\nhttp:\n  addr: 0.0.0.0:{HUB_PORT}\n  secret: berth-lab-hub\n"
    );
    let cmd = format!(
        "mkdir -p {REGISTRY_DIR}/storage && cat > {REGISTRY_DIR}/config.yml <<'EOF'\n{config}EOF\nsetsid docker-registry serve {REGISTRY_DIR}/config.yml >{REGISTRY_DIR}/registry.log 2>&1 </dev/null &"
    );
    run_ok(vl, hub, &cmd, Duration::from_secs(10))?;
    let pid = vl
        .host_state(hub)?
        .init
        .as_ref()
        .map(|p| p.pid)
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !listening(&vl.config.proc_root, pid) {
        if Instant::now() >= deadline {
            let log = vl
                .run(
                    hub,
                    &format!("cat {REGISTRY_DIR}/registry.log"),
                    Duration::from_secs(5),
                )
                .map(|o| o.stdout)
                .unwrap_or_default();
            return Err(HostError::Helper(format!(
                "hub {hub}: docker-registry did not listen on port {HUB_PORT} within 15 s: {}",
                log.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Connects to 127.0.0.1:5000 from a thread inside the host's network namespace.
fn listening(proc_root: &Path, pid: i32) -> bool {
    let Ok(ns) = std::fs::File::open(proc_root.join(pid.to_string()).join("ns/net")) else {
        return false;
    };
    std::thread::spawn(move || {
        // Network namespaces are per thread: only this short-lived thread moves.
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", HUB_PORT)).is_ok()
    })
    .join()
    .unwrap_or(false)
}
