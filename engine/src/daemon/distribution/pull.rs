//! `docker pull`: the registry client downloads into a [`StoreSink`], then the store registers
//! the layers and the image (on a blocking thread). Progress goes out as Docker's JSON messages.

use std::sync::Arc;

use berth_registry::{Credentials, ProgressMessage, ProgressSink};
use berth_storage::{PullCommit, PulledLayer, Reference, Store};
use tokio::sync::mpsc::UnboundedSender;

use super::sink::StoreSink;
use super::{image_ref, registry_client, DistributionError};
use crate::daemon::config::DaemonConfig;

/// Pulls `reference` (tag or digest) and returns the final `Status: …` line.
pub async fn pull(
    cfg: &DaemonConfig,
    store: Arc<Store>,
    reference: &Reference,
    credentials: Credentials,
    progress: UnboundedSender<ProgressMessage>,
) -> Result<String, DistributionError> {
    let client = registry_client(cfg)?;
    let sink = StoreSink::new(store.clone())?;
    let iref = image_ref(reference);
    // The client reports `Digest: …` when the downloads are done; Docker prints it after the
    // layers are extracted, so it is held back and sent after the commit.
    let held = HoldDigest(progress.clone());
    let pulled = client.pull_image(&iref, credentials, &cfg.registry_mirrors, &sink, &held).await?;
    tracing::debug!(image = %reference, endpoint = %pulled.endpoint, layers = pulled.downloaded.len(), "pulled");
    let layers = pulled
        .layers
        .iter()
        .map(|l| {
            Ok(PulledLayer {
                blob: berth_storage::Digest::parse(l.digest.as_str())?,
                file: sink.file(&l.digest),
            })
        })
        .collect::<Result<Vec<_>, berth_storage::StorageError>>()?;
    let commit = PullCommit {
        config: pulled.config.to_vec(),
        layers,
        tag: reference.tag.as_ref().map(|_| reference.to_string()),
        repo_digest: Some(pulled.repo_digest.to_string()),
        source_repository: reference.name(),
    };
    let tx = progress.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let r = store.commit_pull(&commit, &mut |id, status, bytes| {
            let msg = match bytes {
                Some((cur, total)) => ProgressMessage::bytes(id, status, cur, total),
                None => ProgressMessage::layer(id, status),
            };
            tx.emit(msg);
        });
        // The downloads are removed only after the layers were registered from them.
        drop(sink);
        r
    })
    .await
    .map_err(|e| DistributionError::Internal(format!("pull commit panicked: {e}")))??;
    progress.emit(ProgressMessage::status(format!("Digest: {}", pulled.repo_digest)));
    let name = reference.familiar_string();
    Ok(if outcome.up_to_date {
        format!("Status: Image is up to date for {name}")
    } else {
        format!("Status: Downloaded newer image for {name}")
    })
}

struct HoldDigest(UnboundedSender<ProgressMessage>);

impl ProgressSink for HoldDigest {
    fn emit(&self, msg: ProgressMessage) {
        if msg.id.is_none() && msg.status.starts_with("Digest: ") {
            return;
        }
        self.0.emit(msg);
    }
}
