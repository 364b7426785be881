//! `berth stats`: the docker CLI's table (CPU %, MEM USAGE / LIMIT, NET I/O, BLOCK I/O, PIDS)
//! computed from `GET /containers/{id}/stats` the same way (`calculateCPUPercentUnix`,
//! memory usage without the inactive page cache, go-units sizes).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use super::format::Template;
use super::table::render_rows;
use super::{CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Pretty-print images using a Go template
    #[arg(long = "format")]
    format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    containers: Vec<String>,
}

const DEFAULT_FORMAT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Go's `%.{prec}g`.
fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent");
    let trim = |s: &str| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s.to_string() };
    if exp < -4 || exp >= prec as i32 {
        return format!("{}e{}{:02}", trim(mant), if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    trim(&format!("{:.*}", (prec as i32 - 1 - exp).max(0) as usize, v))
}

pub(crate) fn custom_size(size: f64, base: f64, units: &[&str], prec: usize) -> String {
    let (mut s, mut i) = (size, 0);
    while s >= base && i < units.len() - 1 {
        s /= base;
        i += 1;
    }
    format!("{}{}", go_g(s, prec), units[i])
}

/// go-units `BytesSize` (binary, 4 significant digits): `64MiB`, `1.5KiB`.
pub fn bytes_size(b: f64) -> String {
    custom_size(b, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"], 4)
}

/// go-units `HumanSizeWithPrecision(x, 3)` (decimal): `0B`, `1.23kB`.
pub fn human_size(b: f64) -> String {
    custom_size(b, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"], 3)
}

fn u(v: &Value) -> f64 {
    v.as_u64().unwrap_or(0) as f64
}

/// The row a `--format` template sees (the CLI's `statsContext`).
pub fn row(s: &Value, id: &str, name: &str, trunc: bool) -> Value {
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let mut online = u(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"].as_array().map(|a| a.len()).unwrap_or(0) as f64;
    }
    let cpu_pct = if sys_delta > 0.0 && cpu_delta > 0.0 { cpu_delta / sys_delta * online * 100.0 } else { 0.0 };
    let mem = &s["memory_stats"];
    let usage = u(&mem["usage"]);
    let inactive = u(&mem["stats"]["total_inactive_file"]);
    let mem_used = if mem["stats"].get("total_inactive_file").is_some() && inactive < usage { usage - inactive } else { usage };
    let limit = u(&mem["limit"]);
    let mem_pct = if limit != 0.0 { mem_used / limit * 100.0 } else { 0.0 };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s["networks"].as_object().into_iter().flat_map(|m| m.values()) {
        rx += u(&n["rx_bytes"]);
        tx += u(&n["tx_bytes"]);
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"].as_array().into_iter().flatten() {
        match e["op"].as_str().unwrap_or("").to_ascii_lowercase().as_str() {
            "read" => rd += u(&e["value"]),
            "write" => wr += u(&e["value"]),
            _ => {}
        }
    }
    let short = if trunc { id.chars().take(12).collect() } else { id.to_string() };
    json!({
        "ID": short, "Container": short, "Name": name.trim_start_matches('/'),
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(mem_used), bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", human_size(rx), human_size(tx)),
        "BlockIO": format!("{} / {}", human_size(rd), human_size(wr)),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

fn title(f: &str) -> String {
    match f {
        "ID" => "CONTAINER ID",
        "Container" => "CONTAINER",
        "Name" => "NAME",
        "CPUPerc" => "CPU %",
        "MemUsage" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET I/O",
        "BlockIO" => "BLOCK I/O",
        "PIDs" => "PIDS",
        o => return o.to_uppercase(),
    }
    .to_string()
}

/// Containers to show: the named ones (resolved to id and name) or the running (`-a`: all).
fn targets(c: &Client, a: &StatsArgs) -> Result<Vec<(String, String)>, Failure> {
    if a.containers.is_empty() {
        let list: Vec<Value> = c.get_json(&format!("/containers/json{}", if a.all { "?all=1" } else { "" }))?;
        return Ok(list
            .iter()
            .map(|x| (x["Id"].as_str().unwrap_or("").to_string(), x["Names"][0].as_str().unwrap_or("").to_string()))
            .collect());
    }
    let mut out = Vec::new();
    for n in &a.containers {
        let v: Value = c.get_json(&format!("/containers/{}/json", enc(n)))?;
        out.push((v["Id"].as_str().unwrap_or("").to_string(), v["Name"].as_str().unwrap_or("").to_string()));
    }
    Ok(out)
}

pub fn stats(c: &Client, a: StatsArgs) -> CliResult {
    let tpl = Template::parse(a.format.as_deref().filter(|f| !f.is_empty()).unwrap_or(DEFAULT_FORMAT))
        .map_err(|e| Failure::new(e.to_string(), 125))?;
    let trunc = !a.no_trunc;
    let targets = targets(c, &a)?;
    if a.no_stream {
        // One request per container in parallel: each takes about a second (CPU priming).
        let handles: Vec<_> = targets
            .iter()
            .map(|(id, name)| {
                let (c, id, name) = (c.clone(), id.clone(), name.clone());
                std::thread::spawn(move || -> Result<Value, Failure> {
                    let s: Value = c.get_json(&format!("/containers/{id}/stats?stream=0"))?;
                    Ok(row(&s, &id, &name, trunc))
                })
            })
            .collect();
        let mut rows = Vec::new();
        for h in handles {
            rows.push(h.join().map_err(|_| Failure::new("stats worker panicked", 1))??);
        }
        print!("{}", render_rows(&tpl, &rows, &title));
        return Ok(());
    }
    // Streaming: one reader per container keeps the latest row; the screen is redrawn.
    let latest: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    for (id, name) in &targets {
        let (c, id, name, latest) = (c.clone(), id.clone(), name.clone(), latest.clone());
        std::thread::spawn(move || {
            let Ok(r) = c.request("GET", &format!("/containers/{id}/stats?stream=1"), None).and_then(|r| r.check()) else { return };
            let mut r = r;
            for l in BufReader::new(r.reader()).lines() {
                let Ok(l) = l else { break };
                if let Ok(s) = serde_json::from_str::<Value>(&l) {
                    latest.lock().unwrap().insert(id.clone(), row(&s, &id, &name, trunc));
                }
            }
        });
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let rows: Vec<Value> = {
            let g = latest.lock().unwrap();
            targets.iter().filter_map(|(id, _)| g.get(id).cloned()).collect()
        };
        let mut out = std::io::stdout();
        if write!(out, "\x1b[2J\x1b[H{}", render_rows(&tpl, &rows, &title)).and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_like_go() {
        assert_eq!(bytes_size(64.0 * 1024.0 * 1024.0), "64MiB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(25_200_000_000.0), "23.47GiB");
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(1234.0), "1.23kB");
        assert_eq!(human_size(999_600.0), "1e+03kB");
        assert_eq!(go_g(0.0001234, 3), "0.000123");
    }

    #[test]
    fn row_like_the_docker_cli() {
        let s = json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 3 << 20, "limit": 64 << 20, "stats": {"total_inactive_file": 1 << 20}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 10}, {"op": "Total", "value": 4106}]},
            "pids_stats": {"current": 3},
        });
        let r = row(&s, "0123456789abcdef", "/web", true);
        assert_eq!(r["CPUPerc"], "40.00%");
        assert_eq!(r["MemUsage"], "2MiB / 64MiB");
        assert_eq!(r["MemPerc"], "3.12%");
        assert_eq!(r["NetIO"], "0B / 0B");
        assert_eq!(r["BlockIO"], "4.1kB / 10B");
        assert_eq!(r["PIDs"], "3");
        let t = Template::parse(DEFAULT_FORMAT).unwrap();
        assert_eq!(
            render_rows(&t, &[r], &title),
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O     PIDS\n\
             0123456789ab   web       40.00%    2MiB / 64MiB        3.12%     0B / 0B   4.1kB / 10B   3\n"
        );
    }
}
