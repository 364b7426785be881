//! `berth network create|ls|inspect|rm|connect|disconnect|prune` and `berth port`, with the
//! docker CLI's flags, tables and messages.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::format::{pretty_json, Template};
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client, ClientError};

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs
        #[arg(short = 'q', long = "quiet")]
        quiet: bool,
        /// Do not truncate the output
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        /// Provide filter values (e.g. "driver=bridge")
        #[arg(short = 'f', long = "filter")]
        filter: Vec<String>,
        /// Format output using a custom template
        #[arg(long = "format")]
        format: Option<String>,
    },
    /// Display detailed information on one or more networks
    Inspect {
        /// Format output using a custom template
        #[arg(short = 'f', long = "format")]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm {
        /// Do not error if the network does not exist
        #[arg(short = 'f', long = "force")]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Connect a container to a network
    Connect {
        /// Add network-scoped alias for the container
        #[arg(long = "alias")]
        alias: Vec<String>,
        /// IPv4 address (e.g., "172.30.100.104")
        #[arg(long = "ip")]
        ip: Option<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect {
        /// Force the container to disconnect from a network
        #[arg(short = 'f', long = "force")]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove all unused networks
    Prune {
        /// Do not prompt for confirmation
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long = "driver", default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet")]
    subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway")]
    gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    ip_range: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long = "label")]
    label: Vec<String>,
    /// Restrict external access to the network
    #[arg(long = "internal")]
    internal: bool,
    /// Enable manual container attachment
    #[arg(long = "attachable")]
    attachable: bool,
    name: String,
}

fn kv_map(items: &[String]) -> Map<String, Value> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l.to_string(), json!("")),
        })
        .collect()
}

/// `docker network create`'s body: one IPAM config per `--subnet`, the gateway and range
/// paired with it, as the CLI does.
fn create_body(a: &CreateArgs) -> Result<Value, String> {
    if a.subnet.len() > 1 {
        return Err("berth supports one --subnet per network".into());
    }
    if a.subnet.is_empty() && (!a.gateway.is_empty() || !a.ip_range.is_empty()) {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let config: Vec<Value> = a
        .subnet
        .iter()
        .map(|s| json!({"Subnet": s, "IPRange": a.ip_range.first().cloned().unwrap_or_default(), "Gateway": a.gateway.first().cloned().unwrap_or_default()}))
        .collect();
    Ok(json!({
        "Name": a.name, "CheckDuplicate": true, "Driver": a.driver, "Scope": "", "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": a.internal, "Attachable": a.attachable, "Ingress": false, "ConfigOnly": false,
        "Options": kv_map(&a.opt), "Labels": kv_map(&a.label),
    }))
}

fn title(f: &str) -> String {
    match f {
        "ID" => "NETWORK ID".into(),
        "CreatedAt" => "CREATED AT".into(),
        "IPv6" => "IPV6".into(),
        other => other.to_uppercase(),
    }
}

fn ls_row(n: &Value, trunc: bool) -> Value {
    let id = n["Id"].as_str().unwrap_or("");
    let labels = n["Labels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")).unwrap_or_default();
    json!({
        "ID": if trunc { &id[..id.len().min(12)] } else { id },
        "Name": n["Name"], "Driver": n["Driver"], "Scope": n["Scope"],
        "IPv6": n["EnableIPv6"].as_bool().unwrap_or(false).to_string(),
        "Internal": n["Internal"].as_bool().unwrap_or(false).to_string(),
        "Labels": labels, "CreatedAt": n["Created"],
    })
}

pub fn network(c: &Client, cmd: NetworkCmd) -> CliResult {
    match cmd {
        NetworkCmd::Create(a) => {
            let body = create_body(&a).map_err(|m| Failure::new(m, 1))?;
            let v: Value = c.post_json("/networks/create", &body)?.json()?;
            println!("{}", v["Id"].as_str().unwrap_or(""));
            Ok(())
        }
        NetworkCmd::Ls { quiet, no_trunc, filter, format } => {
            let filters = super::ps::filters_json(&filter)?;
            let path = match filters {
                Some(f) => format!("/networks?filters={}", enc(&f)),
                None => "/networks".to_string(),
            };
            let mut list: Vec<Value> = c.get_json(&path)?;
            list.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            let rows: Vec<Value> = list.iter().map(|n| ls_row(n, !no_trunc)).collect();
            if quiet {
                for r in &rows {
                    println!("{}", r["ID"].as_str().unwrap_or(""));
                }
                return Ok(());
            }
            super::table::print(format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", 1, &rows, &title)
        }
        NetworkCmd::Inspect { format, names } => {
            let tpl = format.as_deref().map(Template::parse).transpose().map_err(|e| Failure::new(e.to_string(), 1))?;
            let mut found = Vec::new();
            let mut errs = Vec::new();
            for n in &names {
                match c.get_json::<Value>(&format!("/networks/{}", enc(n))) {
                    Ok(v) => found.push(v),
                    Err(ClientError::Api { status: 404, .. }) => errs.push(format!("Error: No such network: {n}")),
                    Err(e) => errs.push(daemon_error(&e)),
                }
            }
            match &tpl {
                Some(t) => found.iter().for_each(|v| println!("{}", t.render(v))),
                None => println!("{}", pretty_json(&Value::Array(found))),
            }
            if errs.is_empty() { Ok(()) } else { Err(Failure::new(errs.join("\n"), 1)) }
        }
        NetworkCmd::Rm { force, names } => {
            let mut failed = false;
            for n in &names {
                match c.request("DELETE", &format!("/networks/{}", enc(n)), None).and_then(|r| r.check()) {
                    Ok(_) => println!("{n}"),
                    Err(ClientError::Api { status: 404, .. }) if force => {}
                    Err(e) => {
                        eprintln!("{}", daemon_error(&e));
                        failed = true;
                    }
                }
            }
            if failed { Err(Failure::silent(1)) } else { Ok(()) }
        }
        NetworkCmd::Connect { alias, ip, network, container } => {
            let ipam = ip.map(|i| json!({"IPv4Address": i})).unwrap_or(Value::Null);
            let body = json!({"Container": container, "EndpointConfig": {"IPAMConfig": ipam, "Aliases": alias}});
            c.post_json(&format!("/networks/{}/connect", enc(&network)), &body)?;
            Ok(())
        }
        NetworkCmd::Disconnect { force, network, container } => {
            c.post_json(&format!("/networks/{}/disconnect", enc(&network)), &json!({"Container": container, "Force": force}))?;
            Ok(())
        }
        NetworkCmd::Prune { force } => {
            if !force {
                eprint!("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                if !matches!(line.trim(), "y" | "Y" | "yes") {
                    return Ok(());
                }
            }
            let v: Value = c.post("/networks/prune")?.json()?;
            let deleted = v["NetworksDeleted"].as_array().cloned().unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Networks:");
                for d in deleted {
                    println!("{}", d.as_str().unwrap_or(""));
                }
            }
            Ok(())
        }
    }
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`, from inspect's `NetworkSettings.Ports`.
pub fn port(c: &Client, container: &str, private: Option<&str>) -> CliResult {
    let v: Value = c.get_json(&format!("/containers/{}/json", enc(container)))?;
    let ports = v["NetworkSettings"]["Ports"].as_object().cloned().unwrap_or_default();
    let mut lines: Vec<(u16, String, String)> = Vec::new();
    for (key, binds) in &ports {
        let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        for b in binds.as_array().into_iter().flatten() {
            let host = format!("{}:{}", b["HostIp"].as_str().unwrap_or(""), b["HostPort"].as_str().unwrap_or(""));
            lines.push((p.parse().unwrap_or(0), format!("{p}/{proto}"), host));
        }
    }
    lines.sort();
    match private {
        Some(want) => {
            let key = if want.contains('/') { want.to_string() } else { format!("{want}/tcp") };
            let hits: Vec<&(u16, String, String)> = lines.iter().filter(|l| l.1 == key).collect();
            if hits.is_empty() {
                return Err(Failure::new(format!("Error: No public port '{key}' published for {container}"), 1));
            }
            hits.iter().for_each(|l| println!("{}", l.2));
        }
        None => lines.iter().for_each(|l| println!("{} -> {}", l.1, l.2)),
    }
    Ok(())
}

/// The `PORTS` column of `ps`: `0.0.0.0:8000->80/tcp, 443/tcp`.
pub fn ports_column(ports: &Value) -> String {
    let mut v: Vec<&Value> = ports.as_array().map(|a| a.iter().collect()).unwrap_or_default();
    v.sort_by_key(|p| (p["PrivatePort"].as_u64(), p["Type"].as_str().map(String::from), p["IP"].as_str().map(String::from)));
    v.iter()
        .map(|p| {
            let private = format!("{}/{}", p["PrivatePort"].as_u64().unwrap_or(0), p["Type"].as_str().unwrap_or("tcp"));
            match p["PublicPort"].as_u64() {
                Some(pp) => format!("{}:{pp}->{private}", p["IP"].as_str().unwrap_or("")),
                None => private,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_ports() {
        let p = json!([{"PrivatePort": 443, "Type": "tcp"}, {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8000, "Type": "tcp"}]);
        assert_eq!(ports_column(&p), "0.0.0.0:8000->80/tcp, 443/tcp");
        assert_eq!(ports_column(&json!([])), "");
    }

    #[test]
    fn course_create_body() {
        let a = CreateArgs {
            driver: "bridge".into(),
            subnet: vec!["172.18.0.0/16".into()],
            gateway: vec!["172.18.0.1".into()],
            ip_range: vec![],
            opt: vec!["com.docker.network.bridge.name=docker1".into()],
            label: vec![],
            internal: false,
            attachable: false,
            name: "bridge0".into(),
        };
        let b = create_body(&a).unwrap();
        assert_eq!(b["IPAM"]["Config"][0]["Gateway"], "172.18.0.1");
        assert_eq!(b["Options"]["com.docker.network.bridge.name"], "docker1");
        let bad = CreateArgs { subnet: vec![], ..a };
        assert!(create_body(&bad).is_err());
    }
}
