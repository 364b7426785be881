//! `exec`: run a process in a running container (runc's flags). Detached, it returns once the
//! process runs (its pid in --pid-file); in the foreground it waits and exits with its status.

use super::args::{parse_until_positional, Flag};
use super::{run, CmdResult, Globals};
use crate::process::exec::{self, ExecOptions};
use std::path::PathBuf;

const FLAGS: &[Flag] = &[
    Flag("process", &["--process", "-p"], true),
    Flag("detach", &["--detach", "-d"], false),
    Flag("pid-file", &["--pid-file"], true),
    Flag("console-socket", &["--console-socket"], true),
    Flag("tty", &["--tty", "-t"], false),
    Flag("cwd", &["--cwd"], true),
    Flag("env", &["--env", "-e"], true),
    Flag("user", &["--user", "-u"], true),
    Flag("additional-gids", &["--additional-gids", "-g"], true),
    Flag("cap", &["--cap", "-c"], true),
    Flag("no-new-privs", &["--no-new-privs"], false),
    Flag("preserve-fds", &["--preserve-fds"], true),
    Flag("process-label", &["--process-label"], true),
    Flag("apparmor", &["--apparmor"], true),
    Flag("ignore-paused", &["--ignore-paused"], false),
];

pub(super) fn run(g: &Globals, argv: &[String]) -> CmdResult {
    let p = parse_until_positional("exec", argv, FLAGS)?;
    let Some((id, command)) = p.positional.split_first() else {
        return Err("exec: container id cannot be empty".into());
    };
    super::load(g, id)?;
    let (st, spec) = exec::target(&g.root, id).map_err(|e| e.to_string())?;
    let mut process = match p.value("process") {
        Some(file) => {
            let mut pr = exec::load_process(std::path::Path::new(file))?;
            // runc: a process without capabilities gets the container's.
            if pr.capabilities.is_none() {
                pr.capabilities = spec.process().capabilities.clone();
            }
            pr
        }
        None => {
            if command.is_empty() {
                return Err("exec: no command given (and no --process)".into());
            }
            let mut pr = spec.process().clone();
            pr.args = command.to_vec();
            pr.terminal = p.flag("tty");
            pr
        }
    };
    for e in p.all("env") {
        let key = e.split('=').next().unwrap_or(e);
        process.env.retain(|x| x.split('=').next() != Some(key));
        process.env.push(e.to_string());
    }
    if let Some(cwd) = p.value("cwd") {
        process.cwd = PathBuf::from(cwd);
    }
    if let Some(u) = p.value("user") {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        process.user.uid = uid.parse().map_err(|_| format!("exec: --user {u:?}: expected UID[:GID]"))?;
        process.user.gid = gid.parse().map_err(|_| format!("exec: --user {u:?}: expected UID[:GID]"))?;
    }
    for gid in p.all("additional-gids") {
        process.user.additional_gids.push(gid.parse().map_err(|_| format!("exec: --additional-gids {gid:?}"))?);
    }
    for cap in p.all("cap") {
        if crate::capabilities::cap_number(cap).is_none() {
            return Err(format!("exec: --cap: unknown capability {cap:?}"));
        }
        let caps = process.capabilities.get_or_insert_with(Default::default);
        for set in [&mut caps.bounding, &mut caps.effective, &mut caps.permitted, &mut caps.inheritable] {
            set.push(cap.to_string());
        }
    }
    if p.flag("no-new-privs") {
        process.no_new_privileges = true;
    }
    let detach = p.flag("detach");
    let abs = |v: Option<&str>| v.map(|s| std::path::absolute(s).unwrap_or_else(|_| PathBuf::from(s)));
    let mut opts = ExecOptions {
        root: g.root.clone(),
        id: id.clone(),
        console_socket: abs(p.value("console-socket")),
        pid_file: abs(p.value("pid-file")),
        preserve_fds: p.value("preserve-fds").map_or(Ok(0), |v| v.parse().map_err(|_| format!("--preserve-fds {v:?}")))?,
        console_fd: None,
        process,
    };
    if detach {
        exec::exec(&opts, &st, &spec).map_err(|e| e.to_string())?;
        return Ok(0);
    }
    let proxy_tty = opts.process.terminal && opts.console_socket.is_none();
    run::foreground(proxy_tty, |console_fd| {
        opts.console_fd = console_fd;
        exec::exec(&opts, &st, &spec).map_err(|e| e.to_string())
    })
}
