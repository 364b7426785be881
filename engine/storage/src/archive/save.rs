//! `docker save`. Default: the Docker ≥ 25 hybrid layout (OCI image layout + Docker's
//! `manifest.json` and `repositories`), read by `docker load` (20.10 too), skopeo and umoci.
//! `SaveFormat::Legacy` writes the Docker 20.10 layout (`<v1id>/{VERSION,json,layer.tar}`).

use super::outer::OuterTar;
use crate::digest::{chain_ids, ChainId, DiffId, Digest, ImageId};
use crate::error::{Result, StorageError};
use crate::reference::Reference;
use crate::store::{Inner, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaveFormat {
    /// Docker ≥ 25: `blobs/sha256/…`, `index.json`, `oci-layout`, `manifest.json`, `repositories`.
    #[default]
    Oci,
    /// Docker 20.10: `<imageID>.json`, `<v1id>/{VERSION,json,layer.tar}`, `manifest.json`, `repositories`.
    Legacy,
}

struct Item {
    id: ImageId,
    tags: Vec<Reference>,
}

impl Inner {
    /// Docker's `parseNames`: a name-only reference selects every tag of that repository.
    fn save_items(&self, names: &[&str]) -> Result<Vec<Item>> {
        let mut items: Vec<Item> = Vec::new();
        let add = |items: &mut Vec<Item>, id: ImageId, tag: Option<Reference>| {
            let pos = match items.iter().position(|i| i.id == id) {
                Some(p) => p,
                None => {
                    items.push(Item { id, tags: Vec::new() });
                    items.len() - 1
                }
            };
            if let Some(t) = tag {
                if !items[pos].tags.contains(&t) {
                    items[pos].tags.push(t);
                }
            }
        };
        for name in names {
            let id = self.resolve(name)?;
            let plain = match crate::reference::parse_any(name)? {
                crate::reference::AnyReference::Id(_) => None,
                crate::reference::AnyReference::Named(_) => Some(Reference::parse_normalized(name)?),
            };
            match plain {
                Some(p) if p.tag.is_some() && self.repos.get(&p).as_ref() == Some(&id) => add(&mut items, id, Some(p)),
                Some(p) if p.tag.is_none() && p.digest.is_none() => {
                    let tags: Vec<(Reference, ImageId)> =
                        self.repos.all().into_iter().filter(|(r, _)| r.name() == p.name() && r.tag.is_some()).collect();
                    if tags.is_empty() {
                        add(&mut items, id, None); // an ID prefix
                    }
                    for (r, rid) in tags {
                        add(&mut items, rid, Some(r));
                    }
                }
                _ => add(&mut items, id, None),
            }
        }
        Ok(items)
    }
}

fn v1_id(chain: &ChainId, parent: Option<&str>, body: &BTreeMap<String, Value>) -> String {
    let mut m = body.clone();
    m.remove("id");
    m.insert("layer_id".into(), json!(chain.as_str()));
    if let Some(p) = parent {
        m.insert("parent".into(), json!(p));
    }
    Digest::of(&serde_json::to_vec(&m).unwrap()).hex().to_string()
}

impl Store {
    /// Write an archive of the named images (names, tags, IDs) to `out`.
    pub fn save(&self, names: &[&str], format: SaveFormat, out: &mut dyn Write) -> Result<()> {
        let g = self.lock();
        let items = g.save_items(names)?;
        if items.is_empty() {
            return Err(StorageError::InvalidArchive("no images to save".into()));
        }
        match format {
            SaveFormat::Oci => save_oci(&g, &items, out),
            SaveFormat::Legacy => save_legacy(&g, &items, out),
        }
    }
}

fn layer_entry<W: Write>(g: &Inner, t: &mut OuterTar<W>, name: &str, chain: &ChainId) -> Result<u64> {
    let size = g.layers.tar_size(chain)?;
    t.stream(name, size, |w| g.layers.write_tar(chain, w))?;
    Ok(size)
}

fn save_oci(g: &Inner, items: &[Item], out: &mut dyn Write) -> Result<()> {
    let mut t = OuterTar::new(out, 0);
    t.dir("blobs/")?;
    t.dir("blobs/sha256/")?;
    let mut written: HashSet<String> = HashSet::new();
    let mut manifest = Vec::new();
    let mut index = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for it in items {
        let img = g.images.get(&it.id).expect("resolved");
        let diffs: &[DiffId] = &img.config.diff_ids;
        let mut layers = Vec::new();
        for (chain, diff) in chain_ids(diffs).iter().zip(diffs) {
            let name = format!("blobs/sha256/{}", diff.hex());
            let size = if written.insert(name.clone()) {
                layer_entry(g, &mut t, &name, chain)?
            } else {
                g.layers.tar_size(chain)?
            };
            layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": diff.as_str(), "size": size}));
        }
        let cfg_name = format!("blobs/sha256/{}", it.id.hex());
        if written.insert(cfg_name.clone()) {
            t.file(&cfg_name, &img.bytes)?;
        }
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": it.id.as_str(), "size": img.bytes.len()},
            "layers": layers,
        });
        let mb = serde_json::to_vec(&m).unwrap();
        let md = Digest::of(&mb);
        let mname = format!("blobs/sha256/{}", md.hex());
        if written.insert(mname.clone()) {
            t.file(&mname, &mb)?;
        }
        let desc = |ann: Option<Value>| {
            let mut d = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.as_str(), "size": mb.len()});
            if let Some(a) = ann {
                d["annotations"] = a;
            }
            d
        };
        if it.tags.is_empty() {
            index.push(desc(None));
        }
        for r in &it.tags {
            let tag = r.tag.clone().unwrap_or_default();
            index.push(desc(Some(json!({"io.containerd.image.name": r.to_string(), "org.opencontainers.image.ref.name": tag}))));
            if let Some(top) = diffs.last() {
                repositories.entry(r.familiar_name()).or_default().insert(tag, top.hex().to_string());
            }
        }
        manifest.push(json!({
            "Config": cfg_name,
            "RepoTags": if it.tags.is_empty() { Value::Null } else { json!(it.tags.iter().map(Reference::familiar_string).collect::<Vec<_>>()) },
            "Layers": diffs.iter().map(|d| format!("blobs/sha256/{}", d.hex())).collect::<Vec<_>>(),
        }));
    }
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index});
    t.file("index.json", &serde_json::to_vec(&idx).unwrap())?;
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap())?;
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    if !repositories.is_empty() {
        t.file("repositories", &serde_json::to_vec(&repositories).unwrap())?;
    }
    t.finish()?;
    Ok(())
}

fn save_legacy(g: &Inner, items: &[Item], out: &mut dyn Write) -> Result<()> {
    let mut t = OuterTar::new(out, 0);
    let mut written: HashSet<String> = HashSet::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for it in items {
        let img = g.images.get(&it.id).expect("resolved");
        let diffs = &img.config.diff_ids;
        let chains = chain_ids(diffs);
        let mut parent: Option<String> = None;
        let mut layer_paths = Vec::new();
        for (i, chain) in chains.iter().enumerate() {
            let top = i + 1 == chains.len();
            let mut body: BTreeMap<String, Value> = if top {
                let mut m: BTreeMap<String, Value> =
                    img.config.raw.as_object().map(|o| o.clone().into_iter().collect()).unwrap_or_default();
                m.remove("history");
                m.remove("rootfs");
                m
            } else {
                let mut m = BTreeMap::new();
                m.insert("created".into(), json!("1970-01-01T00:00:00Z"));
                m.insert("container_config".into(), serde_json::to_value(crate::image::config::ContainerConfig::default()).unwrap());
                m
            };
            let id = v1_id(chain, parent.as_deref().map(|p| format!("sha256:{p}")).as_deref(), &body);
            body.insert("id".into(), json!(id));
            if let Some(p) = &parent {
                body.insert("parent".into(), json!(p));
            }
            if written.insert(id.clone()) {
                t.dir(&format!("{id}/"))?;
                t.file(&format!("{id}/VERSION"), b"1.0")?;
                t.file(&format!("{id}/json"), &serde_json::to_vec(&body).unwrap())?;
                layer_entry(g, &mut t, &format!("{id}/layer.tar"), chain)?;
            }
            layer_paths.push(format!("{id}/layer.tar"));
            parent = Some(id);
        }
        let cfg_name = format!("{}.json", it.id.hex());
        if written.insert(cfg_name.clone()) {
            t.file(&cfg_name, &img.bytes)?;
        }
        for r in &it.tags {
            if let Some(p) = &parent {
                repositories.entry(r.familiar_name()).or_default().insert(r.tag.clone().unwrap_or_default(), p.clone());
            }
        }
        manifest.push(json!({
            "Config": cfg_name,
            "RepoTags": if it.tags.is_empty() { Value::Null } else { json!(it.tags.iter().map(Reference::familiar_string).collect::<Vec<_>>()) },
            "Layers": layer_paths,
        }));
    }
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap())?;
    if !repositories.is_empty() {
        t.file("repositories", &serde_json::to_vec(&repositories).unwrap())?;
    }
    t.finish()?;
    Ok(())
}
