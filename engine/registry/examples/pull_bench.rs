//! Pull throughput: berth vs `skopeo copy`, from a local docker-registry.
//!
//! `cargo run --release -p berth-registry --example pull_bench -- [--size-mb 200] [--layers 5]`
//! Generates an image of incompressible layers, pushes it with berth, then times a berth pull
//! into files (temp file + rename per blob, as the store does) and `skopeo copy docker://… oci:`.
//! Prints `key=value` lines (for `cargo xtask bench`) and the ratio.

#[path = "../tests/common/real_registry.rs"]
#[allow(dead_code)]
mod real_registry;

use berth_registry::progress::NoProgress;
use berth_registry::{
    media_types as mt, BlobSink, BlobWriter, ClientConfig, Credentials, Descriptor, Digest,
    ImageRef, PushRequest, RegistryClient,
};
use bytes::Bytes;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};

struct DirSink(PathBuf);
struct FileWriter {
    file: tokio::fs::File,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AsyncWrite for FileWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.file).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.file).poll_shutdown(cx)
    }
}

impl BlobWriter for FileWriter {
    fn commit(self: Box<Self>) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.dest)
    }
}

impl BlobSink for DirSink {
    fn contains(&self, d: &Digest) -> bool {
        self.0.join(d.hex()).exists()
    }
    fn create(&self, d: &Descriptor) -> std::io::Result<Box<dyn BlobWriter>> {
        let tmp = self.0.join(format!("{}.tmp", d.digest.hex()));
        let file = std::fs::File::create(&tmp)?;
        Ok(Box::new(FileWriter {
            file: tokio::fs::File::from_std(file),
            tmp,
            dest: self.0.join(d.digest.hex()),
        }))
    }
}

struct MemSource(HashMap<Digest, Bytes>);
impl berth_registry::BlobSource for MemSource {
    fn open(&self, d: &Digest) -> std::io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        Ok(Box::new(std::io::Cursor::new(self.0[d].clone())))
    }
}

fn opt(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn noise(len: usize, mut x: u64) -> Vec<u8> {
    x |= 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[tokio::main]
async fn main() {
    let size_mb = opt("--size-mb", 200);
    let layers = opt("--layers", 5).max(1);
    let reg = real_registry::RealRegistry::start(real_registry::Auth::None);
    let mut blobs = HashMap::new();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..layers {
        let data = noise(size_mb * 1_000_000 / layers, i as u64 + 11);
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, format!("layer{i}.bin"), &data[..])
            .unwrap();
        let tar = tar.into_inner().unwrap();
        diff_ids.push(Digest::of(&tar).to_string());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(&tar).unwrap();
        let gz = Bytes::from(gz.finish().unwrap());
        let d = Digest::of(&gz);
        descs.push(
            serde_json::json!({"mediaType": mt::DOCKER_LAYER_GZIP, "digest": d, "size": gz.len()}),
        );
        blobs.insert(d, gz);
    }
    let config = Bytes::from(serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":diff_ids}})).unwrap());
    let cd = Digest::of(&config);
    blobs.insert(cd.clone(), config.clone());
    let manifest = Bytes::from(serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"mediaType":mt::DOCKER_MANIFEST_V2,"config":{"mediaType":mt::DOCKER_CONFIG,"digest":cd,"size":config.len()},"layers":descs})).unwrap());
    let total: usize = blobs.values().map(|b| b.len()).sum();

    let client = RegistryClient::new(ClientConfig::default()).unwrap();
    let r = ImageRef::tagged(&reg.host, "bench/big", "v1");
    let src = MemSource(blobs);
    let t = Instant::now();
    client
        .push_image(
            &r,
            Credentials::Anonymous,
            PushRequest {
                manifest,
                media_type: mt::DOCKER_MANIFEST_V2.into(),
                source: &src,
                mount_from: HashMap::new(),
            },
            &NoProgress,
        )
        .await
        .unwrap();
    let push_secs = t.elapsed().as_secs_f64();

    let out = tempfile::tempdir().unwrap();
    let berth_dir = out.path().join("berth");
    std::fs::create_dir_all(&berth_dir).unwrap();
    let t = Instant::now();
    client
        .pull_image(
            &r,
            Credentials::Anonymous,
            &[],
            &DirSink(berth_dir),
            &NoProgress,
        )
        .await
        .unwrap();
    let berth_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let st = std::process::Command::new("skopeo")
        .args(["--insecure-policy", "copy", "-q", "--src-tls-verify=false"])
        .arg(format!("docker://{}/bench/big:v1", reg.host))
        .arg(format!("oci:{}:v1", out.path().join("skopeo").display()))
        .status()
        .expect("skopeo");
    assert!(st.success());
    let skopeo_secs = t.elapsed().as_secs_f64();

    let mb = total as f64 / 1e6;
    println!("bytes={total}");
    println!("push_secs={push_secs:.3}");
    println!("berth_pull_secs={berth_secs:.3}");
    println!("skopeo_pull_secs={skopeo_secs:.3}");
    eprintln!(
        "push {:.0} MB/s; pull: berth {:.0} MB/s, skopeo {:.0} MB/s, berth/skopeo speed ratio {:.2}",
        mb / push_secs,
        mb / berth_secs,
        mb / skopeo_secs,
        skopeo_secs / berth_secs
    );
}
