//! `cargo xtask bench images [--size-mb N] [--layers N]`: berth's image `save` and `load` of a
//! generated multi-layer archive (~200 MB), in MB/s, side by side with skopeo copying the same
//! archive (`docker-archive:` → `oci:`, i.e. reading + unpacking-equivalent work) and printed as
//! ratios. Needs root (berth's store uses overlay mounts' layout and chown).

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

fn opt(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

pub fn run(args: &[String]) -> Result<()> {
    let root = crate::workspace_root();
    let work = root.join("target/bench-images");
    let size = opt(args, "--size-mb", "200");
    let layers = opt(args, "--layers", "5");
    println!("building berth's image benchmark (release)…");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["run", "--quiet", "--release", "-p", "berth-storage", "--example", "images_bench", "--"])
        .arg("--workdir")
        .arg(&work)
        .args(["--size-mb", &size, "--layers", &layers])
        .output()
        .context("running the images_bench example")?;
    if !out.status.success() {
        bail!("images_bench failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let kv: HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let get = |k: &str| kv.get(k).cloned().with_context(|| format!("images_bench printed no {k}"));
    let bytes: f64 = get("bytes")?.parse()?;
    let mb = bytes / 1e6;
    let save: f64 = get("save_secs")?.parse()?;
    let load: f64 = get("load_secs")?.parse()?;
    let archive = get("archive")?;

    let oci = work.join("skopeo-oci");
    let _ = std::fs::remove_dir_all(&oci);
    let t = Instant::now();
    let st = Command::new("skopeo")
        .arg("copy")
        .arg("--quiet")
        .arg(format!("docker-archive:{archive}"))
        .arg(format!("oci:{}:bench", oci.display()))
        .status()
        .context("running skopeo (apt-get install skopeo)")?;
    if !st.success() {
        bail!("skopeo copy failed ({st})");
    }
    let skopeo = t.elapsed().as_secs_f64();

    println!("archive: {mb:.1} MB, {} layers", get("layers")?);
    println!("{:<34} {:>8} {:>10}", "operation", "seconds", "MB/s");
    println!("{:<34} {:>8.2} {:>10.1}", "berth save", save, mb / save);
    println!("{:<34} {:>8.2} {:>10.1}", "berth load", load, mb / load);
    println!("{:<34} {:>8.2} {:>10.1}", "skopeo copy docker-archive → oci", skopeo, mb / skopeo);
    println!("ratio load: berth is {:.2}× skopeo's speed", skopeo / load);
    println!("ratio save: berth is {:.2}× skopeo's speed", skopeo / save);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
