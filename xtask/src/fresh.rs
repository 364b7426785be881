//! `cargo xtask fresh-machine`: README's first command on a machine that has none of what berth
//! needs, proving that the command installs it all itself.
//!
//! A Debian 12 root made by Debian's `debootstrap` (minbase; cached in
//! `target/fresh-machine/base`, never modified) is the lower layer of an overlay whose upper
//! layer is new for every run, so each run starts from a pristine machine. In a private mount
//! namespace the overlay becomes `/` (pivot_root) with /proc, /sys, /dev, a fresh /tmp and /run,
//! and three binds: the checkout (same path, so cargo's build is reused), `~/.cargo` and
//! `~/.rustup` (the toolchain, as rustup installs it). The machine's network is used only the way
//! the machine's own apt uses it. Nothing outside `target/fresh-machine` changes, and the mounts
//! vanish with the namespace when the run ends, however it ends.

use crate::progress::Phases;
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::Path;
use std::process::Command;

/// What must not be there before the run: the lab command has to bring each of them.
const ABSENT: &[&str] = &["runc", "docker-registry", "nft", "iptables", "docker", "busybox", "tini", "curl"];

/// The machine the lab command meets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// A fresh Debian 12 with its package registry: the lab must pass.
    Online,
    /// The package registry cannot be reached (its address is a closed loopback port and apt
    /// knows no package yet): the command must stop with a clear message and install nothing.
    Offline,
    /// No apt-get at all: the command must list what to install by hand.
    NoApt,
}

pub fn run(lab: &str, mode: Mode) -> Result<()> {
    let offline = mode != Mode::Online;
    crate::deps::ensure_named(&["debootstrap"])?;
    let fm = crate::target_dir().join("fresh-machine");
    let base = fm.join("base");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    for d in [".cargo", ".rustup"] {
        if !Path::new(&home).join(d).is_dir() {
            bail!("{home}/{d} is missing: the fresh-machine test binds the rustup toolchain from there");
        }
    }
    let phases = Phases::new("fresh machine:");
    if !base.join(".berth-complete").exists() {
        phases.phase("debootstrap --variant=minbase bookworm (once per checkout)");
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base)?;
        let out = Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&base)
            .arg("http://deb.debian.org/debian")
            .output()
            .context("running debootstrap")?;
        if !out.status.success() {
            phases.failed();
            bail!("debootstrap failed ({}): {}", out.status, tail(&out.stderr));
        }
        fs::write(base.join("etc/apt/sources.list"), SOURCES)?;
        // Rust from rustup needs a C linker: a machine that has Rust has `cc`. That much of the
        // machine is given; everything berth needs is the lab command's to install.
        phases.phase("the toolchain's linker (gcc, libc6-dev) in the root");
        fs::copy("/etc/resolv.conf", base.join("etc/resolv.conf"))?;
        let out = Command::new("chroot")
            .arg(&base)
            .args(["sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev"])
            .output()
            .context("running apt-get in the fresh root")?;
        if !out.status.success() {
            phases.failed();
            bail!("installing gcc in the fresh root failed ({}): {}", out.status, tail(&out.stderr));
        }
        fs::write(base.join(".berth-complete"), "")?;
    }
    phases.done();
    for d in ["upper", "work", "merged"] {
        let p = fm.join(d);
        if is_mountpoint(&p) {
            bail!("{} is still a mount point: refusing to remove it", p.display());
        }
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p)?;
    }
    let target = crate::target_dir();
    if !offline {
        // The docker CLI must come from Debian's docker.io, as on a machine without one.
        let _ = fs::remove_dir_all(target.join("docker-cli"));
        let _ = fs::remove_file(target.join("debug/docker"));
    }

    let ws = crate::workspace_root();
    let script = format!(
        r#"set -eu
M={m}
mount -t overlay fresh -o lowerdir={base},upperdir={upper},workdir={work} "$M"
mount -t proc proc "$M/proc"
mount --rbind /sys "$M/sys"
mount --rbind /dev "$M/dev"
mount -t tmpfs tmpfs "$M/tmp"
mount -t tmpfs tmpfs "$M/run"
for d in {ws} {target} {home}/.cargo {home}/.rustup; do mkdir -p "$M$d"; mount --bind "$d" "$M$d"; done
cp -L /etc/resolv.conf "$M/etc/resolv.conf"
cd "$M" && mkdir -p .oldroot && pivot_root . .oldroot && umount -l /.oldroot && rmdir /.oldroot
for b in {absent}; do
  if command -v "$b" >/dev/null; then echo "the fresh root already has $b: not a fresh machine" >&2; exit 90; fi
done
echo "fresh Debian $(cat /etc/debian_version): none of {absent} present; running: cargo xtask lab {lab} --solve{offline_note}"
cd {ws}
run() {{
  env -i PATH={home}/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME={home} \
    TERM=dumb CARGO_TARGET_DIR={target} BERTH_LAB_STATE=/tmp/labs BERTH_LAB_PROGRESS=/tmp/progress.json \
    cargo xtask lab {lab} --solve
}}
if [ {offline} = 0 ]; then run; exit 0; fi
# No route to a package registry: apt knows nothing and its only source is a closed port.
echo 'deb http://127.0.0.1:9/debian bookworm main' > /etc/apt/sources.list
rm -rf /var/lib/apt/lists/*
want="Nothing was installed"
if [ {no_apt} = 1 ]; then rm /usr/bin/apt-get; want="install them by hand"; fi
set +e
out=$(run 2>&1); rc=$?
set -e
printf '%s\n' "$out" | tail -12
[ $rc -ne 0 ] || {{ echo "offline: the lab command succeeded without a registry" >&2; exit 91; }}
printf '%s' "$out" | grep -q "$want" || {{ echo "offline: no clear message (want: $want)" >&2; exit 92; }}
printf '%s' "$out" | grep -q "runc  *berthd's default OCI runtime" || {{ echo "offline: runc not named with its reason" >&2; exit 94; }}
if dpkg-query -W -f='${{Status}}' runc 2>/dev/null | grep -q "install ok installed"; then echo "offline: runc got installed" >&2; exit 93; fi
echo "offline: refused with a clear message, nothing installed""#,
        m = fm.join("merged").display(),
        base = base.display(),
        upper = fm.join("upper").display(),
        work = fm.join("work").display(),
        ws = ws.display(),
        target = target.display(),
        absent = ABSENT.join(" "),
        offline = u8::from(offline),
        no_apt = u8::from(mode == Mode::NoApt),
        offline_note = match mode {
            Mode::Online => "",
            Mode::Offline => " with no package registry reachable",
            Mode::NoApt => " on a machine without apt-get",
        },
    );
    let st = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c", &script])
        .status()
        .context("running unshare")?;
    // The namespace (and with it every mount) is gone: the run's upper layer goes too.
    for d in ["upper", "work"] {
        let p = fm.join(d);
        if !is_mountpoint(&fm.join("merged")) {
            let _ = fs::remove_dir_all(&p);
        }
    }
    if !st.success() {
        if offline {
            bail!("on a fresh Debian 12 root ({mode:?}), the lab command did not fail cleanly ({st})");
        }
        bail!("on a fresh Debian 12 root, `cargo xtask lab {lab} --solve` failed ({st})");
    }
    if offline {
        println!("fresh machine ({mode:?}): the lab command stopped with a clear message and installed nothing");
    } else {
        println!("fresh machine: `cargo xtask lab {lab} --solve` installed what it needs and passed");
    }
    Ok(())
}

const SOURCES: &str = "deb http://deb.debian.org/debian bookworm main\n\
deb http://deb.debian.org/debian bookworm-updates main\n\
deb http://deb.debian.org/debian-security bookworm-security main\n";

fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Whether `p` is a mount point in this (the machine's) mount namespace.
fn is_mountpoint(p: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else { return false };
    let p = p.display().to_string();
    info.lines().any(|l| l.split(' ').nth(4) == Some(p.as_str()))
}
