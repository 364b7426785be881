//! The pull's [`BlobSink`] and the push's [`BlobSource`] over the image store.
//!
//! Downloads go to `<data-root>/tmp/pull-<rand>/<hex>.partial` and are renamed to `<hex>`
//! only after the registry client verified digest and size; the scratch directory (and with it
//! every download) is removed when the sink is dropped, whether the pull succeeded or not.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use berth_registry::{BlobSink, BlobSource, BlobWriter, Descriptor, Digest};
use berth_storage::distribution::ScratchDir;
use berth_storage::{PushPlan, Store};
use tokio::io::{AsyncRead, AsyncWrite};

pub struct StoreSink {
    store: Arc<Store>,
    scratch: ScratchDir,
    done: Arc<Mutex<HashMap<String, PathBuf>>>,
}

impl StoreSink {
    pub fn new(store: Arc<Store>) -> berth_storage::Result<StoreSink> {
        let scratch = ScratchDir::new(&store.tmp_dir(), "pull")?;
        Ok(StoreSink { store, scratch, done: Arc::default() })
    }

    /// The verified download of `digest`, if this pull downloaded it.
    pub fn file(&self, digest: &Digest) -> Option<PathBuf> {
        self.done.lock().unwrap().get(digest.as_str()).cloned()
    }
}

impl BlobSink for StoreSink {
    fn contains(&self, digest: &Digest) -> bool {
        berth_storage::Digest::parse(digest.as_str()).is_ok_and(|d| self.store.blob_available(&d))
    }

    fn create(&self, descriptor: &Descriptor) -> io::Result<Box<dyn BlobWriter>> {
        let hex = descriptor.digest.hex().to_string();
        let partial = self.scratch.path().join(format!("{hex}.partial"));
        let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&partial)?;
        Ok(Box::new(FileWriter {
            file: tokio::fs::File::from_std(file),
            done_path: self.scratch.path().join(&hex),
            partial: Some(partial),
            digest: descriptor.digest.to_string(),
            done: self.done.clone(),
        }))
    }
}

struct FileWriter {
    file: tokio::fs::File,
    /// `Some` until committed: dropped uncommitted, the file is removed.
    partial: Option<PathBuf>,
    done_path: PathBuf,
    digest: String,
    done: Arc<Mutex<HashMap<String, PathBuf>>>,
}

impl AsyncWrite for FileWriter {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.file).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_shutdown(cx)
    }
}

impl BlobWriter for FileWriter {
    fn commit(mut self: Box<Self>) -> io::Result<()> {
        let partial = self.partial.take().expect("committed once");
        std::fs::rename(&partial, &self.done_path)?;
        self.done.lock().unwrap().insert(self.digest.clone(), self.done_path.clone());
        Ok(())
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if let Some(p) = self.partial.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Blobs of a prepared push: the config from memory, layers from the plan's scratch files.
pub struct PlanSource(pub Arc<PushPlan>);

impl BlobSource for PlanSource {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        if digest.as_str() == self.0.config_digest.as_str() {
            return Ok(Box::new(io::Cursor::new(self.0.config.clone())));
        }
        let d = berth_storage::Digest::parse(digest.as_str()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let path = self.0.layer_file(&d).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("blob {digest} is not part of this push")))?;
        Ok(Box::new(tokio::fs::File::from_std(std::fs::File::open(path)?)))
    }
}
