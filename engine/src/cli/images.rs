//! Image commands: `images`, `tag`, `rmi`, `history`, `save`, `load`, `import`, `commit`.

use std::io::{Read, Write};

use clap::Args;
use serde_json::{json, Value};

use super::ps::filters_json;
use super::system::human_size;
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client};
use crate::util::time::human_duration;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a Go template
    #[arg(long = "format")]
    format: Option<String>,
    /// Repository to list (`bb`, `bb:1`)
    repository: Option<String>,
}

fn image_title(f: &str) -> String {
    match f {
        "Repository" => "REPOSITORY",
        "Tag" => "TAG",
        "ID" => "IMAGE ID",
        "CreatedSince" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "Size" => "SIZE",
        "Digest" => "DIGEST",
        other => return other.to_uppercase(),
    }
    .to_string()
}

/// Rows as `docker images` shows them: one per tag, `<none>` for dangling images.
pub fn image_rows(list: &[Value], trunc: bool, now: i64) -> Vec<Value> {
    let mut rows = Vec::new();
    for i in list {
        let id = i["Id"].as_str().unwrap_or("");
        let short = if trunc { id.strip_prefix("sha256:").unwrap_or(id)[..12.min(id.len())].to_string() } else { id.to_string() };
        let created = i["Created"].as_i64().unwrap_or(0);
        let size = human_size(i["Size"].as_f64().unwrap_or(0.0));
        let tags: Vec<String> = i["RepoTags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(String::from)).collect();
        let tags = if tags.is_empty() { vec!["<none>:<none>".to_string()] } else { tags };
        for t in tags {
            let (repo, tag) = t.rsplit_once(':').map(|(r, t)| (r.to_string(), t.to_string())).unwrap_or((t.clone(), "<none>".into()));
            rows.push(json!({
                "Repository": repo, "Tag": tag, "ID": short, "Digest": "<none>",
                "CreatedSince": format!("{} ago", human_duration(now - created)),
                "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
                "Size": size,
            }));
        }
    }
    rows
}

pub fn images(c: &Client, a: ImagesArgs) -> CliResult {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.repository {
        filters.push(format!("reference={r}"));
    }
    let mut q = Vec::new();
    if a.all {
        q.push("all=1".to_string());
    }
    if let Some(f) = filters_json(&filters)? {
        q.push(format!("filters={}", enc(&f)));
    }
    let path = if q.is_empty() { "/images/json".into() } else { format!("/images/json?{}", q.join("&")) };
    let list: Vec<Value> = c.get_json(&path)?;
    let rows = image_rows(&list, !a.no_trunc, chrono::Utc::now().timestamp());
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or("").to_string();
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(());
    }
    super::table::print(a.format, "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}", 125, &rows, &image_title)
}

pub fn tag(c: &Client, source: &str, target: &str) -> CliResult {
    let (repo, tag) = match target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (target.to_string(), "latest".to_string()),
    };
    c.request("POST", &format!("/images/{source}/tag?repo={}&tag={}", enc(&repo), enc(&tag)), None)?.check()?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long = "force")]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn rmi(c: &Client, a: RmiArgs) -> CliResult {
    let mut q = Vec::new();
    if a.force {
        q.push("force=1");
    }
    if a.no_prune {
        q.push("noprune=1");
    }
    let q = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    let mut failed = false;
    for i in &a.images {
        match c.request("DELETE", &format!("/images/{i}{q}"), None).and_then(|r| r.check()).and_then(|r| r.json::<Vec<Value>>()) {
            Ok(items) => {
                for it in items {
                    if let Some(u) = it["Untagged"].as_str() {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = it["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => {
                eprintln!("{}", daemon_error(&e));
                failed = true;
            }
        }
    }
    if failed { Err(Failure::silent(1)) } else { Ok(()) }
}

pub fn history(c: &Client, image: &str, no_trunc: bool, quiet: bool) -> CliResult {
    let list: Vec<Value> = c.get_json(&format!("/images/{image}/history"))?;
    let now = chrono::Utc::now().timestamp();
    let mut rows = vec![vec!["IMAGE".into(), "CREATED".into(), "CREATED BY".into(), "SIZE".into(), "COMMENT".into()]];
    for h in &list {
        let id = h["Id"].as_str().unwrap_or("");
        let id = if no_trunc || id == "<missing>" { id.to_string() } else { id.strip_prefix("sha256:").unwrap_or(id)[..12.min(id.len())].to_string() };
        if quiet {
            println!("{id}");
            continue;
        }
        let by = h["CreatedBy"].as_str().unwrap_or("").to_string();
        let by = if no_trunc { by } else { super::format::ellipsis(&by, 45) };
        rows.push(vec![
            id,
            format!("{} ago", human_duration(now - h["Created"].as_i64().unwrap_or(0))),
            by,
            human_size(h["Size"].as_f64().unwrap_or(0.0)),
            h["Comment"].as_str().unwrap_or("").to_string(),
        ]);
    }
    if !quiet {
        print!("{}", super::format::table(&rows));
    }
    Ok(())
}

pub fn save(c: &Client, output: Option<&str>, images: &[String]) -> CliResult {
    if output.is_none() && super::stream::is_tty(1) {
        return Err(Failure::new("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1));
    }
    let q: Vec<String> = images.iter().map(|i| format!("names={}", enc(i))).collect();
    let mut r = c.request("GET", &format!("/images/get?{}", q.join("&")), None)?.check()?;
    let io = |e: std::io::Error| Failure::new(e.to_string(), 1);
    match output {
        Some(p) => {
            let tmp = format!("{p}.tmp{}", std::process::id());
            let mut f = std::fs::File::create(&tmp).map_err(|e| Failure::new(format!("failed to save image: {e}"), 1))?;
            std::io::copy(r.reader(), &mut f).map_err(io)?;
            std::fs::rename(&tmp, p).map_err(io)?;
        }
        None => {
            std::io::copy(r.reader(), &mut std::io::stdout()).map_err(io)?;
        }
    }
    Ok(())
}

fn read_input(input: Option<&str>) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    match input {
        Some("-") | None => {
            std::io::stdin().read_to_end(&mut data).map_err(|e| Failure::new(e.to_string(), 1))?;
        }
        Some(p) => {
            data = std::fs::read(p).map_err(|e| Failure::new(format!("open {p}: {}", e.to_string().split(" (os").next().unwrap_or("")), 1))?;
        }
    }
    Ok(data)
}

/// Print a JSON-lines progress stream (`stream`/`status` lines); an `error` line fails.
fn print_stream(r: crate::client::Response) -> CliResult {
    let b = r.bytes()?;
    for line in String::from_utf8_lossy(&b).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if let Some(e) = v["error"].as_str() {
            return Err(Failure::new(e.to_string(), 1));
        }
        if let Some(s) = v["stream"].as_str() {
            print!("{s}");
        } else if let Some(s) = v["status"].as_str() {
            println!("{s}");
        }
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

/// `berth load`: like the docker CLI, `quiet=0` only when stdout is a terminal (then the layers'
/// `Loading layer` progress shows as bars); the `Loaded image: …` lines print either way.
pub fn load(c: &Client, input: Option<&str>, quiet: bool) -> CliResult {
    if input.is_none() && super::stream::is_tty(0) {
        return Err(Failure::new("requested load from stdin, but stdin is empty", 1));
    }
    let data = read_input(input)?;
    let tty = super::stream::is_tty(1);
    let q = if quiet || !tty { "?quiet=1" } else { "?quiet=0" };
    let mut r = c.request("POST", &format!("/images/load{q}"), Some(("application/x-tar", &data)))?.check()?;
    if r.header("Content-Type") != Some("application/json") {
        let io = |e: std::io::Error| Failure::new(e.to_string(), 1);
        std::io::copy(r.reader(), &mut std::io::stdout()).map_err(io)?;
        return Ok(());
    }
    let mut out = std::io::stdout();
    let res = super::registry_progress::display(r.reader(), &mut out, tty);
    let _ = out.flush();
    res.map(|_| ()).map_err(|e| Failure::new(e.0, 1))
}

pub fn import(c: &Client, source: &str, repo: Option<&str>, message: Option<&str>, changes: &[String]) -> CliResult {
    let data = read_input(Some(source))?;
    let mut q = vec![format!("fromSrc=-")];
    if let Some(r) = repo {
        let (name, tag) = match r.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string()),
            _ => (r.to_string(), String::new()),
        };
        q.push(format!("repo={}", enc(&name)));
        if !tag.is_empty() {
            q.push(format!("tag={}", enc(&tag)));
        }
    }
    if let Some(m) = message {
        q.push(format!("message={}", enc(m)));
    }
    for ch in changes {
        q.push(format!("changes={}", enc(ch)));
    }
    print_stream(c.request("POST", &format!("/images/create?{}", q.join("&")), Some(("application/x-tar", &data)))?.check()?)
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author
    #[arg(short = 'a', long = "author")]
    author: Option<String>,
    /// Commit message
    #[arg(short = 'm', long = "message")]
    message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    change: Vec<String>,
    /// Pause container during commit
    #[arg(short = 'p', long = "pause", default_value_t = true)]
    pause: bool,
    container: String,
    repository: Option<String>,
}

pub fn commit(c: &Client, a: CommitArgs) -> CliResult {
    let mut q = vec![format!("container={}", enc(&a.container))];
    if let Some(r) = &a.repository {
        let (name, tag) = match r.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n.to_string(), t.to_string()),
            _ => (r.to_string(), String::new()),
        };
        q.push(format!("repo={}", enc(&name)));
        q.push(format!("tag={}", enc(&tag)));
    }
    q.push(format!("author={}", enc(a.author.as_deref().unwrap_or(""))));
    q.push(format!("comment={}", enc(a.message.as_deref().unwrap_or(""))));
    for ch in &a.change {
        q.push(format!("changes={}", enc(ch)));
    }
    if a.pause {
        q.push("pause=1".into());
    }
    let v: Value = c.post(&format!("/commit?{}", q.join("&")))?.json()?;
    println!("{}", v["Id"].as_str().unwrap_or(""));
    Ok(())
}

/// `berth diff`: `C /etc`, `A /data.txt`, `D /gone`.
pub fn diff(c: &Client, container: &str) -> CliResult {
    let v: Vec<Value> = c.get_json(&format!("/containers/{}/changes", enc(container)))?;
    for ch in v {
        let k = match ch["Kind"].as_i64() {
            Some(0) => "C",
            Some(1) => "A",
            Some(2) => "D",
            _ => "?",
        };
        println!("{k} {}", ch["Path"].as_str().unwrap_or(""));
    }
    Ok(())
}

pub fn export(c: &Client, output: Option<&str>, container: &str) -> CliResult {
    if output.is_none() && super::stream::is_tty(1) {
        return Err(Failure::new("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1));
    }
    let mut r = c.request("GET", &format!("/containers/{}/export", enc(container)), None)?.check()?;
    let io = |e: std::io::Error| Failure::new(e.to_string(), 1);
    match output {
        Some(p) => {
            let tmp = format!("{p}.tmp{}", std::process::id());
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            std::io::copy(r.reader(), &mut f).map_err(io)?;
            std::fs::rename(&tmp, p).map_err(io)?;
        }
        None => {
            std::io::copy(r.reader(), &mut std::io::stdout()).map_err(io)?;
        }
    }
    Ok(())
}
