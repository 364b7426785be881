//! Namespaces from `linux.namespaces`: which to join by path (setns) and which to create
//! (unshare), in a safe order: joins first with user first and mount last (youki's
//! ORDERED_NAMESPACES), then a new user namespace, then the other new namespaces.

use crate::spec::{Namespace, NamespaceType};
use crate::syscall::{Syscall, SyscallError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("config.json: linux.namespaces[{index}].path: {path}: {source}")]
    BadPath { index: usize, path: PathBuf, source: std::io::Error },
    #[error("config.json: linux.namespaces: a mount namespace is required")]
    NoMountNamespace,
    #[error("namespaces: {0}")]
    Syscall(#[from] SyscallError),
}

const JOIN_ORDER: [NamespaceType; 7] = [
    NamespaceType::User,
    NamespaceType::Pid,
    NamespaceType::Network,
    NamespaceType::Ipc,
    NamespaceType::Uts,
    NamespaceType::Cgroup,
    NamespaceType::Mount,
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Namespaces to join, in JOIN_ORDER.
    pub join: Vec<(NamespaceType, PathBuf)>,
    /// Create a new user namespace (needs the parent to write id maps).
    pub new_user: bool,
    /// unshare(2) flags for the other new namespaces.
    pub unshare_flags: libc::c_int,
}

impl Plan {
    pub fn new(namespaces: &[Namespace]) -> Result<Plan, NamespaceError> {
        let mut plan = Plan::default();
        if !namespaces.iter().any(|n| n.typ == NamespaceType::Mount) {
            return Err(NamespaceError::NoMountNamespace);
        }
        for (index, ns) in namespaces.iter().enumerate() {
            if let Some(path) = &ns.path {
                std::fs::metadata(path)
                    .map_err(|source| NamespaceError::BadPath { index, path: path.clone(), source })?;
            }
        }
        for typ in JOIN_ORDER {
            match namespaces.iter().find(|n| n.typ == typ) {
                Some(Namespace { path: Some(p), .. }) => plan.join.push((typ, p.clone())),
                Some(_) if typ == NamespaceType::User => plan.new_user = true,
                Some(_) => plan.unshare_flags |= typ.clone_flag(),
                None => {}
            }
        }
        Ok(plan)
    }

    pub fn join_all(&self, sys: &dyn Syscall) -> Result<(), NamespaceError> {
        for (typ, path) in &self.join {
            sys.setns(path, typ.clone_flag())?;
        }
        Ok(())
    }

    pub fn unshare_user(&self, sys: &dyn Syscall) -> Result<(), NamespaceError> {
        if self.new_user {
            sys.unshare(libc::CLONE_NEWUSER)?;
        }
        Ok(())
    }

    pub fn unshare_rest(&self, sys: &dyn Syscall) -> Result<(), NamespaceError> {
        if self.unshare_flags != 0 {
            sys.unshare(self.unshare_flags)?;
        }
        Ok(())
    }

    pub fn in_user_namespace(&self) -> bool {
        self.new_user || self.join.iter().any(|(t, _)| *t == NamespaceType::User)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::{Call, RecordingSyscall};

    fn ns(t: NamespaceType, p: Option<&str>) -> Namespace {
        Namespace { typ: t, path: p.map(PathBuf::from) }
    }

    #[test]
    fn joins_in_order_then_unshares() {
        let spec = vec![
            ns(NamespaceType::Mount, None),
            ns(NamespaceType::Network, Some("/proc/self/ns/net")),
            ns(NamespaceType::Pid, None),
            ns(NamespaceType::User, Some("/proc/self/ns/user")),
            ns(NamespaceType::Uts, None),
        ];
        let plan = Plan::new(&spec).unwrap();
        let sys = RecordingSyscall::default();
        plan.join_all(&sys).unwrap();
        plan.unshare_user(&sys).unwrap();
        plan.unshare_rest(&sys).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::Setns { path: "/proc/self/ns/user".into(), nstype: libc::CLONE_NEWUSER },
                Call::Setns { path: "/proc/self/ns/net".into(), nstype: libc::CLONE_NEWNET },
                Call::Unshare(libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWNS),
            ]
        );
        assert!(plan.in_user_namespace());
    }

    #[test]
    fn new_user_namespace_is_separate() {
        let plan = Plan::new(&[ns(NamespaceType::User, None), ns(NamespaceType::Mount, None)]).unwrap();
        let sys = RecordingSyscall::default();
        plan.unshare_user(&sys).unwrap();
        plan.unshare_rest(&sys).unwrap();
        assert_eq!(sys.calls(), vec![Call::Unshare(libc::CLONE_NEWUSER), Call::Unshare(libc::CLONE_NEWNS)]);
    }

    #[test]
    fn bad_path_and_missing_mount_namespace() {
        let err = Plan::new(&[ns(NamespaceType::Mount, None), ns(NamespaceType::Network, Some("/nonexistent/ns"))])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config.json: linux.namespaces[1].path: /nonexistent/ns: "), "{err}");
        assert!(matches!(Plan::new(&[]), Err(NamespaceError::NoMountNamespace)));
    }
}
