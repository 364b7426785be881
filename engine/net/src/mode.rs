//! `--network` values and what they mean for the container's namespace.
use crate::error::{NetError, Result};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    /// `default`/`bridge` or a user network name: a new namespace plus an endpoint.
    Network(String),
    /// Share the daemon's (host) namespace: no namespace is created.
    Host,
    /// A new namespace with only `lo`.
    None,
    /// `container:<name|id>`: join that container's namespace.
    Container(String),
}

impl NetworkMode {
    pub fn parse(s: &str) -> NetworkMode {
        match s {
            "" | "default" => NetworkMode::Network("bridge".into()),
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            _ => match s.strip_prefix("container:") {
                Some(c) => NetworkMode::Container(c.to_string()),
                None => NetworkMode::Network(s.to_string()),
            },
        }
    }
    /// Does the runtime need a new network namespace for this container?
    pub fn needs_new_netns(&self) -> bool {
        matches!(self, NetworkMode::Network(_) | NetworkMode::None)
    }
}

/// What the daemon knows about a `container:` target.
pub struct JoinTarget<'a> {
    pub id: &'a str,
    pub running: bool,
    pub pid: Option<u32>,
}

/// The namespace path to join for `container:<x>`, or Docker's error when it is not running.
pub fn container_netns(target: &JoinTarget<'_>) -> Result<PathBuf> {
    match (target.running, target.pid) {
        (true, Some(pid)) if pid > 0 => Ok(PathBuf::from(format!("/proc/{pid}/ns/net"))),
        _ => Err(NetError::ContainerNotRunning(target.id.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn modes() {
        assert_eq!(NetworkMode::parse("default"), NetworkMode::Network("bridge".into()));
        assert_eq!(NetworkMode::parse("container:web"), NetworkMode::Container("web".into()));
        assert_eq!(NetworkMode::parse("resnet"), NetworkMode::Network("resnet".into()));
        assert!(!NetworkMode::parse("host").needs_new_netns());
        assert!(!NetworkMode::parse("container:x").needs_new_netns());
        assert!(NetworkMode::parse("none").needs_new_netns());
        assert_eq!(container_netns(&JoinTarget { id: "abc", running: true, pid: Some(42) }).unwrap().to_str(), Some("/proc/42/ns/net"));
        let e = container_netns(&JoinTarget { id: "abc", running: false, pid: None }).unwrap_err();
        assert_eq!((e.to_string().as_str(), e.status()), ("cannot join network of a non running container: abc", 409));
    }
}
