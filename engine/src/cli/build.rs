//! `berth build`: the docker CLI's legacy builder client. The context directory is packed as a
//! tar (honouring `.dockerignore`, owners as root, as the docker CLI sends it) and posted to
//! `POST /build`; the streamed answer prints as it comes; a failed RUN ends the command with
//! the RUN's exit code.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use berth_build::dockerignore::DockerIgnore;
use clap::Args;
use serde_json::Value;

use super::{CliResult, Failure};
use crate::client::{enc, Client};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format
    #[arg(short = 't', long = "tag")]
    tags: Vec<String>,
    /// Name of the Dockerfile (Default is 'PATH/Dockerfile')
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long = "target")]
    target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long = "pull")]
    pull: bool,
    /// Remove intermediate containers after a successful build
    #[arg(long = "rm", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    rm: bool,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    force_rm: bool,
    /// Set metadata for an image
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Write the image ID to the file
    #[arg(long = "iidfile")]
    iidfile: Option<String>,
    /// Build context directory
    path: String,
}

/// go-units `HumanSize` (4 significant digits, decimal): `2.048kB`.
fn human_size(n: f64) -> String {
    super::stats::custom_size(n, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"], 4)
}

/// Pack the context: every file not excluded by `.dockerignore` (the Dockerfile and
/// `.dockerignore` always go, as with the docker CLI), names relative, owners 0:0.
pub fn pack_context(dir: &Path, dockerfile_rel: &str) -> Result<Vec<u8>, String> {
    let ignore = match std::fs::read(dir.join(".dockerignore")) {
        Ok(b) => DockerIgnore::parse(&b).map_err(|e| format!("error checking context: '{e}'."))?,
        Err(_) => DockerIgnore::parse(b"").map_err(|e| e.to_string())?,
    };
    let keep = |rel: &str| rel == dockerfile_rel || rel == ".dockerignore" || !ignore.is_excluded(rel);
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut stack: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d).map_err(|e| format!("error checking context: {}: {e}", d.display()))?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let md = std::fs::symlink_metadata(e.path()).map_err(|er| format!("error checking context: {rel}: {er}"))?;
            let excluded = !keep(&rel);
            if md.is_dir() {
                // An excluded directory is still walked when exceptions may re-include below it.
                if !excluded || ignore.has_exceptions() {
                    if !excluded {
                        append(&mut b, &e.path(), &md, &format!("{rel}/"))?;
                    }
                    stack.push((e.path(), rel));
                }
                continue;
            }
            if !excluded {
                append(&mut b, &e.path(), &md, &rel)?;
            }
        }
    }
    b.into_inner().map_err(|e| e.to_string())
}

fn append(b: &mut tar::Builder<Vec<u8>>, path: &Path, md: &std::fs::Metadata, name: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(md, tar::HeaderMode::Complete);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mode(md.mode() & 0o7777);
    let err = |e: std::io::Error| format!("error checking context: {name}: {e}");
    let ft = md.file_type();
    if ft.is_dir() {
        b.append_data(&mut h, name, std::io::empty()).map_err(err)
    } else if ft.is_symlink() {
        let t = std::fs::read_link(path).map_err(err)?;
        b.append_link(&mut h, name, t).map_err(err)
    } else if ft.is_file() {
        let f = std::fs::File::open(path).map_err(err)?;
        b.append_data(&mut h, name, f).map_err(err)
    } else {
        Ok(())
    }
}

pub fn build(c: &Client, a: BuildArgs) -> CliResult {
    let dir = PathBuf::from(&a.path);
    if !dir.is_dir() {
        return Err(Failure::new(format!("unable to prepare context: path {:?} not found", a.path), 1));
    }
    // `-f` is relative to the current directory; outside the context it is sent along under a
    // private name, as the docker CLI does.
    let mut extra: Option<(String, Vec<u8>)> = None;
    let dockerfile_rel = match &a.file {
        None => "Dockerfile".to_string(),
        Some(f) if f == "-" => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).map_err(|e| Failure::new(e.to_string(), 1))?;
            let name = format!(".dockerfile.{}", &berth_storage::ids::random_id()[..20]);
            extra = Some((name.clone(), v));
            name
        }
        Some(f) => {
            let abs = std::path::absolute(f).map_err(|e| Failure::new(format!("unable to get absolute path to Dockerfile: {e}"), 1))?;
            let ctx = std::path::absolute(&dir).map_err(|e| Failure::new(e.to_string(), 1))?;
            if !abs.exists() {
                return Err(Failure::new(format!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory", abs.display()), 1));
            }
            match abs.strip_prefix(&ctx) {
                Ok(rel) => rel.to_string_lossy().into_owned(),
                Err(_) => {
                    let v = std::fs::read(&abs).map_err(|e| Failure::new(format!("unable to open Dockerfile: {e}"), 1))?;
                    let name = format!(".dockerfile.{}", &berth_storage::ids::random_id()[..20]);
                    extra = Some((name.clone(), v));
                    name
                }
            }
        }
    };
    if extra.is_none() && !dir.join(&dockerfile_rel).exists() && !(a.file.is_none() && dir.join("dockerfile").exists()) {
        let abs = std::path::absolute(dir.join(&dockerfile_rel)).unwrap_or_default();
        return Err(Failure::new(format!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory", abs.display()), 1));
    }
    let mut ctx = pack_context(&dir, &dockerfile_rel).map_err(|e| Failure::new(e, 1))?;
    if let Some((name, data)) = &extra {
        // Append the outside Dockerfile: rebuild the archive end.
        let mut b = tar::Builder::new(Vec::new());
        let mut ar = tar::Archive::new(&ctx[..]);
        for e in ar.entries().map_err(|e| Failure::new(e.to_string(), 1))? {
            let mut e = e.map_err(|e| Failure::new(e.to_string(), 1))?;
            let mut h = e.header().clone();
            let path = e.path().map_err(|e| Failure::new(e.to_string(), 1))?.into_owned();
            if h.entry_type().is_symlink() {
                let t = e.link_name().ok().flatten().map(|t| t.into_owned()).unwrap_or_default();
                b.append_link(&mut h, &path, t).map_err(|e| Failure::new(e.to_string(), 1))?;
            } else {
                b.append_data(&mut h, &path, &mut e).map_err(|e| Failure::new(e.to_string(), 1))?;
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
        b.append_data(&mut h, name, &data[..]).map_err(|e| Failure::new(e.to_string(), 1))?;
        ctx = b.into_inner().map_err(|e| Failure::new(e.to_string(), 1))?;
    }
    let mut q = vec![format!("dockerfile={}", enc(&dockerfile_rel))];
    for t in &a.tags {
        q.push(format!("t={}", enc(t)));
    }
    let mut args: BTreeMap<String, Option<String>> = BTreeMap::new();
    for ba in &a.build_args {
        match ba.split_once('=') {
            Some((k, v)) => args.insert(k.to_string(), Some(v.to_string())),
            // `--build-arg K`: the value from the environment, or none.
            None => args.insert(ba.clone(), std::env::var(ba).ok()),
        };
    }
    if !args.is_empty() {
        q.push(format!("buildargs={}", enc(&serde_json::to_string(&args).unwrap_or_default())));
    }
    let labels: BTreeMap<String, String> = a.labels.iter().map(|l| match l.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => (l.clone(), String::new()),
    }).collect();
    if !labels.is_empty() {
        q.push(format!("labels={}", enc(&serde_json::to_string(&labels).unwrap_or_default())));
    }
    if let Some(t) = &a.target {
        q.push(format!("target={}", enc(t)));
    }
    q.push(format!("rm={}", if a.rm { 1 } else { 0 }));
    q.push(format!("forcerm={}", if a.force_rm { 1 } else { 0 }));
    if a.no_cache {
        q.push("nocache=1".into());
    }
    if a.pull {
        q.push("pull=1".into());
    }
    if a.quiet {
        q.push("q=1".into());
    }
    let mut out = std::io::stdout();
    if !a.quiet {
        let _ = writeln!(out, "Sending build context to Docker daemon  {}", human_size(ctx.len() as f64));
    }
    let mut r = c.request("POST", &format!("/build?{}", q.join("&")), Some(("application/x-tar", &ctx)))?.check()?;
    let mut image_id = None;
    for line in BufReader::new(r.reader()).lines() {
        let Ok(line) = line else { break };
        let Ok(m) = serde_json::from_str::<Value>(&line) else { continue };
        if let Some(msg) = m["errorDetail"]["message"].as_str().or_else(|| m["error"].as_str()) {
            let _ = out.flush();
            let code = m["errorDetail"]["code"].as_i64().filter(|c| *c != 0).unwrap_or(1);
            return Err(Failure::new(msg.to_string(), code as i32));
        }
        if let Some(id) = m["aux"]["ID"].as_str() {
            image_id = Some(id.to_string());
            continue;
        }
        if let Some(s) = m["stream"].as_str() {
            let _ = write!(out, "{s}");
        } else if let Some(l) = super::registry_progress::plain_line(&m) {
            let _ = writeln!(out, "{l}");
        }
        let _ = out.flush();
    }
    if let (Some(f), Some(id)) = (&a.iidfile, &image_id) {
        std::fs::write(f, id).map_err(|e| Failure::new(format!("Failed to write image ID to file: {e}"), 1))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(2048.0), "2.048kB");
        assert_eq!(human_size(512.0), "512B");
        assert_eq!(human_size(52_430_000.0), "52.43MB");
    }
}
