//! The store side of `docker push`: every layer re-exported from tar-split (byte-identical, so
//! it hashes to its diffID), gzip-compressed into a scratch file whose sha256 is the blob
//! digest, and a Docker schema2 manifest over them. After the push, the RepoDigest and the
//! distribution records are written.

use super::ScratchDir;
use crate::digest::{chain_ids, DiffId, Digest, HashingWriter, ImageId};
use crate::error::{IoContext, Result, StorageError};
use crate::image::config::ImageConfig;
use crate::image::distribution::V2Metadata;
use crate::reference::Reference;
use crate::store::Store;
use std::io::Write;
use std::path::PathBuf;

pub const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const CONFIG_V1: &str = "application/vnd.docker.container.image.v1+json";
pub const LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

#[derive(Debug, Clone)]
pub struct PushLayer {
    pub diff_id: DiffId,
    /// sha256 of the compressed file.
    pub digest: Digest,
    pub size: u64,
    pub path: PathBuf,
}

/// An image ready to push. The scratch files go away with the plan.
#[derive(Debug)]
pub struct PushPlan {
    pub image: ImageId,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub layers: Vec<PushLayer>,
    /// The manifest bytes exactly as pushed (their sha256 is the manifest digest).
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
    _scratch: ScratchDir,
}

impl PushPlan {
    /// The file holding blob `digest` (a layer), if it is one of this plan's.
    pub fn layer_file(&self, digest: &Digest) -> Option<&PathBuf> {
        self.layers.iter().find(|l| &l.digest == digest).map(|l| &l.path)
    }
}

impl Store {
    /// Compresses the image's layers into scratch files and builds its schema2 manifest.
    /// `progress(diff_short)` is called before each layer (it can take a while).
    pub fn prepare_push(&self, id: &ImageId, progress: &mut dyn FnMut(&str)) -> Result<PushPlan> {
        let config = self.image_config(id)?;
        let parsed = ImageConfig::parse(&config)?;
        let scratch = ScratchDir::new(&self.tmp_dir(), "push")?;
        let mut layers = Vec::new();
        for (i, (diff, chain)) in parsed.diff_ids.iter().zip(chain_ids(&parsed.diff_ids)).enumerate() {
            progress(diff.short());
            let path = scratch.path().join(format!("layer-{i}.tar.gz"));
            let file = std::fs::File::create(&path).at(&path)?;
            let mut hw = HashingWriter::new(std::io::BufWriter::new(file));
            // Level 6 as Go's gzip.DefaultCompression; the header has no name and mtime 0, so
            // the same layer always compresses to the same digest.
            let mut gz = flate2::GzBuilder::new().write(&mut hw, flate2::Compression::default());
            self.write_layer_tar(&chain, &mut gz)?;
            gz.finish().at(&path)?;
            hw.flush().at(&path)?;
            let (_, digest, size) = hw.finish();
            layers.push(PushLayer { diff_id: diff.clone(), digest, size, path });
        }
        let config_digest = Digest::of(&config);
        let manifest = schema2_manifest(&config_digest, config.len() as u64, &layers);
        Ok(PushPlan { image: id.clone(), config, config_digest, layers, manifest, media_type: MANIFEST_V2, _scratch: scratch })
    }

    /// After a successful push of `plan` to `repository` (`host/path`, no tag): the RepoDigest
    /// and where each layer now lives.
    pub fn record_push(&self, plan: &PushPlan, repository: &str, manifest_digest: &Digest) -> Result<()> {
        let r = Reference::parse_normalized(&format!("{repository}@{manifest_digest}"))?;
        {
            let mut g = self.lock();
            if g.images.get(&plan.image).is_none() {
                return Err(StorageError::NoSuchImage(plan.image.to_string()));
            }
            g.tag_ref(&r, &plan.image)?;
        }
        for l in &plan.layers {
            self.set_blob_diff_id(&l.digest, &l.diff_id)?;
            self.add_v2_metadata(&l.diff_id, V2Metadata { digest: l.digest.to_string(), source_repository: repository.to_string(), hmac: String::new() })?;
        }
        Ok(())
    }
}

/// Docker's schema2 manifest, marshalled as distribution does (`MarshalIndent` with three
/// spaces, fields in struct order), so berth's manifest bytes look like Docker's.
pub fn schema2_manifest(config: &Digest, config_size: u64, layers: &[PushLayer]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Manifest<'a> {
        schema_version: u32,
        media_type: &'a str,
        config: Desc<'a>,
        layers: Vec<Desc<'a>>,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Desc<'a> {
        media_type: &'a str,
        size: u64,
        digest: &'a str,
    }
    let m = Manifest {
        schema_version: 2,
        media_type: MANIFEST_V2,
        config: Desc { media_type: CONFIG_V1, size: config_size, digest: config.as_str() },
        layers: layers.iter().map(|l| Desc { media_type: LAYER_GZIP, size: l.size, digest: l.digest.as_str() }).collect(),
    };
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&m, &mut ser).expect("manifest serialises");
    out
}
