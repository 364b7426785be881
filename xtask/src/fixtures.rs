//! `cargo xtask fixtures`: offline fixtures built from Debian packages only, reproducibly, cached
//! in `target/fixtures/` and rebuilt only when a recipe (or the package it uses) changes.
//!
//! - `busybox/rootfs/`: Debian's busybox-static with every applet linked, plus a minimal `/etc`.
//! - `busybox/rootfs.tar`: the same tree as a deterministic tar (sorted, fixed mtimes, uid 0).

use anyhow::{bail, Context, Result};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when the busybox recipe below changes, so cached fixtures are rebuilt.
const BUSYBOX_RECIPE: u32 = 1;
/// Every file in fixture tars gets this mtime (2024-01-01T00:00:00Z), so builds are reproducible.
pub const FIXTURE_MTIME: u64 = 1_704_067_200;

pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("BERTH_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => crate::workspace_root().join("target/fixtures"),
    }
}

pub fn build_all() -> Result<PathBuf> {
    let dir = fixtures_dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    busybox(&dir.join("busybox"))?;
    Ok(dir)
}

/// The version of an installed Debian package, or an error telling how to get it.
fn deb_version(pkg: &str) -> Result<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Version}", pkg]).output()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || v.is_empty() {
        bail!("Debian package {pkg} is not installed (apt-get install {pkg}, or run cargo xtask ci)");
    }
    Ok(v)
}

fn busybox(out: &Path) -> Result<()> {
    let version = deb_version("busybox-static")?;
    let stamp_text = format!("recipe {BUSYBOX_RECIPE}\nbusybox-static {version}\n");
    let stamp = out.join("stamp");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_text.as_str()) {
        return Ok(());
    }
    eprintln!("xtask: building fixture busybox (busybox-static {version})");
    let tmp = out.with_extension("tmp");
    let _ = fs::remove_dir_all(&tmp);
    let rootfs = tmp.join("rootfs");
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "root", "var", "home", "tmp"] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::set_permissions(rootfs.join("root"), fs::Permissions::from_mode(0o700))?;
    // busybox-static ships the binary as /bin/busybox; take it from the package's file list so a
    // busybox from elsewhere on PATH is never picked up by accident.
    let listed = Command::new("dpkg-query").args(["-L", "busybox-static"]).output()?;
    let bin = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|l| l.ends_with("/busybox"))
        .map(PathBuf::from)
        .context("busybox-static lists no busybox binary")?;
    fs::copy(&bin, rootfs.join("bin/busybox")).with_context(|| format!("copying {}", bin.display()))?;
    fs::set_permissions(rootfs.join("bin/busybox"), fs::Permissions::from_mode(0o755))?;
    let list = Command::new(&bin).arg("--list-full").output().context("busybox --list-full")?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        let depth = applet.matches('/').count();
        let target = format!("{}bin/busybox", "../".repeat(depth));
        let link = rootfs.join(applet);
        fs::create_dir_all(link.parent().unwrap())?;
        if link.symlink_metadata().is_err() {
            symlink(&target, &link)?;
        }
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )?;
    fs::write(rootfs.join("etc/group"), "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n")?;
    write_tar(&rootfs, &tmp.join("rootfs.tar"))?;
    fs::write(tmp.join("stamp"), stamp_text)?;
    let _ = fs::remove_dir_all(out);
    fs::rename(&tmp, out)?;
    Ok(())
}

/// A deterministic tar of `dir`: entries sorted by path, fixed mtime, uid/gid 0, no `./` prefix.
pub fn write_tar(dir: &Path, dest: &Path) -> Result<()> {
    let mut paths = Vec::new();
    collect(dir, dir, &mut paths)?;
    paths.sort();
    let file = fs::File::create(dest)?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(file));
    b.follow_symlinks(false);
    for rel in paths {
        let full = dir.join(&rel);
        let meta = full.symlink_metadata()?;
        let mut h = tar::Header::new_ustar();
        h.set_metadata(&meta);
        h.set_mtime(FIXTURE_MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")?;
        h.set_groupname("root")?;
        let name = if meta.is_dir() { format!("{}/", rel.display()) } else { rel.display().to_string() };
        if meta.file_type().is_symlink() {
            h.set_size(0);
            b.append_link(&mut h, &name, fs::read_link(&full)?)?;
        } else if meta.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, &name, std::io::empty())?;
        } else {
            b.append_data(&mut h, &name, fs::File::open(&full)?)?;
        }
    }
    b.into_inner()?;
    Ok(())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        out.push(p.strip_prefix(root)?.to_path_buf());
        if e.file_type()?.is_dir() {
            collect(root, &p, out)?;
        }
    }
    Ok(())
}
