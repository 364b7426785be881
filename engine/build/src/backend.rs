//! What the builder needs from an engine, and nothing more (moby's `builder.Backend`): images,
//! the classic cache, step containers and their root filesystems, commits and tags. berthd
//! implements it over its daemon services; [`crate::fake`] implements it in memory for tests.

use std::io::Write;
use std::path::PathBuf;

use berth_storage::ContainerConfig;

/// An image as the builder sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// `sha256:<hex>`
    pub id: String,
    pub config: ContainerConfig,
    /// `os` of the image config (`linux`).
    pub os: String,
}

/// What a step commits: the container (or rw layer) `id`, on `parent`, with the image's new
/// `config` and the `container_config` that is the step's cache key.
#[derive(Clone, Debug)]
pub struct Commit<'a> {
    pub id: &'a str,
    pub parent: &'a str,
    pub config: &'a ContainerConfig,
    pub container_config: &'a ContainerConfig,
    /// `MAINTAINER`
    pub author: &'a str,
    /// Whether the image config names the container (RUN and metadata steps run in a created
    /// container; COPY/ADD/WORKDIR only use a rw layer, and Docker leaves `container` out).
    pub record_container: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// `No such image: …` (after a failed pull too).
    #[error("{0}")]
    NotFound(String),
    /// The client went away or the build was cancelled.
    #[error("build cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

/// Where build output goes: the `stream` messages of `POST /build`.
pub trait Output: Send {
    /// A piece of text for the client (`Step 1/3 : FROM busybox\n`, a RUN's output…). An error
    /// means the client is gone: the build stops.
    fn stream(&mut self, text: &str) -> Result<(), BackendError>;
    /// Pull progress as the JSON messages `POST /images/create` streams.
    fn progress(&mut self, message: &serde_json::Value) -> Result<(), BackendError>;
    /// The image a stage produced (`{"aux":{"ID":"sha256:…"}}`; the client keeps the last).
    fn aux(&mut self, image_id: &str) -> Result<(), BackendError>;
}

pub trait Backend: Send + Sync {
    /// The local image `name`, pulled first when it is missing or `pull` is set (progress to
    /// `out`).
    fn image(&self, name: &str, pull: bool, out: &mut dyn Output) -> Result<Image, BackendError>;
    /// The classic builder's cache: the newest image built locally on `parent` whose
    /// `container_config` matches `config` (moby's `getLocalCachedImage`).
    fn cached_child(&self, parent: &str, config: &ContainerConfig) -> Result<Option<Image>, BackendError>;
    /// Create a step container on `image` from `config` (not started). Returns its ID.
    fn create_container(&self, image: &str, config: &ContainerConfig) -> Result<String, BackendError>;
    /// Start a created container, copy its output to `out` as it comes, wait for it; its exit
    /// code. When `out` fails (client gone) the container is killed.
    fn run_container(&self, id: &str, out: &mut dyn Output) -> Result<i64, BackendError>;
    /// A rw layer on `image` for file steps, not a container (`id` chosen by the caller).
    fn create_layer(&self, id: &str, image: &str) -> Result<(), BackendError>;
    /// Mount a container's or rw layer's root filesystem; its path on the host.
    fn mount(&self, id: &str) -> Result<PathBuf, BackendError>;
    fn unmount(&self, id: &str) -> Result<(), BackendError>;
    /// Commit a container or rw layer as a new image; its ID.
    fn commit(&self, c: &Commit) -> Result<String, BackendError>;
    /// Remove a step container, or a rw layer made by [`Backend::create_layer`].
    fn remove(&self, id: &str, is_container: bool) -> Result<(), BackendError>;
    /// Tag `image` as `reference` (`name:tag`).
    fn tag(&self, image: &str, reference: &str) -> Result<(), BackendError>;
    /// Fetch an `ADD http://…` source into `out`; its `Last-Modified` as Unix seconds if given.
    fn download(&self, url: &str, out: &mut dyn Write) -> Result<Option<i64>, BackendError>;
}
