//! Whole-image transfers: `pull_image` and `push_image`, with Docker's concurrency limits
//! (3 downloads, 5 uploads) and Docker's progress lines.
//!
//! Pull ends at `Download complete` per layer and a final `Digest: …` line; extraction
//! (`Extracting`, `Pull complete`) and the `Status: …` line belong to the storage/daemon side,
//! which knows whether the image is new.

mod pull;
mod push;

use crate::progress::ProgressMessage;
use tokio::sync::{Semaphore, SemaphorePermit};

pub use pull::PulledImage;
pub use push::{PushRequest, PushedImage};

/// Emit a `Downloading`/`Pushing` line at most every this many bytes (and at the end).
pub(crate) const PROGRESS_STEP: u64 = 512 * 1024;

/// Takes a transfer slot; a layer that has to queue first shows `Waiting`, as in Docker.
pub(crate) async fn slot<'a>(
    limit: &'a Semaphore,
    id: &str,
    progress: &dyn crate::progress::ProgressSink,
) -> SemaphorePermit<'a> {
    match limit.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            progress.emit(ProgressMessage::layer(id, "Waiting"));
            limit.acquire().await.expect("semaphore is never closed")
        }
    }
}
