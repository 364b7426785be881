//! `create`: set the container up and leave its init blocked before execve.

use super::args::{parse, Flag, Parsed};
use super::{one_id, CmdResult, Globals};
use crate::process::{self, CreateOptions};
use std::path::PathBuf;

pub(super) const FLAGS: &[Flag] = &[
    Flag("bundle", &["--bundle", "-b"], true),
    Flag("pid-file", &["--pid-file"], true),
    Flag("console-socket", &["--console-socket"], true),
    Flag("preserve-fds", &["--preserve-fds"], true),
    Flag("no-pivot", &["--no-pivot"], false),
    Flag("no-new-keyring", &["--no-new-keyring"], false),
    Flag("detach", &["--detach", "-d"], false),
    Flag("keep", &["--keep"], false),
];

pub(super) fn options(g: &Globals, p: &Parsed, verb: &str) -> Result<CreateOptions, String> {
    let id = one_id(p, verb)?;
    let bundle = PathBuf::from(p.value("bundle").unwrap_or("."));
    let bundle = std::path::absolute(&bundle).map_err(|e| format!("--bundle {}: {e}", bundle.display()))?;
    let abs = |v: Option<&str>| v.map(|s| std::path::absolute(s).unwrap_or_else(|_| PathBuf::from(s)));
    let preserve_fds = match p.value("preserve-fds") {
        Some(v) => v.parse().map_err(|_| format!("--preserve-fds: {v:?} is not a number"))?,
        None => 0,
    };
    Ok(CreateOptions {
        id,
        root: g.root.clone(),
        bundle,
        console_socket: abs(p.value("console-socket")),
        pid_file: abs(p.value("pid-file")),
        preserve_fds,
        console_fd: None,
    })
}

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse("create", argv, FLAGS)?;
    let opts = options(g, &p, "create")?;
    process::create(&opts).map_err(|e| e.to_string())?;
    Ok(0)
}
