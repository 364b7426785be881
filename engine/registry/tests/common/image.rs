//! Small generated images: gzip layer tars, a config with matching diff_ids, a manifest.

use berth_registry::media_types as mt;
use berth_registry::Digest;
use bytes::Bytes;
use flate2::write::GzEncoder;
use std::collections::HashMap;
use std::io::Write;

pub struct Blob {
    pub digest: Digest,
    pub bytes: Bytes,
    pub media_type: String,
}

pub struct TestImage {
    pub manifest: Bytes,
    pub manifest_digest: Digest,
    pub media_type: String,
    pub config: Blob,
    /// (compressed layer, diff_id)
    pub layers: Vec<(Blob, Digest)>,
}

impl TestImage {
    pub fn blobs(&self) -> HashMap<Digest, Bytes> {
        let mut m = HashMap::new();
        m.insert(self.config.digest.clone(), self.config.bytes.clone());
        for (l, _) in &self.layers {
            m.insert(l.digest.clone(), l.bytes.clone());
        }
        m
    }
}

/// A tar with one file per entry, deterministic headers.
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Pseudo-random, incompressible bytes (so layer sizes stay what the test asks for).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// An image whose layers hold `sizes[i]` bytes of noise each. `oci` picks OCI media types.
pub fn make_image(name: &str, sizes: &[usize], oci: bool) -> TestImage {
    let layers: Vec<(Blob, Digest)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let data = noise(n, (i as u64 + 1) * 7919 + name.len() as u64);
            let file = format!("{name}-{i}.bin");
            let tar = layer_tar(&[(&file, &data)]);
            let diff_id = Digest::of(&tar);
            let gz = gzip(&tar);
            let media_type = if oci {
                mt::OCI_LAYER_GZIP
            } else {
                mt::DOCKER_LAYER_GZIP
            };
            (
                Blob {
                    digest: Digest::of(&gz),
                    bytes: Bytes::from(gz),
                    media_type: media_type.into(),
                },
                diff_id,
            )
        })
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|(_, d)| d.to_string()).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "Labels": {"test": name}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": sizes.iter().map(|_| serde_json::json!({"created": "2026-01-01T00:00:00Z", "created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let config_mt = if oci {
        mt::OCI_CONFIG
    } else {
        mt::DOCKER_CONFIG
    };
    let config = Blob {
        digest: Digest::of(&config),
        bytes: Bytes::from(config),
        media_type: config_mt.into(),
    };
    let media_type = if oci {
        mt::OCI_MANIFEST
    } else {
        mt::DOCKER_MANIFEST_V2
    };
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config.media_type, "digest": config.digest, "size": config.bytes.len()},
        "layers": layers.iter().map(|(l, _)| serde_json::json!({"mediaType": l.media_type, "digest": l.digest, "size": l.bytes.len()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    TestImage {
        manifest_digest: Digest::of(&manifest),
        manifest: Bytes::from(manifest),
        media_type: media_type.into(),
        config,
        layers,
    }
}

/// A manifest list / index over `(platform json, manifest digest, size, media type)`.
pub fn make_index(
    entries: &[(serde_json::Value, &Digest, usize, &str)],
    oci: bool,
) -> (Bytes, String) {
    let media_type = if oci {
        mt::OCI_INDEX
    } else {
        mt::DOCKER_MANIFEST_LIST
    };
    let body = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": entries.iter().map(|(p, d, s, m)| serde_json::json!({"mediaType": m, "digest": d, "size": s, "platform": p})).collect::<Vec<_>>(),
    }))
    .unwrap();
    (Bytes::from(body), media_type.into())
}
