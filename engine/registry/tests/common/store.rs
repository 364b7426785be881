//! In-memory BlobSink / BlobSource: what berth-storage will implement on disk.

use berth_registry::{BlobSink, BlobSource, BlobWriter, Descriptor, Digest};
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

#[derive(Default, Clone)]
pub struct MemStore {
    pub committed: Arc<Mutex<HashMap<Digest, Bytes>>>,
    /// Writers created (to check that failed blobs were started but never committed).
    pub created: Arc<Mutex<Vec<Digest>>>,
}

impl MemStore {
    pub fn with(blobs: HashMap<Digest, Bytes>) -> Self {
        let s = MemStore::default();
        *s.committed.lock().unwrap() = blobs;
        s
    }
    pub fn get(&self, d: &Digest) -> Option<Bytes> {
        self.committed.lock().unwrap().get(d).cloned()
    }
    pub fn len(&self) -> usize {
        self.committed.lock().unwrap().len()
    }
}

struct MemWriter {
    digest: Digest,
    buf: Vec<u8>,
    store: Arc<Mutex<HashMap<Digest, Bytes>>>,
}

impl AsyncWrite for MemWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.buf.extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl BlobWriter for MemWriter {
    fn commit(self: Box<Self>) -> io::Result<()> {
        self.store
            .lock()
            .unwrap()
            .insert(self.digest.clone(), Bytes::from(self.buf));
        Ok(())
    }
}

impl BlobSink for MemStore {
    fn contains(&self, digest: &Digest) -> bool {
        self.committed.lock().unwrap().contains_key(digest)
    }
    fn create(&self, d: &Descriptor) -> io::Result<Box<dyn BlobWriter>> {
        self.created.lock().unwrap().push(d.digest.clone());
        Ok(Box::new(MemWriter {
            digest: d.digest.clone(),
            buf: Vec::new(),
            store: self.committed.clone(),
        }))
    }
}

impl BlobSource for MemStore {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn AsyncRead + Send + Unpin>> {
        let b = self
            .get(digest)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no blob {digest}")))?;
        Ok(Box::new(io::Cursor::new(b)))
    }
}
