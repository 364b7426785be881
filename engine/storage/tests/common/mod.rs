//! Shared helpers for berth-storage's integration tests (they need root: mounts, mknod, chown).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    let dir = match std::env::var_os("BERTH_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"),
    };
    let tar = dir.join("busybox/rootfs.tar");
    assert!(tar.exists(), "missing fixture {}: run cargo xtask fixtures", tar.display());
    dir
}

pub fn busybox_tar() -> PathBuf {
    fixtures().join("busybox/rootfs.tar")
}

/// Run `f` on a thread in a private mount namespace (/ made rprivate), so no mount leaks.
pub fn in_mount_ns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
        nix::mount::mount(None::<&str>, "/", None::<&str>, nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE, None::<&str>)
            .expect("make / rprivate");
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Read a small metadata file and assert it has no trailing newline.
pub fn read_exact_file(p: &Path) -> String {
    let s = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(!s.ends_with('\n'), "{} ends with a newline", p.display());
    s
}

/// A description of a tree: path → (kind, mode, size/target, opaque, content hash).
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let desc = if ft.is_dir() {
            let opq = berth_storage::archive::whiteout::is_opaque(&p);
            format!("d {:o} {}:{}{}", m.mode() & 0o7777, m.uid(), m.gid(), if opq { " opaque" } else { "" })
        } else if ft.is_symlink() {
            format!("l -> {}", fs::read_link(&p).unwrap().display())
        } else if ft.is_file() {
            let data = fs::read(&p).unwrap();
            format!("f {:o} {}:{} {} {}", m.mode() & 0o7777, m.uid(), m.gid(), data.len(), berth_storage::Digest::of(&data).short())
        } else {
            use std::os::unix::fs::FileTypeExt;
            format!("{} {}", if ft.is_char_device() { "c" } else { "other" }, m.rdev())
        };
        out.insert(rel, desc);
        if ft.is_dir() {
            walk(root, &p, out);
        }
    }
}

/// Build a tar in memory from (name, kind) specs.
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
    /// raw name written into the header bytes (bypasses the tar crate's checks)
    RawFile(&'a str, &'a [u8]),
}

pub fn make_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        match e {
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, n, std::io::empty()).unwrap();
            }
            E::File(n, d) => {
                h.set_mode(0o644);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, n, *d).unwrap();
            }
            E::Link(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, n, t).unwrap();
            }
            E::Hard(n, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                let raw = &mut h.as_old_mut().linkname;
                raw[..t.len()].copy_from_slice(t.as_bytes());
                let rawn = &mut h.as_old_mut().name;
                rawn[..n.len()].copy_from_slice(n.as_bytes());
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::RawFile(n, d) => {
                h.set_mode(0o644);
                h.set_size(d.len() as u64);
                let rawn = &mut h.as_old_mut().name;
                rawn[..n.len()].copy_from_slice(n.as_bytes());
                h.set_cksum();
                b.append(&h, *d).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Every file path below `root` (to prove "store unchanged").
pub fn all_paths(root: &Path) -> Vec<String> {
    snapshot(root).into_iter().map(|(k, v)| format!("{k} {v}")).collect()
}
