//! `berth run`, `create`, `exec`, `attach`: the same call sequences as the docker CLI.

use clap::Args;
use serde_json::{json, Value};

use super::stream::{self, End, RawTerminal};
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client, ClientError};

#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print usage
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    tty: bool,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long = "rm")]
    rm: bool,
    /// Assign a name to the container
    #[arg(long = "name")]
    name: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname")]
    hostname: Option<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    volume: Vec<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory")]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long = "cpus", allow_hyphen_values = true, value_parser = parse_cpus)]
    cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Give extended privileges to this container
    #[arg(long = "privileged")]
    privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    cap_drop: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    read_only: bool,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init")]
    init: bool,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", default_value = "no")]
    restart: String,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long = "entrypoint")]
    entrypoint: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    label: Vec<String>,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net", default_value = "default")]
    network: String,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long = "expose")]
    expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip")]
    ip: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    network_alias: Vec<String>,
    /// Add link to another container
    #[arg(long = "link")]
    link: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    add_host: Vec<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    stop_timeout: Option<i64>,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    /// Image and command
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "IMAGE [COMMAND] [ARG...]")]
    args: Vec<String>,
}

/// go-units `RAMInBytes`: `64m`, `1g`, `512k`, `100` (bytes).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    Ok((v * mult as f64) as i64)
}

/// `--cpus` as NanoCpus (the docker CLI's `ParseCPUs`): NaN and infinities are refused (they
/// became 0, no limit at all); the range is the daemon's to check (a value past i64 saturates).
fn parse_cpus(s: &str) -> Result<i64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((v * 1e9).round() as i64),
        _ => Err(format!("failed to parse {s} as a rational number")),
    }
}

fn usage_error(cmd: &str, msg: String) -> Failure {
    Failure::new(format!("berth: {msg}\n\nRun 'berth {cmd} --help' for more information"), 125)
}

/// Docker's run exit code for a start error: 127 not found, 126 cannot invoke, else 125.
pub fn start_error_code(msg: &str) -> i32 {
    if msg.contains("executable file not found") || msg.contains("no such file or directory") || msg.contains("system cannot find the file specified") {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    }
}

fn parse_restart(s: &str) -> Result<Value, String> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, c.parse::<i64>().map_err(|_| format!("invalid restart policy format: maximum retry count must be an integer"))?),
        None => (s, 0),
    };
    match name {
        "no" | "always" | "unless-stopped" if count == 0 || name == "on-failure" => {}
        "on-failure" => {}
        "no" | "always" | "unless-stopped" => return Err(format!("invalid restart policy format: maximum retry count cannot be used with restart policy '{name}'")),
        _ => return Err(format!("invalid restart policy format: unknown policy '{name}'")),
    }
    Ok(json!({"Name": name, "MaximumRetryCount": count}))
}

/// The docker CLI's `--env-file` parser (opts.ParseEnvFile): leading whitespace and `#`
/// comment lines dropped, values passed through untrimmed, a bare `VAR` takes the client's
/// value and is skipped when the client has none.
fn read_env_file(path: &str) -> Result<Vec<String>, String> {
    parse_env_file(path, |k| std::env::var(k).ok())
}

fn parse_env_file(path: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    let text = std::fs::read(path).map_err(|e| {
        let msg = match e.raw_os_error() {
            // SAFETY: strerror returns a static NUL-terminated message.
            Some(n) => unsafe { std::ffi::CStr::from_ptr(libc::strerror(n)) }.to_string_lossy().to_lowercase(),
            None => e.to_string(),
        };
        format!("open {path}: {msg}")
    })?;
    let text = String::from_utf8(text).map_err(|_| format!("env file {path} contains invalid utf8 bytes"))?;
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let raw = if i == 0 { raw.trim_start_matches('\u{feff}') } else { raw };
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (var, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim_start(), Some(v)),
            None => (line, None),
        };
        if var.contains([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']) {
            return Err(format!("poorly formatted environment: variable '{var}' contains whitespaces"));
        }
        if var.is_empty() {
            return Err(format!("poorly formatted environment: no variable name on line '{line}'"));
        }
        match value {
            Some(v) => out.push(format!("{var}={v}")),
            None => {
                if let Some(v) = lookup(var) {
                    out.push(format!("{var}={v}"));
                }
            }
        }
    }
    Ok(out)
}

fn validate_image(r: &str) -> Result<(), String> {
    let name = r.split('@').next().unwrap_or(r);
    let last = name.rsplit('/').next().unwrap_or(name);
    let repo = match last.rfind(':') {
        Some(i) => &name[..name.len() - (last.len() - i)],
        None => name,
    };
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        let full = if repo.contains('/') { repo.to_string() } else { format!("library/{repo}") };
        return Err(format!("invalid reference format: repository name ({full}) must be lowercase"));
    }
    if repo.is_empty() {
        return Err("invalid reference format".into());
    }
    Ok(())
}

/// The network parts of the create body: `ExposedPorts`, `PortBindings` and
/// `NetworkingConfig`, as the docker CLI builds them (and with its `-p`/`--link` errors).
struct NetFields {
    exposed: Value,
    bindings: Value,
    networking: Value,
}

fn network_fields(a: &RunArgs) -> Result<NetFields, String> {
    let mut exposed = serde_json::Map::new();
    let mut bindings = serde_json::Map::new();
    for p in &a.publish {
        for b in berth_net::ports::parse_port_spec(p).map_err(|e| e.to_string())? {
            exposed.insert(b.key(), json!({}));
            let ip = if b.host_ip.is_unspecified() && !p.starts_with("0.0.0.0:") { String::new() } else { b.host_ip.to_string() };
            let list = bindings.entry(b.key()).or_insert_with(|| json!([]));
            list.as_array_mut().expect("array").push(json!({"HostIp": ip, "HostPort": b.host_port.map(|p| p.to_string()).unwrap_or_default()}));
        }
    }
    for e in &a.expose {
        for b in berth_net::ports::parse_port_spec(e).map_err(|e| e.to_string())? {
            exposed.insert(b.key(), json!({}));
        }
    }
    for l in &a.link {
        if l.split(':').count() > 2 {
            return Err(format!("invalid argument \"{l}\" for \"--link\" flag: bad format for links: {l}"));
        }
    }
    let mut ep = serde_json::Map::new();
    if let Some(ip) = &a.ip {
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(format!("invalid argument \"{ip}\" for \"--ip\" flag: invalid IP address: {ip}"));
        }
        ep.insert("IPAMConfig".into(), json!({"IPv4Address": ip}));
    }
    if !a.network_alias.is_empty() {
        ep.insert("Aliases".into(), json!(a.network_alias));
    }
    let networking = if ep.is_empty() { Value::Null } else { json!({"EndpointsConfig": {a.network.clone(): ep}}) };
    Ok(NetFields {
        exposed: if exposed.is_empty() { Value::Null } else { Value::Object(exposed) },
        bindings: if bindings.is_empty() { json!({}) } else { Value::Object(bindings) },
        networking,
    })
}

/// The create body the docker CLI would send.
fn create_body(a: &RunArgs) -> Result<Value, String> {
    let image = a.args[0].clone();
    validate_image(&image)?;
    let cmd: Option<Vec<String>> = if a.args.len() > 1 { Some(a.args[1..].to_vec()) } else { None };
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(read_env_file(f)?);
    }
    for e in &a.env {
        env.push(if e.contains('=') { e.clone() } else { format!("{e}={}", std::env::var(e).unwrap_or_default()) });
    }
    let memory = a.memory.as_deref().map(ram_in_bytes).transpose()?.unwrap_or(0);
    let swap = match a.memory_swap.as_deref() {
        Some("-1") => -1,
        Some(s) => ram_in_bytes(s)?,
        None => 0,
    };
    let labels: serde_json::Map<String, Value> = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l.to_string(), json!("")),
        })
        .collect();
    let binds: Vec<&String> = a.volume.iter().filter(|v| v.contains(':')).collect();
    let binds = if binds.is_empty() { Value::Null } else { json!(binds) };
    let net = network_fields(a)?;
    let attach = !a.detach;
    let console = if a.tty { stream::term_size().map(|(r, c)| json!([r, c])).unwrap_or(json!([0, 0])) } else { json!([0, 0]) };
    Ok(json!({
        "Hostname": a.hostname.clone().unwrap_or_default(),
        "Domainname": "",
        "User": a.user.clone().unwrap_or_default(),
        "AttachStdin": attach && a.interactive,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "Tty": a.tty,
        "OpenStdin": a.interactive,
        "StdinOnce": a.interactive && attach,
        "Env": if env.is_empty() { Value::Null } else { json!(env) },
        "Cmd": cmd,
        "Image": image,
        "Volumes": a.volume.iter().filter(|v| !v.contains(':')).map(|v| (v.clone(), json!({}))).collect::<serde_json::Map<_, _>>(),
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Entrypoint": a.entrypoint.as_ref().map(|e| if e.is_empty() { json!([""]) } else { json!([e]) }),
        "OnBuild": null,
        "Labels": labels,
        "StopSignal": a.stop_signal,
        "StopTimeout": a.stop_timeout,
        "ExposedPorts": net.exposed,
        "NetworkingConfig": net.networking,
        "HostConfig": {
            "PortBindings": net.bindings,
            "PublishAllPorts": a.publish_all,
            "Links": if a.link.is_empty() { Value::Null } else { json!(a.link) },
            "ExtraHosts": if a.add_host.is_empty() { Value::Null } else { json!(a.add_host) },
            "Binds": binds,
            "NetworkMode": a.network,
            "RestartPolicy": parse_restart(&a.restart)?,
            "AutoRemove": a.rm,
            "ConsoleSize": console,
            "CapAdd": if a.cap_add.is_empty() { Value::Null } else { json!(a.cap_add) },
            "CapDrop": if a.cap_drop.is_empty() { Value::Null } else { json!(a.cap_drop) },
            "Privileged": a.privileged,
            "ReadonlyRootfs": a.read_only,
            "Memory": memory,
            "MemorySwap": swap,
            "NanoCpus": a.cpus.unwrap_or(0),
            "CpuShares": a.cpu_shares.unwrap_or(0),
            "CpusetCpus": a.cpuset_cpus.clone().unwrap_or_default(),
            "PidsLimit": a.pids_limit,
            "Init": if a.init { json!(true) } else { Value::Null },
        },
    }))
}

fn create(c: &Client, a: &RunArgs, cmd: &str) -> Result<String, Failure> {
    let body = create_body(a).map_err(|m| usage_error(cmd, m))?;
    let path = match &a.name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".to_string(),
    };
    match c.post_json(&path, &body) {
        Ok(r) => {
            let v: Value = r.json()?;
            for w in v["Warnings"].as_array().into_iter().flatten() {
                eprintln!("WARNING: {}", w.as_str().unwrap_or(""));
            }
            Ok(v["Id"].as_str().unwrap_or("").to_string())
        }
        Err(e @ ClientError::Api { status: 404, .. }) if e.to_string().starts_with("No such image") => {
            let retry = || -> Result<String, Failure> {
                let v: Value = c.post_json(&path, &body).map_err(|e| Failure::new(format!("berth: {}", daemon_error(&e)), 125))?.json()?;
                for w in v["Warnings"].as_array().into_iter().flatten() {
                    eprintln!("WARNING: {}", w.as_str().unwrap_or(""));
                }
                Ok(v["Id"].as_str().unwrap_or("").to_string())
            };
            match implicit_pull(c, &a.args[0]) {
                Ok(()) => retry(),
                Err(m) => Err(Failure::new(format!("berth: {m}\n\nRun 'berth {cmd} --help' for more information"), 125)),
            }
        }
        Err(e) => Err(Failure::new(
            if cmd == "run" { format!("berth: {}\n\nRun 'berth run --help' for more information", daemon_error(&e)) } else { daemon_error(&e) },
            if cmd == "run" { 125 } else { 1 },
        )),
    }
}

/// The docker CLI's `pullImage` for `run`/`create` of an image not present: "Unable to find
/// image" and the pull's progress on stderr (stdout carries only the container's ID or
/// output), with `X-Registry-Auth` from the stored credentials of the image's registry, so a
/// private image runs after `login` as it does with docker.
fn implicit_pull(c: &Client, image: &str) -> Result<(), String> {
    let r = berth_storage::Reference::parse_normalized(image).map_err(|e| e.to_string())?.with_default_tag();
    eprintln!("Unable to find image '{}' locally", r.familiar_string());
    let tag = r.digest.clone().or_else(|| r.tag.clone()).unwrap_or_default();
    let path = format!("/images/create?fromImage={}&tag={}", enc(&r.name()), enc(&tag));
    let header = super::registry_auth::header_for(&r.domain);
    let mut resp = c.request_with("POST", &path, None, &[("X-Registry-Auth", &header)]).and_then(|r| r.check()).map_err(|e| daemon_error(&e))?;
    // Bars only when stdout is a terminal (the CLI asks `Out().IsTerminal()`), drawn on stderr.
    super::registry_progress::display_on_stderr(resp.reader(), stream::is_tty(1)).map(|_| ()).map_err(|e| e.0)
}

pub fn create_cmd(c: &Client, a: RunArgs) -> CliResult {
    if a.detach_keys.is_some() {
        return Err(usage_error("create", "unknown flag: --detach-keys".into()));
    }
    let id = create(c, &a, "create")?;
    println!("{id}");
    Ok(())
}

pub fn run(c: &Client, a: RunArgs) -> CliResult {
    // As newer docker CLIs (28.2 leaves it to the daemon's 400, after create): the flag is
    // checked before anything is created (the config file's value is not); exit 1.
    stream::check_detach_keys(a.detach_keys.as_deref()).map_err(|m| Failure::new(m, 1))?;
    let keys = stream::detach_keys(a.detach_keys.as_deref());
    let id = create(c, &a, "run")?;
    let run_err = |e: ClientError| {
        let m = daemon_error(&e);
        Failure::new(format!("berth: {m}\n\nRun 'berth run --help' for more information"), start_error_code(&m))
    };
    if a.detach {
        c.post(&format!("/containers/{id}/start")).map_err(run_err)?;
        println!("{id}");
        return Ok(());
    }
    let mut q = vec![];
    if let Some(k) = &keys {
        q.push(format!("detachKeys={}", enc(k)));
    }
    q.push("stderr=1".into());
    if a.interactive {
        q.push("stdin=1".into());
    }
    q.extend(["stdout=1".into(), "stream=1".into()]);
    let (conn, early) = c.hijack(&format!("/containers/{id}/attach?{}", q.join("&")), None).map_err(run_err)?;
    let cond = if a.rm { "removed" } else { "next-exit" };
    let mut wait = c.request("POST", &format!("/containers/{id}/wait?condition={cond}"), None).map_err(run_err)?.check().map_err(run_err)?;
    let raw = if a.tty && a.interactive && stream::is_tty(0) { Some(RawTerminal::enable()) } else { None };
    if let Err(e) = c.post(&format!("/containers/{id}/start")) {
        drop(raw);
        conn.shutdown();
        return Err(run_err(e));
    }
    if a.tty {
        if let Some((h, w)) = stream::term_size() {
            let _ = c.post(&format!("/containers/{id}/resize?h={h}&w={w}"));
        }
    }
    let dk = stream::detach_bytes(keys.as_deref());
    let end = stream::pump(conn, early, a.tty, a.interactive, &dk).map_err(|e| Failure::new(e.to_string(), 125))?;
    drop(raw);
    match end {
        // As `docker run`: a detach is success, silently; the container keeps running.
        End::Detached => return Ok(()),
        End::Error(m) => return Err(Failure::new(m, 125)),
        End::Closed => {}
    }
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(wait.reader(), &mut body);
    let v: Value = serde_json::from_slice(&body).unwrap_or(json!({"StatusCode": 125}));
    if let Some(m) = v["Error"]["Message"].as_str() {
        return Err(Failure::new(format!("berth: {m}"), 125));
    }
    let code = v["StatusCode"].as_i64().unwrap_or(125) as i32;
    if code != 0 { Err(Failure::silent(code)) } else { Ok(()) }
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long = "detach")]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Username or UID
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long = "privileged")]
    privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    cmd: Vec<String>,
}

pub fn exec(c: &Client, a: ExecArgs) -> CliResult {
    let info: Value = c.get_json(&format!("/containers/{}/json", enc(&a.container)))?;
    let _ = info;
    let attach = !a.detach;
    // Checked by the daemon at create (`Invalid escape keys (…) provided`).
    let keys = stream::detach_keys(a.detach_keys.as_deref());
    let body = json!({
        "User": a.user.clone().unwrap_or_default(), "Privileged": a.privileged, "Tty": a.tty,
        "AttachStdin": attach && a.interactive, "AttachStderr": attach, "AttachStdout": attach,
        "Detach": a.detach, "DetachKeys": keys.clone().unwrap_or_default(), "Env": a.env, "WorkingDir": a.workdir.clone().unwrap_or_default(), "Cmd": a.cmd,
    });
    let r: Value = c.post_json(&format!("/containers/{}/exec", enc(&a.container)), &body)?.json()?;
    let id = r["Id"].as_str().unwrap_or("").to_string();
    if a.detach {
        c.post_json(&format!("/exec/{id}/start"), &json!({"Detach": true, "Tty": a.tty}))?;
        return Ok(());
    }
    let raw = if a.tty && a.interactive && stream::is_tty(0) { Some(RawTerminal::enable()) } else { None };
    let (conn, early) = c.hijack(&format!("/exec/{id}/start"), Some(&json!({"Detach": false, "Tty": a.tty}))).map_err(|e| {
        let m = daemon_error(&e);
        Failure::new(m.clone(), start_error_code(&m).max(126))
    })?;
    if a.tty {
        if let Some((h, w)) = stream::term_size() {
            let _ = c.post(&format!("/exec/{id}/resize?h={h}&w={w}"));
        }
    }
    let dk = stream::detach_bytes(keys.as_deref());
    let end = stream::pump(conn, early, a.tty, a.interactive, &dk).map_err(|e| Failure::new(e.to_string(), 1))?;
    drop(raw);
    if end == End::Detached {
        // The exec'd process keeps running.
        eprintln!("read escape sequence");
        return Ok(());
    }
    let v: Value = c.get_json(&format!("/exec/{id}/json"))?;
    let code = v["ExitCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 { Err(Failure::silent(code)) } else { Ok(()) }
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
}

pub fn attach(c: &Client, a: AttachArgs) -> CliResult {
    let name = enc(&a.container);
    let mut wait = c.request("POST", &format!("/containers/{name}/wait"), None)?.check()?;
    let info: Value = c.get_json(&format!("/containers/{name}/json"))?;
    let st = &info["State"];
    if st["Paused"].as_bool() == Some(true) {
        return Err(Failure::new("You cannot attach to a paused container, unpause it first", 1));
    }
    if st["Restarting"].as_bool() == Some(true) {
        return Err(Failure::new("You cannot attach to a restarting container, wait until it is running", 1));
    }
    if st["Running"].as_bool() != Some(true) {
        return Err(Failure::new("You cannot attach to a stopped container, start it first", 1));
    }
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !a.no_stdin && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    // Checked by the daemon (`Invalid detach keys (…) provided`).
    let keys = stream::detach_keys(a.detach_keys.as_deref());
    let q = if stdin { "stderr=1&stdin=1&stdout=1&stream=1" } else { "stderr=1&stdout=1&stream=1" };
    let kq = keys.as_ref().map(|k| format!("detachKeys={}&", enc(k))).unwrap_or_default();
    let (conn, early) = c.hijack(&format!("/containers/{name}/attach?{kq}{q}"), None)?;
    let raw = if tty && stdin && stream::is_tty(0) { Some(RawTerminal::enable()) } else { None };
    let dk = stream::detach_bytes(keys.as_deref());
    let end = stream::pump(conn, early, tty, stdin, &dk).map_err(|e| Failure::new(e.to_string(), 1))?;
    drop(raw);
    if end == End::Detached {
        eprintln!("read escape sequence");
        return Ok(());
    }
    let mut body = Vec::new();
    let _ = std::io::Read::read_to_end(wait.reader(), &mut body);
    let v: Value = serde_json::from_slice(&body).unwrap_or(json!({"StatusCode": 0}));
    let code = v["StatusCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 { Err(Failure::silent(code)) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_codes() {
        assert_eq!(ram_in_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("512").unwrap(), 512);
        assert!(ram_in_bytes("lots").is_err());
        assert_eq!(start_error_code("exec: \"sleep\": executable file not found in $PATH"), 127);
        assert_eq!(start_error_code("permission denied"), 126);
        assert_eq!(start_error_code("boom"), 125);
    }

    #[test]
    fn env_files_like_the_docker_cli() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("e.env");
        std::fs::write(&f, "# comment\n\n  A=1 \nB\nC\n   # indented comment\nD=x=y\n").unwrap();
        let got = parse_env_file(f.to_str().unwrap(), |k| (k == "B").then(|| "fromclient".to_string())).unwrap();
        assert_eq!(got, ["A=1 ", "B=fromclient", "D=x=y"], "C is unset in the client: skipped");
        std::fs::write(&f, "BAD KEY=1\n").unwrap();
        assert_eq!(parse_env_file(f.to_str().unwrap(), |_| None).unwrap_err(), "poorly formatted environment: variable 'BAD KEY' contains whitespaces");
        assert_eq!(read_env_file("/nonexistent/x.env").unwrap_err(), "open /nonexistent/x.env: no such file or directory");
    }

    #[test]
    fn restart_policies_and_images() {
        assert_eq!(parse_restart("on-failure:3").unwrap()["MaximumRetryCount"], 3);
        assert!(parse_restart("sometimes").is_err());
        assert_eq!(validate_image("BB").unwrap_err(), "invalid reference format: repository name (library/BB) must be lowercase");
        assert!(validate_image("127.0.0.1:5055/research/bb:l2").is_ok());
    }
}
