//! A file or directory inside a host, seen through `/proc/<host init>/root` (the host's own mount
//! namespace, so its private /var/lib/berth, /run, /root, /tmp): existence, kind (including
//! overlay whiteouts: char device 0:0), content and extended attributes.

use super::{procfs, Ctx, Outcome};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Chardev,
    Whiteout,
    Fifo,
    Socket,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Xattr {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    pub host: String,
    pub path: String,
    #[serde(default = "yes")]
    pub exists: bool,
    #[serde(default, rename = "type")]
    pub kind: Option<Kind>,
    /// Regex the content must match.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub xattr: Option<Xattr>,
}

fn yes() -> bool {
    true
}

pub fn kind_of(md: &std::fs::Metadata) -> Kind {
    let ft = md.file_type();
    if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_char_device() {
        if md.rdev() == 0 {
            Kind::Whiteout
        } else {
            Kind::Chardev
        }
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else {
        Kind::File
    }
}

/// Reads an extended attribute without following symlinks.
pub fn get_xattr(path: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let p = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let n = CString::new(name).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated and buf is valid for buf.len() bytes.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENODATA) {
            Ok(None)
        } else {
            Err(format!("getxattr {name}: {e}"))
        };
    }
    buf.truncate(r as usize);
    Ok(Some(buf))
}

impl FileCheck {
    pub fn describe(&self) -> String {
        if !self.exists {
            return format!("{}:{} does not exist", self.host, self.path);
        }
        let mut s = format!("{}:{} exists", self.host, self.path);
        if let Some(k) = self.kind {
            s += &format!(
                " as a {}",
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            );
        }
        if let Some(c) = &self.content {
            s += &format!(", content ~ /{c}/");
        }
        if let Some(x) = &self.xattr {
            s += &format!(", xattr {}={}", x.name, x.value);
        }
        s
    }

    pub fn probe(&self, ctx: &Ctx) -> Outcome {
        let expected = self.describe();
        let Some(pid) = ctx.hosts.pid(&self.host) else {
            return Outcome::fail(expected, format!("host {} is not running", self.host));
        };
        let root = ctx.proc_root.join(procfs::pid_dir(pid)).join("root");
        if !self.path.contains('*') {
            let full = root.join(self.path.trim_start_matches('/'));
            return self.probe_one(&expected, &full, &self.path);
        }
        // A `*` in a component matches names the lab cannot know in advance (the engine's
        // random layer ids): the check holds if any match satisfies it.
        let found = super::glob::expand(&root, &self.path);
        if found.is_empty() {
            return if self.exists {
                Outcome::fail(expected, format!("nothing matches {}", self.path))
            } else {
                Outcome::pass(format!("nothing matches {}", self.path))
            };
        }
        let mut observed = Vec::new();
        for shown in &found {
            let full = root.join(shown.trim_start_matches('/'));
            match self.probe_one(&expected, &full, shown) {
                Outcome::Pass { observed } => return Outcome::Pass { observed },
                Outcome::Fail { observed: o, .. } => observed.push(o),
            }
        }
        observed.truncate(3);
        Outcome::fail(expected, observed.join("; "))
    }

    fn probe_one(&self, expected: &str, full: &Path, shown: &str) -> Outcome {
        let expected = expected.to_string();
        let md = match std::fs::symlink_metadata(full) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return if self.exists {
                    Outcome::fail(expected, format!("{shown} does not exist"))
                } else {
                    Outcome::pass(format!("{shown} does not exist"))
                };
            }
            Err(e) => return Outcome::fail(expected, format!("{shown}: {e}")),
        };
        let kind = kind_of(&md);
        let mut observed = format!(
            "{} is a {kind:?} (mode {:o}, rdev {}:{})",
            shown,
            md.mode(),
            libc::major(md.rdev()),
            libc::minor(md.rdev())
        );
        if !self.exists {
            return Outcome::fail(expected, observed);
        }
        if let Some(k) = self.kind {
            if k != kind {
                return Outcome::fail(expected, observed);
            }
        }
        if let Some(re) = &self.content {
            let text = match std::fs::read(full) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => return Outcome::fail(expected, format!("{observed}; cannot read: {e}")),
            };
            let short: String = text.chars().take(200).collect();
            observed += &format!(", content {short:?}");
            if !regex::Regex::new(re)
                .map(|r| r.is_match(&text))
                .unwrap_or(false)
            {
                return Outcome::fail(expected, observed);
            }
        }
        if let Some(x) = &self.xattr {
            match get_xattr(full, &x.name) {
                Ok(Some(v)) => {
                    let v = String::from_utf8_lossy(&v).into_owned();
                    observed += &format!(", xattr {}={v:?}", x.name);
                    if v != x.value {
                        return Outcome::fail(expected, observed);
                    }
                }
                Ok(None) => {
                    return Outcome::fail(expected, format!("{observed}, no xattr {}", x.name))
                }
                Err(e) => return Outcome::fail(expected, format!("{observed}, {e}")),
            }
        }
        Outcome::pass(observed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testing::{ctx, FakeHosts};

    fn chk(path: &str) -> FileCheck {
        FileCheck {
            host: "vm1".into(),
            path: path.into(),
            exists: true,
            kind: None,
            content: None,
            xattr: None,
        }
    }

    #[test]
    fn existence_kind_content() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("proc/100/root");
        std::fs::create_dir_all(root.join("root")).unwrap();
        std::fs::write(root.join("root/hello.txt"), "hello from vm1\n").unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut f = chk("/root/hello.txt");
        f.kind = Some(Kind::File);
        f.content = Some("^hello from vm1$".into());
        // `$` without (?m) does not match before the trailing newline in the regex crate
        assert!(!f.probe(&c).passed());
        f.content = Some("(?m)^hello from vm1$".into());
        assert!(f.probe(&c).passed(), "{:?}", f.probe(&c));
        f.kind = Some(Kind::Dir);
        assert!(!f.probe(&c).passed());
        let mut gone = chk("/root/nope");
        assert!(!gone.probe(&c).passed());
        gone.exists = false;
        assert!(gone.probe(&c).passed());
        let mut d = chk("/root");
        d.kind = Some(Kind::Dir);
        assert!(d.probe(&c).passed());
    }

    #[test]
    fn whiteout_is_chardev_zero_zero() {
        // mknod needs root; skip quietly elsewhere (the root integration tests cover it for real).
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("proc/100/root");
        std::fs::create_dir_all(&root).unwrap();
        nix::sys::stat::mknod(
            &root.join("wh"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut f = chk("/wh");
        f.kind = Some(Kind::Whiteout);
        assert!(f.probe(&c).passed());
        f.kind = Some(Kind::Chardev);
        assert!(!f.probe(&c).passed());
    }

    #[test]
    fn xattr_value() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("proc/100/root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("f"), "x").unwrap();
        let hosts = FakeHosts {
            pids: [("vm1".to_string(), 100)].into(),
            ..Default::default()
        };
        let c = ctx(t.path(), &hosts);
        let mut f = chk("/f");
        f.xattr = Some(Xattr {
            name: "user.berth".into(),
            value: "y".into(),
        });
        assert!(!f.probe(&c).passed());
        let p = std::ffi::CString::new(root.join("f").to_str().unwrap()).unwrap();
        let n = std::ffi::CString::new("user.berth").unwrap();
        // SAFETY: valid C strings and a 1-byte value.
        let r = unsafe { libc::setxattr(p.as_ptr(), n.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        if r != 0 {
            return; // filesystem without user xattrs
        }
        assert!(f.probe(&c).passed());
    }
}
