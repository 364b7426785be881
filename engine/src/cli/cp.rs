//! `berth cp`: the docker CLI's copy logic (`cli/command/container/cp.go` and moby's
//! `pkg/archive/copy.go`): stat the destination, tar the source with its base name, rebase
//! entry names so that the extraction yields `cp`'s semantics (`dir` vs `dir/.`, existing
//! vs new destination), and extract on the other side.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::{daemon_error, CliResult, Failure};
use crate::api::archive::unbase64;
use crate::client::{enc, Client};
use crate::daemon::archive::{self as ar, split_dir_entry, MODE_DIR, MODE_SYMLINK};

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long = "archive")]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    follow_link: bool,
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(value_name = "SRC_PATH")]
    source: String,
    #[arg(value_name = "DEST_PATH")]
    destination: String,
}

/// Go's rendering of an errno: `no such file or directory`.
fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        // SAFETY: strerror returns a pointer to a static, NUL-terminated message.
        Some(n) => unsafe { std::ffi::CStr::from_ptr(libc::strerror(n)) }.to_string_lossy().to_lowercase(),
        None => e.to_string(),
    }
}

fn fail(m: impl Into<String>) -> Failure {
    Failure::new(m, 1)
}

/// `container:path` or a local path (absolute, or starting with `.`, or without `:`).
fn split_arg(a: &str) -> (Option<&str>, &str) {
    if a.starts_with('/') {
        return (None, a);
    }
    match a.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => (Some(c), p),
        _ => (None, a),
    }
}

/// filepath.Abs, keeping a trailing `/` or `/.` (archive.PreserveTrailingDotOrSeparator).
fn abs_local(p: &str) -> String {
    let base = if p.starts_with('/') { PathBuf::from(p) } else { std::env::current_dir().unwrap_or_else(|_| "/".into()).join(p) };
    let mut s = ar::clean(&base.display().to_string());
    if (p.ends_with("/.") || p == ".") && !s.ends_with("/.") {
        s = format!("{}/.", s.trim_end_matches('/'));
    } else if p.ends_with('/') && !s.ends_with('/') {
        s.push('/');
    }
    s
}

#[derive(Debug, Default)]
struct Info {
    path: String,
    exists: bool,
    is_dir: bool,
}

fn stat_container(c: &Client, container: &str, path: &str) -> Result<Option<(u32, String)>, Failure> {
    let r = c.request("HEAD", &format!("/containers/{}/archive?path={}", enc(container), enc(path)), None)?;
    if r.status == 404 {
        // No such container, or no such path: tell them apart as the docker CLI does.
        c.get_json::<serde_json::Value>(&format!("/containers/{}/json", enc(container)))?;
        return Ok(None);
    }
    let r = r.check()?;
    let st = r.header("X-Docker-Container-Path-Stat").and_then(unbase64).and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    Ok(st.map(|v| (v["mode"].as_u64().unwrap_or(0) as u32, v["linkTarget"].as_str().unwrap_or("").to_string())))
}

/// archive.PrepareArchiveCopy: the directory to extract into and the `(old, new)` rebase of
/// the source's base name.
fn prepare(src_path: &str, src_is_dir: bool, dst: &Info) -> Result<(String, String, String), Failure> {
    let (_, src_base) = split_dir_entry(src_path);
    let (dst_dir, dst_base) = split_dir_entry(&dst.path);
    if dst.exists && dst.is_dir {
        return Ok((dst.path.clone(), String::new(), String::new()));
    }
    if dst.exists && src_is_dir {
        return Err(fail("cannot copy directory"));
    }
    if !dst.exists && !src_is_dir && (dst.path.ends_with('/') || dst.path.ends_with("/.")) {
        return Err(fail("no such directory"));
    }
    Ok((dst_dir, src_base, dst_base))
}

fn copy_from(c: &Client, a: &CpArgs, container: &str, src: &str, dst: &str) -> CliResult {
    let dst = if dst == "-" { dst.to_string() } else { abs_local(dst) };
    if dst != "-" {
        let parent = Path::new(dst.trim_end_matches("/.").trim_end_matches('/')).parent().map(Path::to_path_buf).unwrap_or_default();
        if !parent.as_os_str().is_empty() && !parent.exists() {
            return Err(fail(format!("invalid output path: directory {:?} does not exist", parent.display().to_string())));
        }
    }
    let mut src = src.to_string();
    let mut rebase_name = String::new();
    if a.follow_link {
        if let Some((mode, target)) = stat_container(c, container, &src)? {
            if mode & MODE_SYMLINK != 0 && !target.is_empty() {
                rebase_name = split_dir_entry(&src).1;
                src = target;
            }
        }
    }
    let mut r = c.request("GET", &format!("/containers/{}/archive?path={}", enc(container), enc(&src)), None)?.check()?;
    let st = r.header("X-Docker-Container-Path-Stat").and_then(unbase64).and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let is_dir = st.map(|v| v["mode"].as_u64().unwrap_or(0) as u32 & MODE_DIR != 0).unwrap_or(false);
    if dst == "-" {
        std::io::copy(r.reader(), &mut std::io::stdout()).map_err(|e| fail(e.to_string()))?;
        return Ok(());
    }
    let meta = std::fs::metadata(&dst);
    let info = Info { path: dst.clone(), exists: meta.is_ok(), is_dir: meta.map(|m| m.is_dir()).unwrap_or(false) };
    let (dir, mut old, new) = prepare(&src, is_dir, &info)?;
    let (_, src_base) = split_dir_entry(&src);
    // With -L, entries are named after the link's target; put the link's name back first.
    let (old, new) = match (rebase_name.is_empty(), new.is_empty()) {
        (false, true) => (src_base, rebase_name),
        (false, false) => {
            old = src_base;
            (old, new)
        }
        _ => (old, new),
    };
    let n = ar::untar_local(r.reader(), Path::new(&dir), &old, &new).map_err(|e| fail(e.to_string()))?;
    if !a.quiet && super::stream::is_tty(2) {
        eprintln!("Successfully copied {} to {dst}", super::stats::human_size(n as f64));
    }
    Ok(())
}

fn copy_to(c: &Client, a: &CpArgs, container: &str, src: &str, dst: &str) -> CliResult {
    let mut info = Info { path: dst.to_string(), ..Default::default() };
    let mut st = stat_container(c, container, dst)?;
    if let Some((mode, target)) = &st {
        if mode & MODE_SYMLINK != 0 {
            info.path = target.clone();
            st = stat_container(c, container, target)?;
        }
    }
    if let Some((mode, _)) = st {
        info.exists = true;
        info.is_dir = mode & MODE_DIR != 0;
    }
    let (dir, body) = if src == "-" {
        if !info.is_dir {
            return Err(fail(format!("destination \"{container}:{dst}\" must be a directory")));
        }
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map_err(|e| fail(e.to_string()))?;
        (info.path.clone(), b)
    } else {
        let src = abs_local(src);
        let follow = a.follow_link;
        let trimmed = if src.ends_with("/.") { src.clone() } else { src.trim_end_matches('/').to_string() };
        let m = if follow { std::fs::metadata(&trimmed) } else { std::fs::symlink_metadata(&trimmed) }
            .map_err(|e| fail(format!("lstat {trimmed}: {}", errno_text(&e))))?;
        let (src_dir, src_base) = split_dir_entry(&src);
        let (dir, old, new) = prepare(&src, m.is_dir(), &info)?;
        let name = if old.is_empty() && new.is_empty() { src_base.clone() } else { ar::replace_first(&src_base, &old, &new) };
        let mut b = Vec::new();
        let path = if src_base == "." { PathBuf::from(&src_dir) } else { Path::new(&src_dir).join(&src_base) };
        ar::tar_local(&path, &name, follow, &mut b).map_err(|e| fail(e.to_string()))?;
        (dir, b)
    };
    let mut q = format!("/containers/{}/archive?path={}&noOverwriteDirNonDir=true", enc(container), enc(&dir));
    if a.archive {
        q.push_str("&copyUIDGID=true");
    }
    let n = body.len();
    c.request("PUT", &q, Some(("application/x-tar", &body)))?.check().map_err(|e| fail(daemon_error(&e)))?;
    if !a.quiet && src != "-" && super::stream::is_tty(2) {
        eprintln!("Successfully copied {} to {container}:{dst}", super::stats::human_size(n as f64));
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

pub fn cp(c: &Client, a: CpArgs) -> CliResult {
    let (sc, sp) = split_arg(&a.source);
    let (dc, dp) = split_arg(&a.destination);
    match (sc, dc) {
        (Some(_), Some(_)) => Err(fail("copying between containers is not supported")),
        (None, None) => Err(fail("must specify at least one container source")),
        (Some(ct), None) => copy_from(c, &a, ct, sp, dp),
        (None, Some(ct)) => copy_to(c, &a, ct, sp, dp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_and_rebases() {
        assert_eq!(split_arg("web:/etc"), (Some("web"), "/etc"));
        assert_eq!(split_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_arg("file"), (None, "file"));
        let new = Info { path: "/x/out".into(), exists: false, is_dir: false };
        assert_eq!(prepare("/data", true, &new).ok().unwrap(), ("/x".into(), "data".into(), "out".into()));
        assert_eq!(prepare("/data/.", true, &new).ok().unwrap(), ("/x".into(), ".".into(), "out".into()));
        let dir = Info { path: "/x/out".into(), exists: true, is_dir: true };
        assert_eq!(prepare("/data", true, &dir).ok().unwrap(), ("/x/out".into(), String::new(), String::new()));
        let file = Info { path: "/x/f".into(), exists: true, is_dir: false };
        assert_eq!(prepare("/data", true, &file).err().unwrap().msg.unwrap(), "cannot copy directory");
        let asserted = Info { path: "/x/newdir/".into(), exists: false, is_dir: false };
        assert_eq!(prepare("/f", false, &asserted).err().unwrap().msg.unwrap(), "no such directory");
    }
}
