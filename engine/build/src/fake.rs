//! An in-memory engine for the builder's tests: images are directory snapshots under a temp
//! dir, a RUN is a closure given the step's root and command, commits hash what they hold. It
//! implements [`Backend`] exactly as berthd's does in what the builder can observe, so the
//! dispatcher is tested without root, overlayfs or a daemon.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_storage::ContainerConfig;
use sha2::{Digest as _, Sha256};

use crate::backend::{Backend, BackendError, Commit, Image, Output};

/// What a fake RUN does: gets the step's root and argv, writes output, returns an exit code.
pub type RunFn = dyn Fn(&Path, &[String], &mut dyn Output) -> i64 + Send + Sync;

#[derive(Clone, Debug)]
pub struct FakeImage {
    pub config: ContainerConfig,
    pub container_config: ContainerConfig,
    pub parent: Option<String>,
    pub author: String,
    /// Whether the commit changed files (a layer) or not (`empty_layer`).
    pub layer: bool,
    pub created: u64,
    pub container: Option<String>,
}

#[derive(Default)]
struct State {
    images: BTreeMap<String, FakeImage>,
    tags: BTreeMap<String, String>,
    /// Container/layer id → (image it was made from, is a container).
    rw: BTreeMap<String, (String, bool)>,
    counter: u64,
    /// Commands run, in order.
    runs: Vec<Vec<String>>,
    removed: Vec<String>,
    /// The argv each created container would run (its Cmd; the builder's entrypoint is `[""]`).
    cmds: BTreeMap<String, Vec<String>>,
}

pub struct Fake {
    dir: tempfile::TempDir,
    state: Mutex<State>,
    run: Box<RunFn>,
    pub downloads: BTreeMap<String, Vec<u8>>,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ft.is_dir() {
            copy_tree(&e.path(), &dst);
            let md = std::fs::metadata(e.path()).unwrap();
            std::fs::set_permissions(&dst, md.permissions()).unwrap();
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A listing of a tree with contents and modes: what "the layer" holds, for hashing/diffing.
pub fn tree(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((d, p)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let rel = format!("{p}/{}", e.file_name().to_string_lossy());
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            if md.is_dir() {
                stack.push((e.path(), rel.clone()));
                out.insert(format!("{rel}/"), (md.mode(), Vec::new()));
            } else if md.file_type().is_symlink() {
                out.insert(rel, (md.mode(), std::fs::read_link(e.path()).unwrap().to_string_lossy().as_bytes().to_vec()));
            } else {
                out.insert(rel, (md.mode(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

impl Fake {
    /// An engine with one base image `base` (`busybox:latest`), whose root holds `/etc/passwd`
    /// with root and `app` (uid 1000), and the given config.
    pub fn new(base_config: ContainerConfig, run: Box<RunFn>) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let f = Fake { dir, state: Mutex::new(State::default()), run, downloads: BTreeMap::new() };
        let root = f.image_dir("sha256:base");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
        let mut st = f.state.lock().unwrap();
        st.images.insert(
            "sha256:base".into(),
            FakeImage { config: base_config.clone(), container_config: base_config, parent: None, author: String::new(), layer: true, created: 0, container: None },
        );
        st.tags.insert("busybox:latest".into(), "sha256:base".into());
        drop(st);
        f
    }

    fn image_dir(&self, id: &str) -> PathBuf {
        self.dir.path().join("images").join(id.trim_start_matches("sha256:"))
    }

    fn rw_dir(&self, id: &str) -> PathBuf {
        self.dir.path().join("rw").join(id)
    }

    pub fn image_root(&self, id: &str) -> PathBuf {
        self.image_dir(id)
    }

    pub fn get(&self, id: &str) -> FakeImage {
        self.state.lock().unwrap().images[id].clone()
    }

    pub fn tagged(&self, t: &str) -> Option<String> {
        self.state.lock().unwrap().tags.get(t).cloned()
    }

    pub fn runs(&self) -> Vec<Vec<String>> {
        self.state.lock().unwrap().runs.clone()
    }

    /// Containers or layers still present (not removed).
    pub fn live(&self) -> Vec<String> {
        self.state.lock().unwrap().rw.keys().cloned().collect()
    }

    /// The chain of images from `id` to the base: (created_by of each step, had a layer).
    pub fn history(&self, id: &str) -> Vec<(String, bool)> {
        let st = self.state.lock().unwrap();
        let mut out = Vec::new();
        let mut cur = Some(id.to_string());
        while let Some(c) = cur {
            let img = &st.images[&c];
            if img.parent.is_none() {
                break;
            }
            out.push((img.container_config.cmd.clone().unwrap_or_default().join(" "), img.layer));
            cur = img.parent.clone();
        }
        out.reverse();
        out
    }

    fn new_rw(&self, id: &str, image: &str, container: bool) -> Result<(), BackendError> {
        let src = self.image_dir(image);
        if !src.exists() {
            return Err(BackendError::NotFound(format!("No such image: {image}")));
        }
        copy_tree(&src, &self.rw_dir(id));
        self.state.lock().unwrap().rw.insert(id.to_string(), (image.to_string(), container));
        Ok(())
    }
}

fn lookup(name: &str) -> String {
    if name.contains(':') || name.starts_with("sha256:") { name.to_string() } else { format!("{name}:latest") }
}

impl Backend for Fake {
    fn image(&self, name: &str, _pull: bool, _out: &mut dyn Output) -> Result<Image, BackendError> {
        let st = self.state.lock().unwrap();
        let id = if st.images.contains_key(name) { name.to_string() } else {
            st.tags.get(&lookup(name)).cloned().ok_or_else(|| BackendError::NotFound(format!("No such image: {}", lookup(name))))?
        };
        Ok(Image { id: id.clone(), config: st.images[&id].config.clone(), os: "linux".into() })
    }

    fn cached_child(&self, parent: &str, config: &ContainerConfig) -> Result<Option<Image>, BackendError> {
        let st = self.state.lock().unwrap();
        let best = st
            .images
            .iter()
            .filter(|(_, i)| i.parent.as_deref() == Some(parent) && berth_storage::image::cache::same_step(&i.container_config, config))
            .max_by_key(|(_, i)| i.created)
            .map(|(id, i)| Image { id: id.clone(), config: i.config.clone(), os: "linux".into() });
        Ok(best)
    }

    fn create_container(&self, image: &str, config: &ContainerConfig) -> Result<String, BackendError> {
        let n = {
            let mut st = self.state.lock().unwrap();
            st.counter += 1;
            st.counter
        };
        let id = format!("{n:064x}");
        self.state.lock().unwrap().cmds.insert(id.clone(), config.cmd.clone().unwrap_or_default());
        self.new_rw(&id, image, true)?;
        Ok(id)
    }

    fn run_container(&self, id: &str, out: &mut dyn Output) -> Result<i64, BackendError> {
        let root = self.rw_dir(id);
        let argv = self.state.lock().unwrap().cmds.get(id).cloned().unwrap_or_default();
        self.state.lock().unwrap().runs.push(argv.clone());
        Ok((self.run)(&root, &argv, out))
    }

    fn create_layer(&self, id: &str, image: &str) -> Result<(), BackendError> {
        self.new_rw(id, image, false)
    }

    fn mount(&self, id: &str) -> Result<PathBuf, BackendError> {
        Ok(self.rw_dir(id))
    }

    fn unmount(&self, _id: &str) -> Result<(), BackendError> {
        Ok(())
    }

    fn commit(&self, c: &Commit) -> Result<String, BackendError> {
        let root = self.rw_dir(c.id);
        let before = tree(&self.image_dir(c.parent));
        let after = tree(&root);
        let mut h = Sha256::new();
        h.update(c.parent.as_bytes());
        h.update(serde_json::to_vec(c.config).unwrap());
        h.update(serde_json::to_vec(c.container_config).unwrap());
        h.update(format!("{after:?}").as_bytes());
        let mut st = self.state.lock().unwrap();
        st.counter += 1;
        h.update(st.counter.to_le_bytes());
        let id = format!("sha256:{}", hex::encode(h.finalize()));
        let created = st.counter;
        st.images.insert(
            id.clone(),
            FakeImage {
                config: c.config.clone(),
                container_config: c.container_config.clone(),
                parent: Some(c.parent.to_string()),
                author: c.author.to_string(),
                layer: before != after,
                created,
                container: c.record_container.then(|| c.id.to_string()),
            },
        );
        drop(st);
        copy_tree(&root, &self.image_dir(&id));
        Ok(id)
    }

    fn remove(&self, id: &str, _is_container: bool) -> Result<(), BackendError> {
        let mut st = self.state.lock().unwrap();
        st.rw.remove(id);
        st.removed.push(id.to_string());
        let _ = std::fs::remove_dir_all(self.rw_dir(id));
        Ok(())
    }

    fn tag(&self, image: &str, reference: &str) -> Result<(), BackendError> {
        self.state.lock().unwrap().tags.insert(lookup(reference), image.to_string());
        Ok(())
    }

    fn download(&self, url: &str, out: &mut dyn Write) -> Result<Option<i64>, BackendError> {
        let b = self.downloads.get(url).ok_or_else(|| BackendError::Failed(format!("failed to GET {url} with status 404 Not Found")))?;
        out.write_all(b).map_err(|e| BackendError::Failed(e.to_string()))?;
        Ok(Some(1_700_000_000))
    }
}

/// Output collected as text (stream lines) for assertions.
#[derive(Default)]
pub struct Collect {
    pub text: String,
    pub aux: Vec<String>,
}

impl Output for Collect {
    fn stream(&mut self, text: &str) -> Result<(), BackendError> {
        self.text.push_str(text);
        Ok(())
    }
    fn progress(&mut self, m: &serde_json::Value) -> Result<(), BackendError> {
        self.text.push_str(&format!("{}\n", m["status"].as_str().unwrap_or("")));
        Ok(())
    }
    fn aux(&mut self, id: &str) -> Result<(), BackendError> {
        self.aux.push(id.to_string());
        Ok(())
    }
}
