//! `start`, `stop`, `restart`, `kill`, `rm`, `wait`, `pause`, `unpause`, `rename`, `top`.

use clap::Args;
use serde_json::Value;

use super::format::table;
use super::stream::{self, End};
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Args, Debug)]
pub struct Names {
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Run `f` on every name; print the name on success, Docker's error otherwise; exit 1 if any failed.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<Option<String>, crate::client::ClientError>) -> CliResult {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(Some(out)) => println!("{out}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("{}", daemon_error(&e));
                failed = true;
            }
        }
    }
    if failed { Err(Failure::silent(1)) } else { Ok(()) }
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long = "attach")]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(c: &Client, a: StartArgs) -> CliResult {
    if a.attach || a.interactive {
        let name = &a.containers[0];
        stream::check_detach_keys(a.detach_keys.as_deref()).map_err(|m| Failure::new(m, 1))?;
        let keys = stream::detach_keys(a.detach_keys.as_deref());
        let info: Value = c.get_json(&format!("/containers/{}/json", enc(name)))?;
        let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
        let stdin = a.interactive && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let q = if stdin { "stderr=1&stdin=1&stdout=1&stream=1" } else { "stderr=1&stdout=1&stream=1" };
        let kq = keys.as_ref().map(|k| format!("detachKeys={}&", enc(k))).unwrap_or_default();
        let (conn, early) = c.hijack(&format!("/containers/{}/attach?{kq}{q}", enc(name)), None)?;
        let mut wait = c.request("POST", &format!("/containers/{}/wait?condition=next-exit", enc(name)), None)?.check()?;
        if let Err(e) = c.request("POST", &format!("/containers/{}/start", enc(name)), None).and_then(|r| r.check()) {
            let m = daemon_error(&e);
            return Err(Failure::new(m.clone(), 1));
        }
        let raw = if tty && stdin && stream::is_tty(0) { Some(stream::RawTerminal::enable()) } else { None };
        let dk = stream::detach_bytes(keys.as_deref());
        let end = stream::pump(conn, early, tty, stdin, &dk).map_err(|e| Failure::new(e.to_string(), 1))?;
        drop(raw);
        if end == End::Detached {
            // As `docker start -a`: a detach is success, silently.
            return Ok(());
        }
        let mut body = Vec::new();
        let _ = std::io::Read::read_to_end(wait.reader(), &mut body);
        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
        let code = v["StatusCode"].as_i64().unwrap_or(0) as i32;
        return if code != 0 { Err(Failure::silent(code)) } else { Ok(()) };
    }
    each(&a.containers, |n| {
        // 304 (already running) is not an error.
        c.request("POST", &format!("/containers/{}/start", enc(n)), None)?.check()?;
        Ok(Some(n.to_string()))
    })
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", allow_hyphen_values = true)]
    time: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(c: &Client, a: StopArgs, verb: &str) -> CliResult {
    let q = a.time.map(|t| format!("?t={t}")).unwrap_or_default();
    each(&a.containers, |n| {
        c.request("POST", &format!("/containers/{}/{verb}{q}", enc(n)), None)?.check()?;
        Ok(Some(n.to_string()))
    })
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal")]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(c: &Client, a: KillArgs) -> CliResult {
    let q = a.signal.as_ref().map(|s| format!("?signal={}", enc(s))).unwrap_or_default();
    each(&a.containers, |n| {
        c.request("POST", &format!("/containers/{}/kill{q}", enc(n)), None)?.check()?;
        Ok(Some(n.to_string()))
    })
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(c: &Client, a: RmArgs) -> CliResult {
    let mut q = Vec::new();
    if a.volumes {
        q.push("v=1");
    }
    if a.force {
        q.push("force=1");
    }
    let q = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    each(&a.containers, |n| {
        c.request("DELETE", &format!("/containers/{}{q}", enc(n)), None)?.check()?;
        Ok(Some(n.to_string()))
    })
}

pub fn wait(c: &Client, a: Names) -> CliResult {
    each(&a.containers, |n| {
        let v: Value = c.request("POST", &format!("/containers/{}/wait", enc(n)), None)?.check()?.json()?;
        Ok(Some(v["StatusCode"].as_i64().unwrap_or(0).to_string()))
    })
}

pub fn simple(c: &Client, a: Names, verb: &str) -> CliResult {
    each(&a.containers, |n| {
        c.request("POST", &format!("/containers/{}/{verb}", enc(n)), None)?.check()?;
        Ok(Some(n.to_string()))
    })
}

pub fn rename(c: &Client, old: &str, new: &str) -> CliResult {
    c.request("POST", &format!("/containers/{}/rename?name={}", enc(old), enc(new)), None)?.check()?;
    Ok(())
}

pub fn top(c: &Client, name: &str, ps_args: &[String]) -> CliResult {
    let q = if ps_args.is_empty() { String::new() } else { format!("?ps_args={}", enc(&ps_args.join(" "))) };
    let v: Value = c.get_json(&format!("/containers/{}/top{q}", enc(name)))?;
    let strs = |x: &Value| -> Vec<String> { x.as_array().into_iter().flatten().map(|s| s.as_str().unwrap_or("").to_string()).collect() };
    let mut rows = vec![strs(&v["Titles"])];
    for p in v["Processes"].as_array().into_iter().flatten() {
        rows.push(strs(p));
    }
    print!("{}", table(&rows));
    Ok(())
}
