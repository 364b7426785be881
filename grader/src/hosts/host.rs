//! One virtual host: its directories, cgroups and the helper holding its namespaces.

use super::{io, HostError, HostState, Proc, VirtualLab};
use crate::catalog::{HostSpec, Lab, Service};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BASHRC: &str = "\
# A lab host's root shell: look like the course's machines.
PS1='[\\u@\\h \\W]\\$ '
alias ll='ls -l'
";

/// v1 hierarchies a host gets its own cgroup in (those present on this machine).
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu"];

fn mkdir(p: &Path) -> Result<(), HostError> {
    std::fs::create_dir_all(p).map_err(io(p))
}

/// Creates the host's cgroups (recording each before creating it) and returns the
/// `cgroup.procs` files its processes join.
fn cgroups(vl: &mut VirtualLab, lab_cg: &str, host: &str) -> Result<Vec<PathBuf>, HostError> {
    let root = vl.config.cgroup_root.clone();
    let mut procs = Vec::new();
    let v1: Vec<&str> = V1_CONTROLLERS
        .iter()
        .copied()
        .filter(|c| root.join(c).join("cgroup.procs").exists())
        .collect();
    let create = |vl: &mut VirtualLab, d: PathBuf| -> Result<(), HostError> {
        if !vl.state.cgroups.contains(&d) {
            vl.state.cgroups.push(d.clone());
            vl.state.save().map_err(io(&vl.state.dir))?;
        }
        mkdir(&d)
    };
    if !v1.is_empty() {
        // The host's berthd puts containers below the host's cgroup (--cgroup-parent
        // /$BERTH_CGROUP) in every hierarchy it uses, also those the host itself does not
        // join: record the lab's dir there too, so reset sweeps whatever was created in them.
        let others = std::fs::read_dir(&root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|c| {
                        !v1.contains(&c.as_str()) && root.join(c).join("cgroup.procs").exists()
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for c in others {
            let d = root.join(c).join(lab_cg);
            if !vl.state.cgroups.contains(&d) {
                vl.state.cgroups.push(d);
                vl.state.save().map_err(io(&vl.state.dir))?;
            }
        }
        for c in v1 {
            create(vl, root.join(c).join(lab_cg))?;
            let d = root.join(c).join(lab_cg).join(host);
            create(vl, d.clone())?;
            procs.push(d.join("cgroup.procs"));
        }
    } else if root.join("cgroup.controllers").exists() {
        // v2: processes only in leaves, so the host's own processes sit in <host>/init and the
        // host's cgroup itself stays free for the student's child cgroups.
        let lab_dir = root.join(lab_cg);
        create(vl, lab_dir.clone())?;
        let _ = std::fs::write(lab_dir.join("cgroup.subtree_control"), "+memory +pids");
        create(vl, lab_dir.join(host))?;
        let _ = std::fs::write(
            lab_dir.join(host).join("cgroup.subtree_control"),
            "+memory +pids",
        );
        create(vl, lab_dir.join(host).join("init"))?;
        procs.push(lab_dir.join(host).join("init/cgroup.procs"));
    }
    Ok(procs)
}

pub(super) fn start(
    vl: &mut VirtualLab,
    lab: &Lab,
    h: &HostSpec,
    lab_cg: &str,
    hub_storage: Option<&Path>,
) -> Result<(), HostError> {
    let dir = vl.state.dir.join("hosts").join(&h.name);
    for d in ["root", "tmp", "run", "var-lib-berth"] {
        mkdir(&dir.join(d))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .map_err(io(dir.join("tmp")))?;
    std::fs::write(dir.join("root/.bashrc"), BASHRC).map_err(io(dir.join("root/.bashrc")))?;
    let mut hosts = String::from("127.0.0.1\tlocalhost\n");
    for o in &lab.hosts {
        let ip = o.address.split('/').next().unwrap_or_default();
        if o.hostname() == o.name {
            hosts += &format!("{ip}\t{}\n", o.name);
        } else {
            hosts += &format!("{ip}\t{} {}\n", o.hostname(), o.name);
        }
    }
    std::fs::write(dir.join("hosts"), hosts).map_err(io(dir.join("hosts")))?;
    vl.state.hosts.push(HostState {
        name: h.name.clone(),
        hostname: h.hostname().to_string(),
        address: h.address.clone(),
        init: None,
        ns: Default::default(),
        cgroup: format!("{lab_cg}/{}", h.name),
        procs_files: vec![],
        dir: dir.clone(),
        veth: ("eth0".into(), h.name.clone()),
        mounts: [
            "/etc",
            "/var/lib",
            "/var/lib/berth",
            "/root",
            "/run",
            "/tmp",
            "/proc",
        ]
        .map(String::from)
        .to_vec(),
    });
    let procs = cgroups(vl, lab_cg, &h.name)?;
    let lan_pid = vl
        .state
        .lan
        .as_ref()
        .map(|p| p.pid)
        .ok_or_else(|| HostError::Helper("no LAN".into()))?;
    let mut cmd = Command::new(&vl.config.helper);
    cmd.args([
        "host",
        "--tag",
        &vl.state.tag,
        "--name",
        &h.name,
        "--hostname",
        h.hostname(),
    ])
    .args([
        "--dir",
        &dir.display().to_string(),
        "--lan-pid",
        &lan_pid.to_string(),
        "--address",
        &h.address,
    ]);
    for p in &procs {
        cmd.arg("--procs").arg(p);
    }
    if let Some(bin) = vl
        .config
        .helper
        .canonicalize()
        .ok()
        .and_then(|h| h.parent().map(Path::to_path_buf))
    {
        cmd.arg("--bin-dir").arg(bin);
    }
    if vl.state.lab_dir.is_dir() {
        cmd.arg("--lab-dir").arg(&vl.state.lab_dir);
    }
    if let Some(d) = vl.config.images_dir.as_ref().filter(|d| d.is_dir()) {
        cmd.arg("--images-dir").arg(d);
    }
    if let Some(d) = hub_storage {
        cmd.arg("--hub-dir").arg(d);
        // The hub also serves the Debian package repository (when the fixtures have one).
        if let Some(apt) = vl.config.apt_repo() {
            cmd.arg("--apt-dir").arg(apt);
        }
    }
    let pid = super::lan::spawn_helper(cmd, &format!("host {}", h.name), Duration::from_secs(10))?;
    let proc_root = vl.config.proc_root.clone();
    let hs = vl.state.hosts.last_mut().expect("pushed above");
    hs.init = Proc::of(&proc_root, pid);
    hs.procs_files = procs;
    for ns in ["net", "mnt", "uts", "ipc", "pid"] {
        if let Ok(i) = crate::checks::procfs::ns_inode(&proc_root, pid, ns) {
            hs.ns.insert(ns.into(), i);
        }
    }
    let dead = hs.init.is_none();
    vl.state.save().map_err(io(&vl.state.dir))?;
    if dead {
        return Err(HostError::HostDead {
            lab: lab.id.clone(),
            host: h.name.clone(),
        });
    }
    Ok(())
}

/// Starts a service detached inside the host and waits until its readiness checks hold.
pub(super) fn start_service(
    vl: &VirtualLab,
    lab: &Lab,
    h: &HostSpec,
    s: &Service,
) -> Result<(), HostError> {
    let log = format!("/run/{}.log", s.name);
    let cmd = format!(
        "setsid sh -c '{}' >{log} 2>&1 </dev/null &",
        s.start.replace('\'', "'\\''")
    );
    let out = vl.run(&h.name, &cmd, Duration::from_secs(10))?;
    if out.status != 0 {
        return Err(HostError::Helper(format!(
            "starting service {} on {}: {}",
            s.name,
            h.name,
            out.stderr.trim()
        )));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(s.timeout_secs);
    loop {
        let ctx = crate::runner::ctx_for(vl, lab, Default::default());
        let failing: Vec<String> = s
            .ready
            .iter()
            .filter_map(|c| match c.probe(&ctx) {
                crate::checks::Outcome::Pass { .. } => None,
                crate::checks::Outcome::Fail { expected, observed } => {
                    Some(format!("{expected}: {observed}"))
                }
            })
            .collect();
        if failing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HostError::Helper(format!(
                "service {} on {} not ready after {}s ({}); its log is {log} on the host",
                s.name,
                h.name,
                s.timeout_secs,
                failing.join("; ")
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
