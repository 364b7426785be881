//! COPY and ADD as the classic builder performs them: sources matched in the context (or in
//! another stage's root for `--from`), a cache checksum over them, then the files written into
//! the step's root filesystem — a directory's contents (not the directory), a file under its
//! own name when the destination is a directory (ends in `/` or exists as one), owned by root
//! or `--chown`, modes and mtimes kept. ADD also unpacks local tar archives.
//!
//! Writing is a tar stream of the sources, owners rewritten, unpacked with the storage crate's
//! safe extractor beneath the destination directory, which is itself resolved inside the root.

use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_storage::archive::tar_reader::TarReader;
use berth_storage::archive::tar_safe::{self, Mode};
use sha2::{Digest as _, Sha256};

use crate::context::Context;
use crate::inroot::Root;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A problem with the sources (Docker prefixes `COPY failed: `).
    #[error("{0}")]
    Source(String),
    #[error("{0}")]
    Dest(String),
}

/// One matched source: a path relative to its root (`""` is the root itself) and its checksum
/// (`file:<sum>` or `dir:<sum>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub rel: String,
    pub hash: String,
    /// The path as the instruction named it (its base name names a copied file).
    pub named: String,
}

/// Lexically clean a source path against the context root; `None` when it leaves the root.
pub fn clean_source(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

/// Go's `filepath.Match`: `*` and `?` do not cross `/`, `[...]` classes (`^` negates), `\`
/// escapes. A malformed pattern matches nothing.
pub fn go_match(pattern: &str, name: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, chars consumed including ']').
        let mut i = 0;
        let negate = matches!(p.first(), Some('^'));
        if negate {
            i += 1;
        }
        let mut matched = false;
        let mut first = true;
        loop {
            let ch = *p.get(i)?;
            if ch == ']' && !first {
                return Some((matched != negate, i + 1));
            }
            first = false;
            let mut lo = ch;
            if lo == '\\' {
                i += 1;
                lo = *p.get(i)?;
            }
            i += 1;
            let mut hi = lo;
            if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
                hi = p[i + 1];
                if hi == '\\' {
                    hi = *p.get(i + 2)?;
                    i += 1;
                }
                i += 2;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
        }
    }
    fn m(p: &[char], n: &[char]) -> bool {
        if p.is_empty() {
            return n.is_empty();
        }
        match p[0] {
            '*' => {
                let rest = &p[1..];
                for k in 0..=n.len() {
                    if m(rest, &n[k..]) {
                        return true;
                    }
                    if k < n.len() && n[k] == '/' {
                        break;
                    }
                }
                false
            }
            '?' => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            '[' => match n.first() {
                Some(&c) if c != '/' => match class(&p[1..], c) {
                    Some((true, used)) => m(&p[1 + used..], &n[1..]),
                    _ => false,
                },
                _ => false,
            },
            '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
            c => !n.is_empty() && n[0] == c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

pub fn has_wildcards(p: &str) -> bool {
    let mut esc = false;
    for c in p.chars() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' => esc = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// `multi:`/`dir:` checksums: sha256 of the parts joined with `,` (moby's `hashStringSlice`).
pub fn hash_strings(prefix: &str, parts: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(parts.join(",").as_bytes());
    format!("{prefix}:{}", hex::encode(h.finalize()))
}

/// Relative paths of everything below `rel` in the context (not `rel` itself), sorted.
fn walk(ctx: &Context, rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![rel.to_string()];
    while let Some(d) = stack.pop() {
        let host = if d.is_empty() { ctx.dir().to_path_buf() } else { ctx.dir().join(&d) };
        let Ok(rd) = std::fs::read_dir(&host) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if d.is_empty() { name } else { format!("{d}/{name}") };
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(r.clone());
            }
            out.push(r);
        }
    }
    out.sort();
    out
}

/// The checksum of one source path (moby's `calcCopyInfo`): `file:<sum>`, or for a directory
/// `dir:<sum of the sorted sums of the directory and everything below it>` (its walk skips
/// only the context's root itself). Every path is hashed as moby's `Hash` does, symlinks
/// resolved in the context: a link's sum is its target's.
fn source_hash(ctx: &Context, rel: &str) -> Result<String, CopyError> {
    let md = ctx.root().stat(rel).map_err(|e| CopyError::Source(format!("{rel}: {e}")))?;
    let real = ctx.resolve(rel).unwrap_or_else(|| rel.to_string());
    if !md.is_dir() {
        return Ok(format!("file:{}", ctx.hash(&real)));
    }
    let mut subs: Vec<String> = walk(ctx, &real).iter().map(|r| ctx.hash_followed(r)).collect();
    if !real.is_empty() {
        subs.push(ctx.hash(&real));
    }
    subs.sort();
    Ok(hash_strings("dir", &subs))
}

/// Match the instruction's sources in `ctx` (Docker's `calcCopyInfo`). `cmd` is COPY or ADD.
pub fn resolve_sources(ctx: &Context, patterns: &[String]) -> Result<Vec<Source>, CopyError> {
    let mut out = Vec::new();
    for orig in patterns {
        let Some(clean) = clean_source(orig) else {
            return Err(CopyError::Source(format!("forbidden path outside the build context: {orig} ()")));
        };
        if has_wildcards(&clean) {
            let mut found = false;
            for rel in walk(ctx, "") {
                if go_match(&clean, &rel) {
                    found = true;
                    out.push(Source { hash: source_hash(ctx, &rel)?, named: rel.clone(), rel });
                }
            }
            if !found {
                return Err(CopyError::Source("no source files were specified".into()));
            }
            continue;
        }
        if ctx.root().stat(&clean).is_err() {
            return Err(CopyError::Source(format!(
                "file not found in build context or excluded by .dockerignore: stat {orig}: file does not exist"
            )));
        }
        out.push(Source { hash: source_hash(ctx, &clean)?, rel: clean, named: orig.clone() });
    }
    Ok(out)
}

/// The cache checksum of all sources of one instruction.
pub fn sources_hash(s: &[Source]) -> String {
    match s {
        [one] => one.hash.clone(),
        _ => hash_strings("multi", &s.iter().map(|x| x.hash.clone()).collect::<Vec<_>>()),
    }
}

/// `--chown=user[:group]` resolved against the step's `/etc/passwd` and `/etc/group`; a lone
/// user is also the group name (Docker's rule).
pub fn parse_chown(spec: &str, root: &Root) -> Result<(u32, u32), CopyError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (u, g) = match parts.as_slice() {
        [u] => (*u, *u),
        [u, g] => (*u, *g),
        _ => return Err(CopyError::Dest(format!("invalid chown string format: {spec}"))),
    };
    let lookup = |file: &str, name: &str, what: &str| -> Result<u32, CopyError> {
        if let Ok(n) = name.parse::<u32>() {
            return Ok(n);
        }
        let err = |e: String| {
            CopyError::Dest(format!("unable to convert uid/gid chown string to host mapping: can't find {what} for {}: {e}", if what == "uid" { format!("user {name}") } else { format!("group {name}") }))
        };
        let text = root.read_small(file, 16 << 20).map_err(|e| err(e.to_string()))?.unwrap_or_default();
        for line in String::from_utf8_lossy(&text).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 3 && f[0] == name {
                return f[2].parse().map_err(|_| err(format!("bad entry {line:?}")));
            }
        }
        Err(err(format!("no such {}: {name}", if what == "uid" { "user" } else { "group" })))
    };
    Ok((lookup("/etc/passwd", u, "uid")?, lookup("/etc/group", g, "gid")?))
}

/// Append `host` (already lstat'ed as `md`) to the tar as `name`, owned by `owner`.
fn append<W: Write>(b: &mut tar::Builder<W>, host: &Path, md: &std::fs::Metadata, name: &str, owner: (u32, u32)) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(md, tar::HeaderMode::Complete);
    h.set_uid(owner.0 as u64);
    h.set_gid(owner.1 as u64);
    h.set_mode(md.mode() & 0o7777);
    let ft = md.file_type();
    if ft.is_dir() {
        b.append_data(&mut h, format!("{name}/"), io::empty())
    } else if ft.is_symlink() {
        let target = std::fs::read_link(host)?;
        b.append_link(&mut h, name, target)
    } else if ft.is_file() {
        let f = std::fs::File::open(host)?;
        b.append_data(&mut h, name, f)
    } else {
        Ok(()) // devices, fifos, sockets: not copied
    }
}

/// Write a tar of `src` (a host path reached safely by the caller) into `w`: a file as `name`,
/// or a directory's contents with `name` as their prefix (`""`: at the top).
fn write_tar<W: Write>(w: W, src: &Path, name: &str, owner: (u32, u32)) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    let md = std::fs::metadata(src)?; // the source itself: symlinks already resolved in scope
    if !md.is_dir() {
        append(&mut b, src, &md, name, owner)?;
        b.finish()?;
        return Ok(());
    }
    let mut stack: Vec<(PathBuf, String)> = vec![(src.to_path_buf(), name.to_string())];
    while let Some((dir, prefix)) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(&dir)?.collect::<io::Result<Vec<_>>>()?;
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let host = e.path();
            let n = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { n } else { format!("{prefix}/{n}") };
            let md = std::fs::symlink_metadata(&host)?;
            append(&mut b, &host, &md, &rel, owner)?;
            if md.is_dir() {
                stack.push((host, rel));
            }
        }
    }
    b.finish()
}

/// Unpack a tar stream into `dest_dir` (a directory inside `root`, created if needed).
fn unpack_into(root: &Root, dest_dir: &str, r: impl Read, owner: (u32, u32)) -> Result<(), CopyError> {
    root.mkdir_all(dest_dir, 0o755, owner).map_err(|e| CopyError::Dest(format!("mkdir {dest_dir}: {e}")))?;
    let real = root.real_path(dest_dir).map_err(|e| CopyError::Dest(format!("{dest_dir}: {e}")))?;
    if !real.starts_with(root.path()) {
        return Err(CopyError::Dest(format!("{dest_dir}: resolves outside the container root")));
    }
    let mut tr = TarReader::new(r, false);
    tar_safe::apply(&mut tr, &real, Mode::Copy).map_err(|e| CopyError::Dest(e.to_string()))?;
    Ok(())
}

/// Stream a tar of `src` into `dest_dir` through a pipe (no temp copy of big contexts).
fn copy_tree(src: &Path, name: &str, owner: (u32, u32), root: &Root, dest_dir: &str) -> Result<(), CopyError> {
    let (rd, wr) = nix::unistd::pipe().map_err(|e| CopyError::Dest(format!("pipe: {e}")))?;
    let (src2, name2) = (src.to_path_buf(), name.to_string());
    let writer = std::thread::spawn(move || write_tar(std::fs::File::from(wr), &src2, &name2, owner));
    let res = unpack_into(root, dest_dir, std::fs::File::from(rd), owner);
    let wres = writer.join().unwrap_or_else(|_| Err(io::Error::other("tar writer panicked")));
    res?;
    // A failed read on our side closes the pipe first; report the writer's error otherwise.
    wres.map_err(|e| CopyError::Source(format!("{}: {e}", src.display())))
}

/// Is `f` a tar archive ADD unpacks (gzip-compressed or plain)?
fn is_archive(path: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return false,
        }
    }
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return true;
    }
    n == 512 && (&head[257..262] == b"ustar")
}

/// Copy one source into the root at `dest` (absolute, container path; a trailing `/` means a
/// directory). `unpack`: ADD's local-archive extraction.
pub fn copy_source(ctx: &Context, s: &Source, root: &Root, dest: &str, owner: (u32, u32), unpack: bool) -> Result<(), CopyError> {
    let src = if s.rel.is_empty() { ctx.dir().to_path_buf() } else {
        ctx.root().real_path(&s.rel).map_err(|e| CopyError::Source(format!("{}: {e}", s.named)))?
    };
    if !src.starts_with(ctx.dir()) {
        return Err(CopyError::Source(format!("forbidden path outside the build context: {} ()", s.named)));
    }
    let md = std::fs::metadata(&src).map_err(|e| CopyError::Source(format!("{}: {e}", s.named)))?;
    if md.is_dir() {
        return copy_tree(&src, "", owner, root, dest);
    }
    if unpack && is_archive(&src) {
        let f = std::fs::File::open(&src).map_err(|e| CopyError::Source(format!("{}: {e}", s.named)))?;
        let r = berth_storage::archive::tar_reader::decompress(f).map_err(|e| CopyError::Source(format!("{}: {e}", s.named)))?;
        root.mkdir_all(dest, 0o755, owner).map_err(|e| CopyError::Dest(format!("mkdir {dest}: {e}")))?;
        let real = root.real_path(dest).map_err(|e| CopyError::Dest(format!("{dest}: {e}")))?;
        if !real.starts_with(root.path()) {
            return Err(CopyError::Dest(format!("{dest}: resolves outside the container root")));
        }
        let mut tr = TarReader::new(r, false);
        // The archive's own owners are kept (Docker ignores --chown for unpacked archives).
        return tar_safe::apply(&mut tr, &real, Mode::Copy).map(|_| ()).map_err(|e| CopyError::Dest(e.to_string()));
    }
    let into_dir = dest.ends_with('/') || root.stat(dest).map(|m| m.is_dir()).unwrap_or(false);
    let (dir, name) = if into_dir {
        let base = s.named.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
        let base = if base.is_empty() || base == "." { s.rel.rsplit('/').next().unwrap_or("").to_string() } else { base };
        (dest.to_string(), base)
    } else {
        let d = dest.trim_end_matches('/');
        match d.rsplit_once('/') {
            Some((p, n)) => (if p.is_empty() { "/".to_string() } else { p.to_string() }, n.to_string()),
            None => ("/".to_string(), d.to_string()),
        }
    };
    copy_tree(&src, &name, owner, root, &dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_match_is_filepath_match() {
        assert!(go_match("*.txt", "a.txt"));
        assert!(!go_match("*.txt", "sub/a.txt"));
        assert!(go_match("sub/*.txt", "sub/a.txt"));
        assert!(go_match("a?c", "abc"));
        assert!(!go_match("a?c", "a/c"));
        assert!(go_match("[a-c]x", "bx"));
        assert!(!go_match("[^a-c]x", "bx"));
        assert!(go_match("\\*", "*"));
        assert!(!go_match("[", "["));
    }

    #[test]
    fn clean_source_refuses_leaving_the_context() {
        assert_eq!(clean_source("./a/../b").as_deref(), Some("b"));
        assert_eq!(clean_source("/etc/x").as_deref(), Some("etc/x"));
        assert_eq!(clean_source("../x"), None);
        assert_eq!(clean_source("a/../../x"), None);
        assert_eq!(clean_source(".").as_deref(), Some(""));
    }

    fn setup() -> (tempfile::TempDir, Context, Root) {
        let t = tempfile::tempdir().unwrap();
        let c = t.path().join("ctx");
        std::fs::create_dir_all(c.join("sub/deep")).unwrap();
        std::fs::write(c.join("a.txt"), "A").unwrap();
        std::fs::write(c.join("sub/s.txt"), "S").unwrap();
        std::fs::write(c.join("sub/deep/d.txt"), "D").unwrap();
        let r = t.path().join("root");
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::os::unix::fs::symlink("/", r.join("evil")).unwrap();
        let ctx = Context::from_dir(&c).unwrap();
        let root = Root::open(&r).unwrap();
        (t, ctx, root)
    }

    fn me() -> (u32, u32) {
        (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw())
    }

    #[test]
    fn file_dir_and_wildcard_copies_land_where_docker_puts_them() {
        let (t, ctx, root) = setup();
        let s = resolve_sources(&ctx, &["a.txt".into()]).unwrap();
        copy_source(&ctx, &s[0], &root, "/app/", me(), false).unwrap();
        assert_eq!(std::fs::read(t.path().join("root/app/a.txt")).unwrap(), b"A");
        copy_source(&ctx, &s[0], &root, "/etc/renamed.conf", me(), false).unwrap();
        assert_eq!(std::fs::read(t.path().join("root/etc/renamed.conf")).unwrap(), b"A");
        // A directory: its contents, not itself.
        let s = resolve_sources(&ctx, &["sub".into()]).unwrap();
        assert!(s[0].hash.starts_with("dir:"));
        copy_source(&ctx, &s[0], &root, "/srv", me(), false).unwrap();
        assert_eq!(std::fs::read(t.path().join("root/srv/deep/d.txt")).unwrap(), b"D");
        assert!(!t.path().join("root/srv/sub").exists());
        // Through the image's absolute symlink: still inside the root.
        copy_source(&ctx, &resolve_sources(&ctx, &["a.txt".into()]).unwrap()[0], &root, "/evil/tmp/", me(), false).unwrap();
        assert!(t.path().join("root/tmp/a.txt").exists());
        let w = resolve_sources(&ctx, &["*.txt".into()]).unwrap();
        assert_eq!(w.iter().map(|s| s.rel.as_str()).collect::<Vec<_>>(), vec!["a.txt"]);
    }

    #[test]
    fn bad_sources_say_what_docker_says() {
        let (_t, ctx, _root) = setup();
        let e = resolve_sources(&ctx, &["../x".into()]).unwrap_err().to_string();
        assert_eq!(e, "forbidden path outside the build context: ../x ()");
        let e = resolve_sources(&ctx, &["nope.txt".into()]).unwrap_err().to_string();
        assert_eq!(e, "file not found in build context or excluded by .dockerignore: stat nope.txt: file does not exist");
        let e = resolve_sources(&ctx, &["*.none".into()]).unwrap_err().to_string();
        assert_eq!(e, "no source files were specified");
    }

    #[test]
    fn sums_change_with_content_not_with_mtime() {
        let (t, ctx, _root) = setup();
        let h1 = sources_hash(&resolve_sources(&ctx, &["sub".into()]).unwrap());
        let f = std::fs::File::options().write(true).open(t.path().join("ctx/sub/s.txt")).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(h1, sources_hash(&resolve_sources(&ctx, &["sub".into()]).unwrap()));
        std::fs::write(t.path().join("ctx/sub/s.txt"), "changed").unwrap();
        assert_ne!(h1, sources_hash(&resolve_sources(&ctx, &["sub".into()]).unwrap()));
    }
}
