//! The crate's error type. Messages are Docker's texts where Docker has one, so the daemon can pass
//! `to_string()` straight into `{"message": …}`; `kind()` tells it which HTTP status to use.

use std::path::{Path, PathBuf};

/// How the daemon should classify an error (HTTP status in brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: bad reference, bad archive, bad `--change`, unsafe tar entry.
    InvalidInput,
    /// 404: no such image / container layer.
    NotFound,
    /// 409: image in use, ambiguous, already exists.
    Conflict,
    /// 500: I/O, mount, corrupted store.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    InvalidReference(String),
    /// Docker: `No such image: bb:latest`.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A bad image archive or layer tar (truncated, not a tar, manifest errors, diffID mismatch).
    #[error("{0}")]
    InvalidArchive(String),
    /// A tar entry that would land outside the target directory.
    #[error("unsafe path in archive: {path:?}: {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("{0}")]
    InvalidChange(String),
    #[error("max depth exceeded")]
    MaxDepthExceeded,
    #[error("{0}")]
    Mount(String),
    #[error("{0}")]
    Corrupt(String),
}

impl StorageError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StorageError::InvalidReference(_)
            | StorageError::InvalidArchive(_)
            | StorageError::UnsafePath { .. }
            | StorageError::InvalidChange(_) => ErrorKind::InvalidInput,
            StorageError::NoSuchImage(_) | StorageError::NotFound(_) => ErrorKind::NotFound,
            StorageError::Conflict(_) => ErrorKind::Conflict,
            _ => ErrorKind::Internal,
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Attach a path to an io::Error.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| StorageError::Io { path: path.to_path_buf(), source })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| StorageError::Io { path: path.to_path_buf(), source: e.into() })
    }
}
