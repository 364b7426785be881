//! `berth volume ls|create|inspect|rm|prune`.

use clap::Subcommand;
use serde_json::{json, Value};

use super::format::pretty_json;
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// List volumes
    #[command(alias = "list")]
    Ls {
        /// Only display volume names
        #[arg(short = 'q', long = "quiet")]
        quiet: bool,
    },
    /// Create a volume
    Create { name: Option<String> },
    /// Display detailed information on one or more volumes
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes
        #[arg(short = 'f', long = "force")]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove unused local volumes
    Prune {
        /// Do not prompt for confirmation
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

pub fn volume(c: &Client, cmd: VolumeCmd) -> CliResult {
    match cmd {
        VolumeCmd::Ls { quiet } => {
            let v: Value = c.get_json("/volumes")?;
            let vols = v["Volumes"].as_array().cloned().unwrap_or_default();
            if quiet {
                for x in &vols {
                    println!("{}", x["Name"].as_str().unwrap_or(""));
                }
                return Ok(());
            }
            let title = |f: &str| if f == "Name" { "VOLUME NAME".to_string() } else { f.to_uppercase() };
            super::table::print(None, "table {{.Driver}}\t{{.Name}}", 1, &vols, &title)
        }
        VolumeCmd::Create { name } => {
            let v: Value = c.post_json("/volumes/create", &json!({"Name": name.unwrap_or_default()}))?.json()?;
            println!("{}", v["Name"].as_str().unwrap_or(""));
            Ok(())
        }
        VolumeCmd::Inspect { names } => {
            let mut out = Vec::new();
            let mut errs = Vec::new();
            for n in &names {
                match c.get_json::<Value>(&format!("/volumes/{}", enc(n))) {
                    Ok(v) => out.push(v),
                    Err(e) => errs.push(daemon_error(&e)),
                }
            }
            println!("{}", pretty_json(&Value::Array(out)));
            if errs.is_empty() { Ok(()) } else { Err(Failure::new(errs.join("\n"), 1)) }
        }
        VolumeCmd::Rm { force, names } => {
            let mut failed = false;
            for n in &names {
                let q = if force { "?force=1" } else { "" };
                match c.request("DELETE", &format!("/volumes/{}{q}", enc(n)), None).and_then(|r| r.check()) {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{}", daemon_error(&e));
                        failed = true;
                    }
                }
            }
            if failed { Err(Failure::silent(1)) } else { Ok(()) }
        }
        VolumeCmd::Prune { force: _ } => {
            let v: Value = c.post("/volumes/prune")?.json()?;
            let deleted = v["VolumesDeleted"].as_array().cloned().unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Volumes:");
                for d in deleted {
                    println!("{}", d.as_str().unwrap_or(""));
                }
                println!();
            }
            println!("Total reclaimed space: {}", super::system::human_size(v["SpaceReclaimed"].as_f64().unwrap_or(0.0)));
            Ok(())
        }
    }
}
