//! `berth ps`: Docker's table (Appendix A), `-q`, `--format`, filters.

use clap::Args;
use serde_json::{json, Value};

use super::format::{ellipsis, go_quote};
use super::{CliResult, Failure};
use crate::client::{enc, Client};
use crate::util::time::human_duration;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1)]
    last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long = "latest")]
    latest: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a Go template
    #[arg(long = "format")]
    format: Option<String>,
}

/// Docker's filter arg encoding: `{"status":{"exited":true}}`.
pub fn filters_json(f: &[String]) -> Result<Option<String>, Failure> {
    if f.is_empty() {
        return Ok(None);
    }
    let mut m = serde_json::Map::new();
    for kv in f {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Failure::new(format!("bad format of filter (expected name=value)"), 125))?;
        m.entry(k.to_string()).or_insert_with(|| json!({})).as_object_mut().expect("object").insert(v.to_string(), json!(true));
    }
    Ok(Some(Value::Object(m).to_string()))
}

/// The row object `--format` templates see (Docker's `ContainerContext` fields).
pub fn row(c: &Value, trunc: bool, now: i64) -> Value {
    let id = c["Id"].as_str().unwrap_or("");
    let cmd = c["Command"].as_str().unwrap_or("");
    let created = c["Created"].as_i64().unwrap_or(0);
    let names: Vec<String> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    let labels = c["Labels"].as_object().map(|m| {
        let mut v: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
        v.sort();
        v.join(",")
    });
    json!({
        "ID": if trunc { &id[..id.len().min(12)] } else { id },
        "Image": c["Image"],
        "Command": if trunc { go_quote(&ellipsis(cmd, 20)) } else { go_quote(cmd) },
        "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
        "RunningFor": format!("{} ago", human_duration(now - created)),
        "Ports": super::network::ports_column(&c["Ports"]),
        "State": c["State"],
        "Status": c["Status"],
        "Size": "",
        "Names": names.join(","),
        "Labels": labels.unwrap_or_default(),
        "Mounts": "",
        "Networks": c["NetworkSettings"]["Networks"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default(),
    })
}

fn title(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID",
        "Image" => "IMAGE",
        "Command" => "COMMAND",
        "CreatedAt" => "CREATED AT",
        "RunningFor" => "CREATED",
        "Ports" => "PORTS",
        "State" => "STATE",
        "Status" => "STATUS",
        "Size" => "SIZE",
        "Names" => "NAMES",
        "Labels" => "LABELS",
        "Mounts" => "MOUNTS",
        "Networks" => "NETWORKS",
        other => return other.to_uppercase(),
    }
    .to_string()
}

pub fn ps(c: &Client, a: PsArgs) -> CliResult {
    let mut q = Vec::new();
    if a.all {
        q.push("all=1".to_string());
    }
    let limit = if a.latest { 1 } else { a.last };
    if limit > 0 {
        q.push(format!("limit={limit}"));
    }
    if let Some(f) = filters_json(&a.filter)? {
        q.push(format!("filters={}", enc(&f)));
    }
    let path = if q.is_empty() { "/containers/json".to_string() } else { format!("/containers/json?{}", q.join("&")) };
    let list: Vec<Value> = c.get_json(&path)?;
    let now = chrono::Utc::now().timestamp();
    let trunc = !a.no_trunc;
    if a.quiet {
        for x in &list {
            println!("{}", row(x, trunc, now)["ID"].as_str().unwrap_or(""));
        }
        return Ok(());
    }
    let rows: Vec<Value> = list.iter().map(|x| row(x, trunc, now)).collect();
    super::table::print(a.format, "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}", 125, &rows, &title)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::Template;
    use crate::cli::table::render_rows;

    #[test]
    fn ps_table_like_docker() {
        let now = 1_000_000;
        let list = vec![
            json!({"Id": "764ccc3b4b5c0000", "Image": "bb:l2", "Command": "sh -c 'rm -rf /data && echo x'", "Created": now - 25,
                   "Names": ["/c2"], "State": "exited", "Status": "Exited (0) 25 seconds ago", "Labels": {}}),
            json!({"Id": "b3e0206cb1f2ffff", "Image": "bb", "Command": "sh -c 'echo hello; sleep 1'", "Created": now - 70,
                   "Names": ["/web1"], "State": "running", "Status": "Up About a minute", "Labels": {}}),
        ];
        let tpl = Template::parse("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}").unwrap();
        let out = render_rows(&tpl, &list.iter().map(|x| row(x, true, now)).collect::<Vec<_>>(), &title);
        let expected = "\
CONTAINER ID   IMAGE     COMMAND                  CREATED              STATUS                      PORTS     NAMES
764ccc3b4b5c   bb:l2     \"sh -c 'rm -rf /data…\"   25 seconds ago       Exited (0) 25 seconds ago             c2
b3e0206cb1f2   bb        \"sh -c 'echo hello; …\"   About a minute ago   Up About a minute                     web1
";
        assert_eq!(out, expected);
    }

    #[test]
    fn filter_encoding() {
        assert_eq!(filters_json(&["status=exited".into()]).ok().flatten().unwrap(), r#"{"status":{"exited":true}}"#);
    }
}
