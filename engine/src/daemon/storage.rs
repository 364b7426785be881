//! The production [`ImageBackend`]: `berth-storage`'s `Store` (overlay2/vfs, Docker layout).

use std::path::PathBuf;
use std::sync::Arc;

use berth_storage::{ErrorKind, Store, StorageError};

use super::error::DaemonError;
use super::images::{ImageBackend, ImageConfig, ImageError, ImageInfo};

pub struct StoreBackend {
    pub store: Arc<Store>,
}

impl From<StorageError> for ImageError {
    fn from(e: StorageError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => match e {
                StorageError::NoSuchImage(r) => ImageError::NotFound(r),
                other => ImageError::Storage(other.to_string()),
            },
            ErrorKind::InvalidInput => ImageError::InvalidReference(e.to_string()),
            ErrorKind::Conflict => ImageError::Conflict(e.to_string()),
            ErrorKind::Internal => ImageError::Storage(e.to_string()),
        }
    }
}

impl From<StorageError> for DaemonError {
    fn from(e: StorageError) -> Self {
        match e.kind() {
            ErrorKind::NotFound => DaemonError::NotFound(e.to_string()),
            ErrorKind::InvalidInput => DaemonError::InvalidParameter(e.to_string()),
            ErrorKind::Conflict => DaemonError::Conflict(e.to_string()),
            ErrorKind::Internal => DaemonError::System(e.to_string()),
        }
    }
}

impl ImageBackend for StoreBackend {
    fn lookup(&self, reference: &str) -> Result<ImageInfo, ImageError> {
        let id = self.store.resolve_image(reference).map_err(|e| match e {
            StorageError::InvalidReference(m) => ImageError::InvalidReference(m),
            other => other.into(),
        })?;
        let cfg = self.store.image_container_config(&id)?;
        // Same JSON field names on both sides; go through JSON to stay decoupled.
        let config: ImageConfig = serde_json::to_value(&cfg)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Ok(ImageInfo { id: id.as_str().to_string(), config })
    }

    fn create_rootfs(&self, container_id: &str, image_id: &str) -> Result<(), ImageError> {
        let id = berth_storage::Digest::parse(image_id)?;
        self.store.create_rw_layer(container_id, &id)?;
        Ok(())
    }

    fn mount_rootfs(&self, container_id: &str) -> Result<PathBuf, ImageError> {
        Ok(self.store.mount(container_id)?)
    }

    fn unmount_rootfs(&self, container_id: &str) -> Result<(), ImageError> {
        Ok(self.store.unmount(container_id)?)
    }

    fn remove_rootfs(&self, container_id: &str) -> Result<(), ImageError> {
        match self.store.remove_rw_layer(container_id) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            r => Ok(r?),
        }
    }

    fn driver_name(&self) -> String {
        self.store.driver_name().to_string()
    }

    fn container_graph_data(&self, container_id: &str) -> Option<std::collections::BTreeMap<String, String>> {
        self.store.container_graph_driver(container_id).ok().map(|g| g.data).filter(|d| !d.is_empty())
    }

    fn store(&self) -> Option<Arc<Store>> {
        Some(self.store.clone())
    }
}
