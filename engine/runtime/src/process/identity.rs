//! Taking on the spec's identity in runc's order: rlimits; bounding set while still fully
//! privileged; keep-caps across the uid switch; groups, gid, uid; cwd; then the effective,
//! permitted, inheritable and ambient sets; no_new_privs last.

use crate::spec::Process;
use crate::syscall::Syscall;
use crate::{capabilities, rlimits};

/// False in a user namespace whose /proc/self/setgroups says "deny".
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

pub fn apply(sys: &dyn Syscall, process: &Process, last_cap: u32, setgroups_allowed: bool) -> Result<(), String> {
    rlimits::apply(sys, &process.rlimits).map_err(|e| e.to_string())?;
    if let Some(caps) = &process.capabilities {
        capabilities::apply_bounding(sys, caps, last_cap).map_err(|e| e.to_string())?;
    }
    let u = &process.user;
    sys.set_keep_caps(true).map_err(|e| e.to_string())?;
    // In a user namespace whose setgroups is "deny", setgroups(2) always fails.
    if setgroups_allowed {
        sys.set_groups(&u.additional_gids).map_err(|e| format!("process.user.additionalGids: {e}"))?;
    }
    sys.set_resgid(u.gid).map_err(|e| format!("process.user.gid: {e}"))?;
    sys.set_resuid(u.uid).map_err(|e| format!("process.user.uid: {e}"))?;
    sys.set_keep_caps(false).map_err(|e| e.to_string())?;
    sys.chdir(&process.cwd).map_err(|e| format!("process.cwd: {e}"))?;
    if let Some(caps) = &process.capabilities {
        capabilities::apply_sets(sys, caps, last_cap).map_err(|e| e.to_string())?;
    }
    if process.no_new_privileges {
        sys.set_no_new_privs().map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Capabilities, Rlimit, User};
    use crate::syscall::fake::{Call, RecordingSyscall};
    use crate::syscall::CapSets;

    fn process() -> Process {
        Process {
            user: User { uid: 1000, gid: 100, umask: None, additional_gids: vec![10, 20] },
            args: vec!["sh".into()],
            cwd: "/work".into(),
            capabilities: Some(Capabilities {
                bounding: vec!["CAP_KILL".into()],
                effective: vec!["CAP_KILL".into()],
                permitted: vec!["CAP_KILL".into()],
                ..Default::default()
            }),
            rlimits: vec![Rlimit { typ: "RLIMIT_NOFILE".into(), hard: 10, soft: 5 }],
            no_new_privileges: true,
            ..Default::default()
        }
    }

    #[test]
    fn order_matches_runc() {
        let sys = RecordingSyscall::default();
        apply(&sys, &process(), 40, true).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::Rlimit { resource: libc::RLIMIT_NOFILE as i32, soft: 5, hard: 10 },
                Call::Bounding { keep: 1 << 5 },
                Call::KeepCaps(true),
                Call::Groups(vec![10, 20]),
                Call::Gid(100),
                Call::Uid(1000),
                Call::KeepCaps(false),
                Call::Chdir("/work".into()),
                Call::Capabilities(CapSets { effective: 1 << 5, permitted: 1 << 5, inheritable: 0 }),
                Call::NoNewPrivs,
            ]
        );
    }

    #[test]
    fn setgroups_skipped_when_denied_and_errors_name_the_field() {
        let sys = RecordingSyscall::default();
        let mut p = process();
        p.capabilities = None;
        p.no_new_privileges = false;
        apply(&sys, &p, 40, false).unwrap();
        assert!(!sys.calls().iter().any(|c| matches!(c, Call::Groups(_))));
        let sys = RecordingSyscall::failing_on("/work");
        let err = apply(&sys, &p, 40, true).unwrap_err();
        assert!(err.starts_with("process.cwd: "), "{err}");
    }
}
