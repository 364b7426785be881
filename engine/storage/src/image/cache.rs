//! The classic builder's local cache (moby `image/cache`): a step is cached when an image built
//! locally on the same parent has the same `container_config` as Docker 20.10 compares them —
//! the step's instruction is in its `Cmd` (`#(nop) ENV A=1`, `|1 X=y /bin/sh -c make`), so
//! equal configs mean the same instruction on the same accumulated state.

use crate::digest::ImageId;
use crate::image::config::ContainerConfig;
use crate::store::Store;
use serde_json::Value;

/// Docker 20.10's `compare` (moby `image/cache/compare.go`), field for field: OpenStdin never
/// matches; AttachStdout, AttachStderr, User and Tty equal; Cmd, Env and Entrypoint equal as
/// lists; Labels equal as maps; ExposedPorts and Volumes equal as key sets. Nothing else counts
/// — not WorkingDir, Shell, OnBuild, StopSignal or Healthcheck (later moby compares them): a
/// rebuild keeps the cache where Docker 20.10 keeps it, e.g. after `HEALTHCHECK NONE`, whose
/// committed config got the parent's interval merged in while the rebuild's probe has none.
pub fn same_step(a: &ContainerConfig, b: &ContainerConfig) -> bool {
    if a.open_stdin || b.open_stdin {
        return false;
    }
    fn list(v: &Option<Vec<String>>) -> &[String] {
        v.as_deref().unwrap_or(&[])
    }
    fn keys(v: &Option<std::collections::BTreeMap<String, Value>>) -> Vec<&String> {
        v.as_ref().map(|m| m.keys().collect()).unwrap_or_default()
    }
    a.attach_stdout == b.attach_stdout
        && a.attach_stderr == b.attach_stderr
        && a.user == b.user
        && a.tty == b.tty
        && list(&a.cmd) == list(&b.cmd)
        && list(&a.env) == list(&b.env)
        && list(&a.entrypoint) == list(&b.entrypoint)
        && a.labels.clone().unwrap_or_default() == b.labels.clone().unwrap_or_default()
        && keys(&a.exposed_ports) == keys(&b.exposed_ports)
        && keys(&a.volumes) == keys(&b.volumes)
}

impl Store {
    /// The newest local child of `parent` whose `container_config` is the same step as `config`.
    pub fn cached_child(&self, parent: &ImageId, config: &ContainerConfig) -> Option<ImageId> {
        let g = self.lock();
        let mut best: Option<(String, ImageId)> = None;
        for id in g.images.children(parent) {
            let Some(rec) = g.images.get(&id) else { continue };
            let Some(cc) = rec.config.raw.get("container_config") else { continue };
            let Ok(cc) = serde_json::from_value::<ContainerConfig>(cc.clone()) else { continue };
            if !same_step(&cc, config) {
                continue;
            }
            let created = rec.config.created();
            if best.as_ref().map(|(c, _)| created > *c).unwrap_or(true) {
                best = Some((created, id));
            }
        }
        best.map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cmd: &[&str]) -> ContainerConfig {
        ContainerConfig { cmd: Some(cmd.iter().map(|s| s.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn same_instruction_same_state_matches() {
        let a = cfg(&["/bin/sh", "-c", "#(nop) ", "ENV A=1"]);
        assert!(same_step(&a, &a.clone()));
        // `Image` and `Hostname` are not part of the key.
        let mut b = a.clone();
        b.image = "sha256:x".into();
        b.hostname = "abc".into();
        assert!(same_step(&a, &b));
        // Nor, in Docker 20.10, WorkingDir, Shell, OnBuild, StopSignal or Healthcheck.
        b.working_dir = "/app".into();
        b.shell = Some(vec!["/bin/bash".into(), "-c".into()]);
        b.on_build = Some(vec!["RUN x".into()]);
        b.stop_signal = Some("SIGKILL".into());
        b.healthcheck = Some(serde_json::json!({"Test": ["NONE"], "Interval": 30_000_000_000u64}));
        assert!(same_step(&a, &b));
    }

    #[test]
    fn any_difference_in_the_key_misses() {
        let a = cfg(&["/bin/sh", "-c", "#(nop) ", "ENV A=1"]);
        assert!(!same_step(&a, &cfg(&["/bin/sh", "-c", "#(nop) ", "ENV A=2"])));
        let mut b = a.clone();
        b.env = Some(vec!["X=1".into()]);
        assert!(!same_step(&a, &b));
        let mut b = a.clone();
        b.user = "nobody".into();
        assert!(!same_step(&a, &b));
        let mut b = a.clone();
        b.open_stdin = true;
        assert!(!same_step(&b, &b.clone()));
    }
}
