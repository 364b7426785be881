//! The berth half of `cargo xtask bench images` (run it through xtask, as root):
//! generates a multi-layer image of about `--size-mb` MB in a scratch store, then times
//! `save` (to `<workdir>/bench.tar`) and `load` of that archive into a fresh store.
//! Prints `key=value` lines for xtask.

use berth_storage::{DriverKind, SaveFormat, Store};
use rand::RngCore;
use std::time::Instant;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn layer_tar(layer: usize, bytes: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut rng = rand::thread_rng();
    let mut left = bytes;
    let mut i = 0;
    while left > 0 {
        // a mix of big and small files, random (incompressible) content
        let n = if i % 8 == 0 { (4 << 20).min(left) } else { (64 << 10).min(left) };
        let mut data = vec![0u8; n];
        rng.fill_bytes(&mut data);
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(n as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, format!("layer{layer}/dir{}/file{i}", i % 16), &data[..]).unwrap();
        left -= n;
        i += 1;
    }
    b.into_inner().unwrap()
}

fn main() {
    let work = std::path::PathBuf::from(arg("--workdir", "target/bench-images"));
    let size_mb: usize = arg("--size-mb", "200").parse().expect("--size-mb N");
    let layers: usize = arg("--layers", "5").parse().expect("--layers N");
    let driver = match arg("--driver", "overlay2").as_str() {
        "vfs" => DriverKind::Vfs,
        _ => DriverKind::Overlay2,
    };
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    let src = Store::open(&work.join("src"), driver).unwrap();
    let mut parent = None;
    for l in 0..layers {
        let tar = layer_tar(l, size_mb * (1 << 20) / layers);
        parent = Some(src.register_layer(parent.as_ref(), &mut &tar[..]).unwrap());
    }
    let diffs = src.layer_diff_ids(parent.as_ref().unwrap()).unwrap();
    let cfg = serde_json::json!({"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{},
        "rootfs":{"type":"layers","diff_ids":diffs.iter().map(|d| d.as_str()).collect::<Vec<_>>()}});
    src.create_image(&serde_json::to_vec(&cfg).unwrap(), None, Some("bench:latest")).unwrap();

    let archive = work.join("bench.tar");
    let t = Instant::now();
    {
        let f = std::fs::File::create(&archive).unwrap();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        src.save(&["bench:latest"], SaveFormat::Oci, &mut w).unwrap();
        std::io::Write::flush(&mut w).unwrap();
    }
    let save = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&archive).unwrap().len();

    let dst = Store::open(&work.join("dst"), driver).unwrap();
    let t = Instant::now();
    let lines = dst.load(&mut std::fs::File::open(&archive).unwrap()).unwrap();
    let load = t.elapsed().as_secs_f64();
    assert_eq!(lines, vec!["Loaded image: bench:latest"]);
    println!("archive={}", archive.display());
    println!("bytes={bytes}");
    println!("layers={layers}");
    println!("save_secs={save:.3}");
    println!("load_secs={load:.3}");
}
