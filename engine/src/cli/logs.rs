//! `berth logs`: inspect for `Config.Tty`, then the logs stream (demultiplexed unless TTY).

use std::io::Write;

use clap::Args;
use serde_json::Value;

use super::{CliResult, Failure};
use crate::client::{enc, Client};
use crate::shim::proto;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long = "follow")]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long = "tail", default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short = 't', long = "timestamps")]
    timestamps: bool,
    /// Show logs since timestamp (RFC3339 or Unix seconds)
    #[arg(long = "since")]
    since: Option<String>,
    /// Show logs before a timestamp
    #[arg(long = "until")]
    until: Option<String>,
    container: String,
}

pub fn logs(c: &Client, a: LogsArgs) -> CliResult {
    let name = enc(&a.container);
    let info: Value = c.get_json(&format!("/containers/{name}/json"))?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = vec!["stderr=1".to_string(), "stdout=1".to_string(), format!("tail={}", enc(&a.tail))];
    if a.follow {
        q.push("follow=1".into());
    }
    if a.timestamps {
        q.push("timestamps=1".into());
    }
    if let Some(s) = &a.since {
        q.push(format!("since={}", enc(s)));
    }
    if let Some(u) = &a.until {
        q.push(format!("until={}", enc(u)));
    }
    let mut r = c.request("GET", &format!("/containers/{name}/logs?{}", q.join("&")), None)?.check()?;
    let rd = r.reader();
    let io = |e: std::io::Error| Failure::new(e.to_string(), 1);
    if tty {
        std::io::copy(rd, &mut std::io::stdout()).map_err(io)?;
        return Ok(());
    }
    while let Some((s, p)) = proto::read_frame(rd).map_err(io)? {
        if s == proto::STDERR {
            std::io::stderr().write_all(&p).map_err(io)?;
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(&p).map_err(io)?;
            o.flush().map_err(io)?;
        }
    }
    Ok(())
}
