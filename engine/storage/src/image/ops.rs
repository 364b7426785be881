//! Image operations on [`Store`]: tag, remove (`rmi`), list, history, inspect, prune — with
//! Docker's semantics and messages (`daemon/images/image_delete.go`, `images.go`, `image_history.go`).

use crate::digest::{chain_ids, ImageId};
use crate::error::{Result, StorageError};
use crate::image::config::ContainerConfig;
use crate::reference::Reference;
use crate::store::{truncate_id, ContainerRef, Inner, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;

/// `types.ImageInspect` of Docker 20.10, fields in its order (the JSON keys come out in this
/// order: `serde_json::Value` would sort them).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub container: String,
    pub container_config: ContainerConfig,
    pub docker_version: String,
    pub author: String,
    pub config: Option<ContainerConfig>,
    pub architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    pub os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_version: String,
    pub size: u64,
    pub virtual_size: u64,
    pub graph_driver: InspectGraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: InspectRootFs,
    pub metadata: InspectMetadata,
}

/// `GraphDriverData`: `Data` before `Name`, as Docker's swagger-generated struct has them.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectGraphDriver {
    pub data: Option<BTreeMap<String, String>>,
    pub name: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InspectRootFs {
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InspectMetadata {
    #[serde(rename = "LastTagTime")]
    pub last_tag_time: String,
}

/// One line of `docker rmi` output (`{"Untagged": …}` / `{"Deleted": …}` in the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemovedItem {
    Untagged(String),
    Deleted(String),
}

impl fmt::Display for RemovedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemovedItem::Untagged(s) => write!(f, "Untagged: {s}"),
            RemovedItem::Deleted(s) => write!(f, "Deleted: {s}"),
        }
    }
}

impl RemovedItem {
    /// The Engine API form: `{"Untagged":"bb:latest"}` / `{"Deleted":"sha256:…"}`.
    pub fn to_json(&self) -> Value {
        match self {
            RemovedItem::Untagged(s) => json!({ "Untagged": s }),
            RemovedItem::Deleted(s) => json!({ "Deleted": s }),
        }
    }
}

/// Filters of `GET /images/json`.
#[derive(Clone, Debug, Default)]
pub struct ImageFilters {
    /// `-a`: include intermediate images (untagged images with children).
    pub all: bool,
    /// `dangling=true|false`.
    pub dangling: Option<bool>,
    /// `reference=<pattern>` (glob on `name` or `name:tag`, familiar form); any may match.
    pub reference: Vec<String>,
    /// `label=key` or `label=key=value`; all must match.
    pub label: Vec<String>,
}

/// One row of `GET /images/json` (API 1.41 field names in the doc).
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSummary {
    /// `Id`
    pub id: ImageId,
    /// `ParentId` ("" when none)
    pub parent_id: String,
    /// `RepoTags` (`["<none>:<none>"]` for an untagged image, as Docker 20.10)
    pub repo_tags: Vec<String>,
    /// `RepoDigests` (`["<none>@<none>"]` for an untagged image)
    pub repo_digests: Vec<String>,
    /// `Created` (unix seconds)
    pub created: i64,
    /// `Size` = `VirtualSize`: sum of the layers' sizes
    pub size: u64,
    /// `Labels`
    pub labels: BTreeMap<String, String>,
}

impl ImageSummary {
    pub fn to_json(&self) -> Value {
        json!({
            "Containers": -1, "Created": self.created, "Id": self.id.as_str(),
            "Labels": if self.labels.is_empty() { Value::Null } else { json!(self.labels) },
            "ParentId": self.parent_id, "RepoDigests": self.repo_digests, "RepoTags": self.repo_tags,
            "SharedSize": -1, "Size": self.size, "VirtualSize": self.size,
        })
    }
}

/// One row of `docker history` (`GET /images/{name}/history`).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryItem {
    /// Image ID, or `<missing>` for layers not backed by a local image.
    pub id: String,
    pub created: i64,
    pub created_by: String,
    /// Tags of that image (empty → the API shows `null`).
    pub tags: Vec<String>,
    pub size: u64,
    pub comment: String,
}

impl HistoryItem {
    pub fn to_json(&self) -> Value {
        json!({
            "Comment": self.comment, "Created": self.created, "CreatedBy": self.created_by, "Id": self.id,
            "Size": self.size, "Tags": if self.tags.is_empty() { Value::Null } else { json!(self.tags) },
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PruneReport {
    pub deleted: Vec<RemovedItem>,
    pub space_reclaimed: u64,
}

pub(crate) fn unix_seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map(|t| t.timestamp()).unwrap_or(0)
}

/// Go's `path.Match` subset: `*` (not across `/`), `?`, literal characters.
fn glob(pattern: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    fn m(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).take_while(|&i| i == 0 || t[i - 1] != '/').any(|i| m(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && t[0] != '/' && m(&p[1..], &t[1..]),
            Some(c) => !t.is_empty() && t[0] == *c && m(&p[1..], &t[1..]),
        }
    }
    m(&p, &t)
}

impl Inner {
    fn image_size(&self, id: &ImageId) -> u64 {
        let Some(img) = self.images.get(id) else { return 0 };
        chain_ids(&img.config.diff_ids).iter().filter_map(|c| self.layers.get(c)).map(|l| l.size).sum()
    }

    fn is_single_reference(refs: &[Reference]) -> bool {
        if refs.len() <= 1 {
            return refs.len() == 1;
        }
        let mut single: Option<&Reference> = None;
        let mut canonical = std::collections::HashSet::new();
        for r in refs {
            if r.digest.is_some() {
                canonical.insert(r.name());
            } else if single.is_none() {
                single = Some(r);
            } else {
                return false;
            }
        }
        let single = single.unwrap_or(&refs[0]);
        canonical.len() == 1 && canonical.contains(&single.name())
    }

    /// `checkImageDeleteConflict`: (hard?, message).
    fn delete_conflict(&self, id: &ImageId, hard_only: bool, check_refs: bool, containers: &[ContainerRef]) -> Option<(bool, String)> {
        if !self.images.children(id).is_empty() {
            return Some((true, "image has dependent child images".into()));
        }
        if let Some(c) = containers.iter().find(|c| c.running && &c.image == id) {
            return Some((true, format!("image is being used by running container {}", truncate_id(&c.id))));
        }
        if hard_only {
            return None;
        }
        if check_refs && !self.repos.references(id).is_empty() {
            return Some((false, "image is referenced in multiple repositories".into()));
        }
        if let Some(c) = containers.iter().find(|c| !c.running && &c.image == id) {
            return Some((false, format!("image is being used by stopped container {}", truncate_id(&c.id))));
        }
        None
    }

    fn conflict_error(id: &ImageId, hard: bool, msg: &str) -> StorageError {
        let force = if hard { "cannot be forced" } else { "must be forced" };
        StorageError::Conflict(format!("conflict: unable to delete {} ({force}) - {msg}", truncate_id(id.as_str())))
    }

    /// `imageDeleteHelper`.
    fn delete_helper(
        &mut self,
        id: &ImageId,
        out: &mut Vec<RemovedItem>,
        force: bool,
        prune: bool,
        quiet: bool,
        containers: &[ContainerRef],
    ) -> Result<()> {
        if let Some((hard, msg)) = self.delete_conflict(id, force, true, containers) {
            if quiet {
                return Ok(());
            }
            return Err(Self::conflict_error(id, hard, &msg));
        }
        let parent = self.images.get(id).and_then(|r| r.parent.clone());
        for r in self.repos.references(id) {
            self.repos.remove(&r)?;
            out.push(RemovedItem::Untagged(r.familiar_string()));
        }
        let top = self.top_chain(id)?;
        self.images.delete(id)?;
        out.push(RemovedItem::Deleted(id.to_string()));
        if let Some(top) = top {
            for c in self.release_unreferenced(&[top]) {
                out.push(RemovedItem::Deleted(c.to_string()));
            }
        }
        if prune {
            if let Some(p) = parent {
                if self.images.get(&p).is_some() {
                    return self.delete_helper(&p, out, force, prune, true, containers);
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// `docker tag SOURCE TARGET` (`TARGET` gets `:latest` when it has no tag).
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let target = Reference::parse_normalized_tagged(target)?;
        if target.digest.is_some() {
            return Err(StorageError::InvalidReference("refusing to create a tag with a digest reference".into()));
        }
        let mut g = self.lock();
        let id = g.resolve(source).map_err(|e| match e {
            StorageError::NoSuchImage(_) => StorageError::NoSuchImage(source.to_string()),
            e => e,
        })?;
        g.tag_ref(&target, &id)
    }

    /// `docker rmi` (`DELETE /images/{name}?force=&noprune=`): untag or delete, Docker's rules and
    /// messages. `containers` are all containers (running or not) with their image IDs.
    pub fn remove_image(&self, name: &str, force: bool, prune: bool, containers: &[ContainerRef]) -> Result<Vec<RemovedItem>> {
        let mut g = self.lock();
        let id = g.resolve(name)?;
        let mut out = Vec::new();
        let refs = g.repos.references(&id);
        let is_id_prefix = id.as_str().starts_with(name) || id.hex().starts_with(name);
        let mut quiet_after_untag = false;
        if !is_id_prefix {
            if !force && Inner::is_single_reference(&refs) {
                if let Some(c) = containers.iter().find(|c| c.image == id) {
                    return Err(StorageError::Conflict(format!(
                        "conflict: unable to remove repository reference {:?} (must force) - container {} is using its referenced image {}",
                        name,
                        truncate_id(&c.id),
                        truncate_id(id.as_str())
                    )));
                }
            }
            let r = Reference::parse_normalized_tagged(name)?;
            if !g.repos.remove(&r)? {
                return Err(StorageError::NoSuchImage(r.familiar_string()));
            }
            out.push(RemovedItem::Untagged(r.familiar_string()));
            // Docker: when the last tag of a repository goes, that repository's digest
            // references (RepoDigests from pull/push) go with it.
            if r.digest.is_none() {
                let left = g.repos.references(&id);
                if !left.iter().any(|x| x.digest.is_none() && x.name() == r.name()) {
                    for d in left.into_iter().filter(|x| x.digest.is_some() && x.name() == r.name()) {
                        g.repos.remove(&d)?;
                        out.push(RemovedItem::Untagged(d.familiar_string()));
                    }
                }
            }
            if !g.repos.references(&id).is_empty() {
                return Ok(out);
            }
            quiet_after_untag = true;
        } else if Inner::is_single_reference(&refs) {
            if let Some((hard, msg)) = g.delete_conflict(&id, force, false, containers) {
                return Err(Inner::conflict_error(&id, hard, &msg));
            }
            for r in refs {
                g.repos.remove(&r)?;
                out.push(RemovedItem::Untagged(r.familiar_string()));
            }
        }
        // After removing the last tag, conflicts (e.g. a container still uses it) keep the image
        // as a dangling one silently, as Docker does.
        g.delete_helper(&id, &mut out, force, prune, quiet_after_untag, containers)?;
        Ok(out)
    }

    /// `docker images` (`GET /images/json`).
    pub fn list_images(&self, f: &ImageFilters) -> Result<Vec<ImageSummary>> {
        let g = self.lock();
        let mut out = Vec::new();
        for img in g.images.all() {
            let refs = g.repos.references(&img.id);
            let mut tags: Vec<String> = refs.iter().filter(|r| r.tag.is_some()).map(Reference::familiar_string).collect();
            let mut digests: Vec<String> = refs.iter().filter(|r| r.digest.is_some()).map(Reference::familiar_string).collect();
            let dangling = tags.is_empty() && digests.is_empty();
            if let Some(want) = f.dangling {
                if want != dangling {
                    continue;
                }
            }
            if !f.reference.is_empty() {
                let hit = refs.iter().any(|r| {
                    f.reference.iter().any(|p| glob(p, &r.familiar_name()) || glob(p, &r.familiar_string()))
                });
                if !hit {
                    continue;
                }
            }
            let labels = img.config.labels();
            let label_ok = f.label.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => labels.get(k).map(|x| x == v).unwrap_or(false),
                None => labels.contains_key(l.as_str()),
            });
            if !label_ok {
                continue;
            }
            if dangling {
                if !f.all && !g.images.children(&img.id).is_empty() {
                    continue; // intermediate image
                }
                tags = vec!["<none>:<none>".into()];
                digests = vec!["<none>@<none>".into()];
            }
            out.push(ImageSummary {
                id: img.id.clone(),
                parent_id: img.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                repo_tags: tags,
                repo_digests: digests,
                created: unix_seconds(&img.config.created()),
                size: g.image_size(&img.id),
                labels,
            });
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// `docker history` (newest first).
    pub fn history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let g = self.lock();
        let id = g.resolve(name)?;
        let img = g.images.get(&id).expect("resolved");
        let chains = chain_ids(&img.config.diff_ids);
        let mut layer = 0;
        let mut items = Vec::new();
        for h in &img.config.history {
            let mut size = 0;
            if !h.empty_layer.unwrap_or(false) {
                if let Some(l) = chains.get(layer).and_then(|c| g.layers.get(c)) {
                    size = l.size;
                }
                layer += 1;
            }
            items.insert(
                0,
                HistoryItem {
                    id: "<missing>".into(),
                    created: unix_seconds(&h.created),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    tags: Vec::new(),
                    size,
                    comment: h.comment.clone().unwrap_or_default(),
                },
            );
        }
        let mut cur = Some(id);
        for item in items.iter_mut() {
            let Some(c) = cur.take() else { break };
            item.id = c.to_string();
            item.tags = g.repos.references(&c).iter().filter(|r| r.tag.is_some()).map(Reference::familiar_string).collect();
            cur = g.images.get(&c).and_then(|r| r.parent.clone()).filter(|p| g.images.get(p).is_some());
        }
        Ok(items)
    }

    /// `docker image inspect` (`GET /images/{name}/json`), API 1.41 shape, in Docker's key order.
    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let id = self.resolve_image(name)?;
        let gd = self.image_graph_driver(&id)?;
        let g = self.lock();
        let img = g.images.get(&id).expect("resolved");
        let refs = g.repos.references(&id);
        let raw = &img.config.raw;
        let s = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        // Go decodes the config into typed structs: unknown keys go, missing ones are zero.
        let cfg = |k: &str| raw.get(k).and_then(|c| serde_json::from_value::<ContainerConfig>(c.clone()).ok());
        let size = g.image_size(&id);
        Ok(ImageInspect {
            id: id.as_str().to_string(),
            repo_tags: refs.iter().filter(|r| r.tag.is_some()).map(Reference::familiar_string).collect(),
            repo_digests: refs.iter().filter(|r| r.digest.is_some()).map(Reference::familiar_string).collect(),
            parent: img.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            comment: s("comment"),
            created: s("created"),
            container: s("container"),
            container_config: cfg("container_config").unwrap_or_default(),
            docker_version: s("docker_version"),
            author: s("author"),
            config: cfg("config"),
            architecture: s("architecture"),
            variant: s("variant"),
            os: s("os"),
            os_version: s("os.version"),
            size,
            virtual_size: size,
            graph_driver: InspectGraphDriver { data: (!gd.data.is_empty()).then_some(gd.data), name: gd.name },
            root_fs: InspectRootFs { typ: "layers".into(), layers: img.config.diff_ids.iter().map(|d| d.as_str().to_string()).collect() },
            metadata: InspectMetadata { last_tag_time: img.last_updated.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()) },
        })
    }

    /// `docker image prune` (`-a` = `all`): delete dangling (or all unused) images.
    pub fn prune_images(&self, all: bool, containers: &[ContainerRef]) -> Result<PruneReport> {
        let candidates: Vec<ImageId> = {
            let g = self.lock();
            let mut v: Vec<ImageId> = g
                .images
                .all()
                .filter(|img| {
                    let dangling = g.repos.references(&img.id).is_empty();
                    (all || dangling) && g.images.children(&img.id).is_empty() && !containers.iter().any(|c| c.image == img.id)
                })
                .map(|i| i.id.clone())
                .collect();
            v.sort();
            v
        };
        let mut report = PruneReport::default();
        for id in candidates {
            let before: u64 = self.layer_bytes();
            let mut g = self.lock();
            if g.images.get(&id).is_none() {
                continue;
            }
            let mut out = Vec::new();
            if !all {
                if g.delete_helper(&id, &mut out, false, true, false, containers).is_err() {
                    continue;
                }
            } else {
                for r in g.repos.references(&id) {
                    g.repos.remove(&r)?;
                    out.push(RemovedItem::Untagged(r.familiar_string()));
                }
                if g.delete_helper(&id, &mut out, false, true, false, containers).is_err() {
                    continue;
                }
            }
            drop(g);
            report.space_reclaimed += before.saturating_sub(self.layer_bytes());
            report.deleted.extend(out);
        }
        Ok(report)
    }

    fn layer_bytes(&self) -> u64 {
        self.lock().layers.all().map(|l| l.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_like_path_match() {
        assert!(glob("bb", "bb"));
        assert!(glob("b*", "bb"));
        assert!(!glob("b*", "b/b"));
        assert!(glob("*/*", "user/app"));
        assert!(glob("bb:l?", "bb:l2"));
    }

    #[test]
    fn single_reference_rules() {
        let r = |s: &str| Reference::parse_normalized(s).unwrap();
        assert!(!Inner::is_single_reference(&[]));
        assert!(Inner::is_single_reference(&[r("bb:1")]));
        assert!(!Inner::is_single_reference(&[r("bb:1"), r("bb:2")]));
        let d = format!("bb@sha256:{}", "a".repeat(64));
        assert!(Inner::is_single_reference(&[r("bb:1"), r(&d)]));
    }
}
