//! `berth inspect`: containers, then images (the docker CLI's probing order), `-f` templates.

use clap::Args;
use serde_json::Value;

use super::format::{pretty_json, Template};
use super::{daemon_error, CliResult, Failure};
use crate::client::{enc, Client, ClientError};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    kind: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

fn probe(c: &Client, name: &str, kind: Option<&str>) -> Result<Value, ClientError> {
    let n = enc(name);
    let paths: Vec<String> = match kind {
        Some("container") => vec![format!("/containers/{n}/json")],
        Some("image") => vec![format!("/images/{name}/json")],
        Some("volume") => vec![format!("/volumes/{n}")],
        Some("network") => vec![format!("/networks/{n}")],
        _ => vec![format!("/containers/{n}/json"), format!("/images/{name}/json"), format!("/volumes/{n}"), format!("/networks/{n}")],
    };
    let mut last = None;
    for p in paths {
        match c.get_json::<Value>(&p) {
            Ok(v) => return Ok(v),
            Err(e @ ClientError::Api { status: 404, .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one path"))
}

pub fn inspect(c: &Client, a: InspectArgs) -> CliResult {
    let tpl = a.format.as_deref().map(Template::parse).transpose().map_err(|e| Failure::new(e.to_string(), 1))?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        match probe(c, n, a.kind.as_deref()) {
            Ok(v) => found.push(v),
            Err(ClientError::Api { status: 404, .. }) => errors.push(format!("Error: No such object: {n}")),
            Err(e) => errors.push(daemon_error(&e)),
        }
    }
    match &tpl {
        Some(t) => {
            for v in &found {
                println!("{}", t.render(v));
            }
        }
        None => println!("{}", pretty_json(&Value::Array(found))),
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(Failure::new(errors.join("\n"), 1))
}
