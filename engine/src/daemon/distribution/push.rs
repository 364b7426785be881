//! `docker push`: the store prepares the blobs (gzip'ed layers, schema2 manifest), the registry
//! client uploads them, and the store records the RepoDigest and where each layer now lives.

use std::collections::HashMap;
use std::sync::Arc;

use berth_registry::{Credentials, Digest, ProgressMessage, PushRequest};
use berth_storage::{Reference, Store};
use tokio::sync::mpsc::UnboundedSender;

use super::sink::PlanSource;
use super::{image_ref, registry_client, DistributionError};
use crate::daemon::config::DaemonConfig;

/// Tags to push for `POST /images/{name}/push?tag=`: the given one, or (empty tag) every tag of
/// the repository, as Docker does.
pub fn tags_to_push(store: &Store, repo: &Reference, tag: &str) -> Result<Vec<Reference>, DistributionError> {
    if !tag.is_empty() {
        let r = Reference::parse_normalized(&format!("{}:{tag}", repo.familiar_name()))?;
        return Ok(vec![r]);
    }
    let mut out = Vec::new();
    for img in store.list_images(&Default::default())? {
        for t in &img.repo_tags {
            if let Ok(r) = Reference::parse_normalized(t) {
                if r.name() == repo.name() && r.tag.is_some() {
                    out.push(r);
                }
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(DistributionError::NoLocalImage(repo.familiar_name()));
    }
    Ok(out)
}

/// Pushes one tagged image.
pub async fn push(
    cfg: &DaemonConfig,
    store: Arc<Store>,
    tagged: &Reference,
    credentials: Credentials,
    progress: UnboundedSender<ProgressMessage>,
) -> Result<(), DistributionError> {
    let id = store
        .resolve_image(&tagged.to_string())
        .map_err(|_| DistributionError::NoLocalImage(tagged.familiar_name()))?;
    let client = registry_client(cfg)?;
    let s = store.clone();
    let plan = tokio::task::spawn_blocking(move || s.prepare_push(&id, &mut |_| {}))
        .await
        .map_err(|e| DistributionError::Internal(format!("push preparation panicked: {e}")))??;
    let plan = Arc::new(plan);
    let repo_name = tagged.name();
    let mount_from = mount_sources(&store, &plan, tagged);
    let source = PlanSource(plan.clone());
    let req = PushRequest {
        manifest: bytes::Bytes::from(plan.manifest.clone()),
        media_type: plan.media_type.to_string(),
        source: &source,
        mount_from,
    };
    let pushed = client.push_image(&image_ref(tagged), credentials, req, &progress).await?;
    let digest = berth_storage::Digest::parse(pushed.digest.as_str())?;
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.record_push(&plan, &repo_name, &digest))
        .await
        .map_err(|e| DistributionError::Internal(format!("recording the push panicked: {e}")))??;
    Ok(())
}

/// Other repositories of the same registry known (from earlier pulls/pushes) to hold a layer
/// blob: candidates for a cross-repository mount instead of an upload.
fn mount_sources(store: &Store, plan: &berth_storage::PushPlan, target: &Reference) -> HashMap<Digest, Vec<String>> {
    let mut out = HashMap::new();
    let prefix = format!("{}/", target.domain);
    for l in &plan.layers {
        let repos: Vec<String> = store
            .v2_metadata(&l.diff_id)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.digest == l.digest.as_str())
            .filter_map(|m| m.source_repository.strip_prefix(&prefix).map(String::from))
            .filter(|r| *r != target.path)
            .collect();
        if !repos.is_empty() {
            if let Ok(d) = l.digest.as_str().parse::<Digest>() {
                out.insert(d, repos);
            }
        }
    }
    out
}
