//! The OCI runtime spec (`config.json`) for a container: image config merged with the
//! container's Config/HostConfig, Docker's default mounts, capabilities and resources.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::container::config::HostConfig;
use crate::container::record::Container;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid mount config: {0}")]
    Mount(String),
    /// A volume name the local driver refuses (Docker's text, no prefix).
    #[error("{0}")]
    VolumeName(String),
    /// A resource value that can't be converted for the runtime (a record from before the
    /// create-time checks of `HostConfig::verify_resources`).
    #[error("{0}")]
    Resource(String),
    #[error("unknown capability: \"{0}\"")]
    Capability(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A resolved user: uid, gid, supplementary gids and home directory.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Resolve `user[:group]` (names or numbers) against the rootfs' /etc/passwd and /etc/group.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<User, SpecError> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| {
        f.len() >= 7 && (f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u))
    });
    let (uid, mut gid, home) = match (&entry, u.parse::<u32>()) {
        (Some(f), _) => (f[2].parse().unwrap_or(0), f[3].parse().unwrap_or(0), f[5].to_string()),
        (None, Ok(n)) => (n, n, "/".to_string()),
        (None, Err(_)) => return Err(SpecError::NoUser(u.to_string())),
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| SpecError::NoGroup(g.to_string()))?,
        };
    }
    let name = entry.as_ref().map(|f| f[0].to_string());
    let additional_gids = match (&name, g) {
        (Some(n), None) => group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == n))
            .filter_map(|f| f[2].parse().ok())
            .filter(|x| *x != gid)
            .collect(),
        _ => vec![],
    };
    Ok(User { uid, gid, additional_gids, home: if home.is_empty() { "/".into() } else { home } })
}

/// Environment: image env, then container env overriding by key; PATH, HOSTNAME, HOME, TERM.
pub fn merge_env(image_env: &[String], container_env: &[String], hostname: &str, home: &str, tty: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let key = |s: &str| s.split('=').next().unwrap_or("").to_string();
    let mut set = |kv: String| {
        let k = key(&kv);
        if let Some(slot) = out.iter_mut().find(|e| key(e) == k) {
            *slot = kv;
        } else {
            out.push(kv);
        }
    };
    set(DEFAULT_PATH.to_string());
    set(format!("HOSTNAME={hostname}"));
    if tty {
        set("TERM=xterm".into());
    }
    for e in image_env.iter().chain(container_env) {
        set(e.clone());
    }
    if !out.iter().any(|e| key(e) == "HOME") {
        out.push(format!("HOME={home}"));
    }
    out
}

fn caps(hc: &HostConfig) -> Result<Vec<String>, SpecError> {
    if hc.privileged {
        return Ok(ALL_CAPS.iter().map(|s| s.to_string()).collect());
    }
    let norm = |c: &str| {
        let u = c.to_ascii_uppercase();
        if u == "ALL" { u } else if u.starts_with("CAP_") { u } else { format!("CAP_{u}") }
    };
    let mut set: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    for c in hc.cap_drop.iter().flatten() {
        let c = norm(c);
        if c == "ALL" {
            set.clear();
        } else if !ALL_CAPS.contains(&c.as_str()) {
            return Err(SpecError::Capability(c));
        } else {
            set.retain(|x| *x != c);
        }
    }
    for c in hc.cap_add.iter().flatten() {
        let c = norm(c);
        if c == "ALL" {
            set = ALL_CAPS.iter().map(|s| s.to_string()).collect();
        } else if !ALL_CAPS.contains(&c.as_str()) {
            return Err(SpecError::Capability(c));
        } else if !set.contains(&c) {
            set.push(c);
        }
    }
    Ok(set)
}

/// `linux.resources` from the HostConfig. The create-time checks (`verify_resources`) keep
/// values in range; conversions are checked anyway (a record may predate them), so nothing
/// overflows or reaches the cgroup files wrapped.
fn resources(hc: &HostConfig) -> Result<Value, SpecError> {
    let mut r = serde_json::Map::new();
    r.insert("devices".into(), json!([{"allow": false, "access": "rwm"}]));
    let mut mem = serde_json::Map::new();
    if hc.memory > 0 {
        mem.insert("limit".into(), json!(hc.memory));
        let swap = match hc.memory_swap {
            // Docker's default: swap as large as the memory limit (memory+swap = twice it).
            0 => hc.memory.checked_mul(2).ok_or_else(|| SpecError::Resource(super::config::memory_too_large(hc.memory)))?,
            -1 => -1,
            s => s,
        };
        mem.insert("swap".into(), json!(swap));
    }
    if hc.memory_reservation > 0 {
        mem.insert("reservation".into(), json!(hc.memory_reservation));
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| (0..=100).contains(s)) {
        mem.insert("swappiness".into(), json!(s));
    }
    if hc.oom_kill_disable == Some(true) {
        mem.insert("disableOOMKiller".into(), json!(true));
    }
    if !mem.is_empty() {
        r.insert("memory".into(), Value::Object(mem));
    }
    let mut cpu = serde_json::Map::new();
    if hc.cpu_shares > 0 {
        cpu.insert("shares".into(), json!(hc.cpu_shares));
    }
    if hc.nano_cpus > 0 {
        // moby: quota = NanoCPUs * period / 1e9 with a 100ms period.
        const PERIOD: i64 = 100_000;
        let quota = hc.nano_cpus.checked_mul(PERIOD).map(|q| q / 1_000_000_000).ok_or_else(|| SpecError::Resource(super::config::cpus_out_of_range(super::config::num_cpus())))?;
        cpu.insert("period".into(), json!(PERIOD));
        cpu.insert("quota".into(), json!(quota));
    } else {
        if hc.cpu_period > 0 {
            cpu.insert("period".into(), json!(hc.cpu_period));
        }
        if hc.cpu_quota > 0 {
            cpu.insert("quota".into(), json!(hc.cpu_quota));
        }
    }
    if !hc.cpuset_cpus.is_empty() {
        cpu.insert("cpus".into(), json!(hc.cpuset_cpus));
    }
    if !hc.cpuset_mems.is_empty() {
        cpu.insert("mems".into(), json!(hc.cpuset_mems));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    // moby's getPidsLimit: 0 and negative values mean unlimited, which runc wants as -1.
    if let Some(p) = hc.pids_limit.filter(|p| *p != 0) {
        r.insert("pids".into(), json!({"limit": p.max(-1)}));
    }
    if hc.blkio_weight > 0 {
        r.insert("blockIO".into(), json!({"weight": hc.blkio_weight}));
    }
    Ok(Value::Object(r))
}

/// A bind mount resolved from `-v`: host source, container destination, options.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
    /// Named volume, if the source was a name rather than a path.
    pub volume: Option<String>,
    /// `nocopy`: a new volume is not populated from the image (copy-up).
    pub no_copy: bool,
}

/// moby's local driver `validateName` (`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`), with its texts as the
/// volume service wraps them (`create <name>: …`). A valid name is one path component, never
/// `.` or `..`: `<volumes>/<name>` stays inside the volumes dir.
pub fn check_volume_name(name: &str) -> Result<(), String> {
    let b = name.as_bytes();
    if b.len() == 1 {
        return Err(format!("create {name}: volume name is too short, names should be at least two alphanumeric characters"));
    }
    let valid = b.len() >= 2 && b[0].is_ascii_alphanumeric() && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c));
    if !valid {
        return Err(format!(
            "create {name}: {name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        ));
    }
    Ok(())
}

/// Parse a `Binds` entry `src:dst[:opts]`; named volumes live in `<volumes_root>/<name>/_data`.
pub fn parse_bind(spec: &str, volumes_root: &Path) -> Result<Bind, SpecError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(SpecError::Mount(format!("invalid volume specification: '{spec}'"))),
    };
    if !dst.starts_with('/') {
        return Err(SpecError::Mount(format!("invalid mount config for type \"bind\": invalid mount path: '{dst}' mount path must be absolute")));
    }
    let read_only = opts.split(',').any(|o| o == "ro");
    let no_copy = opts.split(',').any(|o| o == "nocopy");
    if src.starts_with('/') {
        return Ok(Bind { source: src.into(), destination: dst.into(), read_only, volume: None, no_copy });
    }
    check_volume_name(src).map_err(SpecError::VolumeName)?;
    Ok(Bind {
        source: volumes_root.join(src).join("_data"),
        destination: dst.into(),
        read_only,
        volume: Some(src.into()),
        no_copy,
    })
}

/// Inputs the spec needs besides the container itself.
pub struct SpecInput<'a> {
    pub container: &'a Container,
    pub rootfs: &'a Path,
    /// Image `Env` (the container's own Env is in its Config).
    pub image_env: &'a [String],
    pub container_dir: &'a Path,
    pub volumes_root: &'a Path,
    pub cgroup_parent: &'a str,
    /// Process args (entrypoint + cmd already merged).
    pub args: Vec<String>,
}

pub fn build(input: &SpecInput) -> Result<Value, SpecError> {
    let c = input.container;
    let cfg = &c.record.config;
    let hc = &c.host_config;
    let user = resolve_user(input.rootfs, &cfg.user)?;
    let hostname = if cfg.hostname.is_empty() { crate::util::ids::short_id(c.id()).to_string() } else { cfg.hostname.clone() };
    let env = merge_env(input.image_env, cfg.env.as_deref().unwrap_or(&[]), &hostname, &user.home, cfg.tty);
    let cwd = if cfg.working_dir.is_empty() { "/".to_string() } else { cfg.working_dir.clone() };
    let caps = caps(hc)?;
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", if hc.privileged {"rw"} else {"ro"}]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}", hc.shm_size.max(1))]}),
    ];
    let dir = input.container_dir;
    for (name, dst) in [("resolv.conf", "/etc/resolv.conf"), ("hostname", "/etc/hostname"), ("hosts", "/etc/hosts")] {
        mounts.push(json!({"destination": dst, "type": "bind", "source": dir.join(name), "options": ["rbind", "rprivate"]}));
    }
    for b in hc.binds.iter().flatten() {
        let b = parse_bind(b, input.volumes_root)?;
        if !b.source.exists() {
            // Docker auto-creates a missing bind source as a directory.
            std::fs::create_dir_all(&b.source).map_err(|source| SpecError::Io { path: b.source.clone(), source })?;
        }
        let mut opts = vec!["rbind", "rprivate"];
        if b.read_only {
            opts.push("ro");
        }
        mounts.push(json!({"destination": b.destination, "type": "bind", "source": b.source, "options": opts}));
    }
    for mp in c.record.mount_points.values() {
        let (Some(src), Some(dst)) = (mp["Source"].as_str(), mp["Destination"].as_str()) else { continue };
        let src = PathBuf::from(src);
        if !src.exists() {
            std::fs::create_dir_all(&src).map_err(|source| SpecError::Io { path: src.clone(), source })?;
        }
        let mut opts = vec!["rbind", "rprivate"];
        if mp["RW"] == json!(false) {
            opts.push("ro");
        }
        mounts.push(json!({"destination": dst, "type": "bind", "source": src, "options": opts}));
    }
    let mut ns = vec![json!({"type": "mount"}), json!({"type": "network"}), json!({"type": "uts"}), json!({"type": "pid"}), json!({"type": "ipc"})];
    if hc.cgroupns_mode == "private" {
        ns.push(json!({"type": "cgroup"}));
    }
    let rlimits: Vec<Value> = match &hc.ulimits {
        Some(u) if !u.is_empty() => u
            .iter()
            .map(|u| json!({"type": format!("RLIMIT_{}", u.name.to_ascii_uppercase()), "hard": u.hard, "soft": u.soft}))
            .collect(),
        // No --ulimit: the container inherits the shim's limits (dockerd's own, like Docker).
        _ => vec![],
    };
    let cgroup_parent = crate::container::config::clean_cgroup_parent(if hc.cgroup_parent.is_empty() { input.cgroup_parent } else { &hc.cgroup_parent });
    let mut linux = json!({
        "namespaces": ns,
        "cgroupsPath": format!("{}/{}", cgroup_parent.trim_end_matches('/'), c.id()),
        "resources": resources(hc)?,
    });
    if !hc.privileged {
        linux["maskedPaths"] = json!(hc.masked_paths.clone().unwrap_or_default());
        linux["readonlyPaths"] = json!(hc.readonly_paths.clone().unwrap_or_default());
    }
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": cfg.tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": input.args,
            "env": env,
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps},
            "rlimits": rlimits,
            "noNewPrivileges": false,
            "oomScoreAdj": hc.oom_score_adj,
        },
        "root": {"path": input.rootfs, "readonly": hc.readonly_rootfs},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    }))
}

/// The OCI `process` object for an exec (runc exec --process).
pub fn exec_process(base: &Value, args: &[String], env: &[String], tty: bool, user: Option<User>, cwd: &str, privileged: bool) -> Value {
    let mut p = base["process"].clone();
    p["args"] = json!(args);
    p["terminal"] = json!(tty);
    let mut e: Vec<String> = p["env"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
    for kv in env {
        let k = kv.split('=').next().unwrap_or("");
        e.retain(|x| x.split('=').next() != Some(k));
        e.push(kv.clone());
    }
    if tty && !e.iter().any(|x| x.starts_with("TERM=")) {
        e.push("TERM=xterm".into());
    }
    p["env"] = json!(e);
    if let Some(u) = user {
        p["user"] = json!({"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids});
    }
    if !cwd.is_empty() {
        p["cwd"] = json!(cwd);
    }
    if privileged {
        let all: Vec<&str> = ALL_CAPS.to_vec();
        p["capabilities"] = json!({"bounding": all, "effective": all, "permitted": all, "inheritable": all});
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_from_rootfs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n").unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nwww:x:33:\nstaff:x:50:www\n").unwrap();
        assert_eq!(resolve_user(d.path(), "").unwrap(), User { uid: 0, gid: 0, additional_gids: vec![], home: "/root".into() });
        assert_eq!(resolve_user(d.path(), "www").unwrap(), User { uid: 33, gid: 33, additional_gids: vec![50], home: "/var/www".into() });
        assert_eq!(resolve_user(d.path(), "1000:staff").unwrap().gid, 50);
        assert!(matches!(resolve_user(d.path(), "nobody"), Err(SpecError::NoUser(_))));
    }

    #[test]
    fn env_merge_overrides_by_key() {
        let e = merge_env(&["PATH=/x".into(), "A=1".into()], &["A=2".into()], "h", "/root", true);
        assert_eq!(e, vec!["PATH=/x", "HOSTNAME=h", "TERM=xterm", "A=2", "HOME=/root"]);
    }

    #[test]
    fn resources_from_flags() {
        let hc = HostConfig { memory: 64 << 20, nano_cpus: 500_000_000, pids_limit: Some(20), ..Default::default() };
        let r = resources(&hc).unwrap();
        assert_eq!(r["memory"]["limit"], json!(64 << 20));
        assert_eq!(r["memory"]["swap"], json!(128 << 20));
        assert_eq!(r["cpu"]["quota"], json!(50_000));
        assert_eq!(r["pids"]["limit"], json!(20));
        let r = resources(&HostConfig { nano_cpus: 1, pids_limit: Some(i64::MIN), ..Default::default() }).unwrap();
        assert_eq!(r["cpu"]["quota"], json!(0));
        assert_eq!(r["pids"]["limit"], json!(-1), "negative is unlimited, as runc wants it");
    }

    #[test]
    fn resources_never_overflow() {
        // Values the create-time checks refuse, as an old record could still hold them: an
        // error, not a panic (debug) or a wrapped value (release).
        let e = resources(&HostConfig { memory: i64::MAX, ..Default::default() }).unwrap_err();
        assert!(e.to_string().starts_with(&format!("Memory limit {} is too large", i64::MAX)), "{e}");
        assert!(resources(&HostConfig { nano_cpus: i64::MAX, ..Default::default() }).is_err());
        let r = resources(&HostConfig { memory: i64::MAX, memory_swap: -1, ..Default::default() }).unwrap();
        assert_eq!(r["memory"]["limit"], json!(i64::MAX));
        assert_eq!(r["memory"]["swap"], json!(-1));
        let r = resources(&HostConfig { memory_swappiness: Some(1000), ..Default::default() }).unwrap();
        assert!(r.get("memory").is_none(), "{r}");
    }

    #[test]
    fn binds_and_volumes() {
        let v = Path::new("/v");
        assert_eq!(parse_bind("/h:/c:ro", v).unwrap(), Bind { source: "/h".into(), destination: "/c".into(), read_only: true, volume: None, no_copy: false });
        assert!(parse_bind("data:/c:ro,nocopy", v).unwrap().no_copy);
        assert_eq!(parse_bind("data:/c", v).unwrap().source, PathBuf::from("/v/data/_data"));
        assert!(parse_bind("/h:c", v).is_err());
        for bad in ["..", ".", ".x", "-x", "_x", "%2Fetc", "a b", ""] {
            let e = parse_bind(&format!("{bad}:/c"), v).unwrap_err().to_string();
            assert_eq!(e, check_volume_name(bad).unwrap_err(), "{bad:?}");
            assert!(e.starts_with(&format!("create {bad}: ")), "{e}");
        }
        assert_eq!(check_volume_name("a").unwrap_err(), "create a: volume name is too short, names should be at least two alphanumeric characters");
        assert_eq!(
            check_volume_name("..").unwrap_err(),
            "create ..: \"..\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
        assert!(check_volume_name("ab").is_ok() && check_volume_name("0.x_y-z").is_ok());
    }

    #[test]
    fn caps_add_drop() {
        let hc = HostConfig { cap_add: Some(vec!["NET_ADMIN".into()]), cap_drop: Some(vec!["chown".into()]), ..Default::default() };
        let c = caps(&hc).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".to_string()) && !c.contains(&"CAP_CHOWN".to_string()));
        assert!(caps(&HostConfig { cap_add: Some(vec!["BOGUS".into()]), ..Default::default() }).is_err());
    }
}
