//! Disk usage of the image store for `GET /system/df`, as moby's `ImageService.LayerDiskUsage`
//! and `Images(…, SharedSize: true)` compute it: a layer counts once per image whose rootfs
//! holds it (by chainID); `LayersSize` is the sum of the sizes of the layers some image
//! holds; an image's `SharedSize` is the sum of its layers that more than one image holds.

use crate::digest::{chain_ids, ChainId, ImageId};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};

/// See the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageUsage {
    /// `LayersSize`: bytes of every layer some image holds, each counted once.
    pub layers_size: u64,
    /// `SharedSize` of each image.
    pub shared_size: BTreeMap<ImageId, u64>,
}

impl Store {
    /// [`ImageUsage`] of the store's images.
    pub fn image_usage(&self) -> ImageUsage {
        let g = self.lock();
        let mut refs: HashMap<ChainId, u64> = HashMap::new();
        let chains: Vec<(ImageId, Vec<ChainId>)> = g.images.all().map(|i| (i.id.clone(), chain_ids(&i.config.diff_ids))).collect();
        for (_, cs) in &chains {
            for c in cs {
                *refs.entry(c.clone()).or_default() += 1;
            }
        }
        let size = |c: &ChainId| g.layers.get(c).map(|l| l.size).unwrap_or(0);
        let layers_size = refs.keys().map(size).sum();
        let shared_size = chains.iter().map(|(id, cs)| (id.clone(), cs.iter().filter(|c| refs[*c] > 1).map(size).sum())).collect();
        ImageUsage { layers_size, shared_size }
    }
}
