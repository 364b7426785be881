//! Capabilities: names → numbers, and applying `process.capabilities` in runc's order
//! (bounding set first while still privileged; effective/permitted/inheritable after the uid
//! switch; ambient last, since raising needs the cap in permitted and inheritable).

use crate::spec::Capabilities;
use crate::syscall::{CapSets, Syscall, SyscallError};

const NAMES: [&str; 41] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/// `CAP_NET_ADMIN` (or `NET_ADMIN`) → 12.
pub fn cap_number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// The highest capability the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

/// Bit mask of the named capabilities, ignoring those newer than the kernel (runc does the same).
pub fn mask(names: &[String], last_cap: u32) -> u64 {
    names.iter().filter_map(|n| cap_number(n)).filter(|c| *c <= last_cap).fold(0, |m, c| m | 1 << c)
}

#[derive(Debug, thiserror::Error)]
#[error("capabilities: {0}")]
pub struct CapabilityError(#[from] SyscallError);

pub fn apply_bounding(sys: &dyn Syscall, caps: &Capabilities, last_cap: u32) -> Result<(), CapabilityError> {
    sys.set_bounding(mask(&caps.bounding, last_cap), last_cap)?;
    Ok(())
}

/// The kernel only lets a capability into the ambient set when it is both permitted and
/// inheritable; runc (through gocapability) silently skips the others, and so does berth, so a
/// `runc spec` config (ambient listed, no inheritable) runs unchanged.
pub fn apply_sets(sys: &dyn Syscall, caps: &Capabilities, last_cap: u32) -> Result<(), CapabilityError> {
    let sets = CapSets {
        effective: mask(&caps.effective, last_cap),
        permitted: mask(&caps.permitted, last_cap),
        inheritable: mask(&caps.inheritable, last_cap),
    };
    sys.set_capabilities(sets)?;
    let allowed = sets.permitted & sets.inheritable;
    for name in &caps.ambient {
        if let Some(c) = cap_number(name).filter(|c| *c <= last_cap && allowed & (1 << c) != 0) {
            sys.raise_ambient(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::{Call, RecordingSyscall};

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("CAP_NET_ADMIN"), Some(12));
        assert_eq!(cap_number("sys_admin"), Some(21));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_number("CAP_NOPE"), None);
    }

    #[test]
    fn applies_sets_and_ambient_in_order() {
        let caps = Capabilities {
            bounding: vec!["CAP_KILL".into(), "CAP_NET_BIND_SERVICE".into()],
            effective: vec!["CAP_KILL".into()],
            permitted: vec!["CAP_KILL".into(), "CAP_BPF".into()],
            inheritable: vec!["CAP_KILL".into()],
            ambient: vec!["CAP_KILL".into(), "CAP_BPF".into(), "CAP_NET_BIND_SERVICE".into()],
        };
        let sys = RecordingSyscall::default();
        apply_bounding(&sys, &caps, 38).unwrap();
        apply_sets(&sys, &caps, 38).unwrap();
        // CAP_BPF (39) is beyond last_cap 38 and NET_BIND_SERVICE is not inheritable: both are
        // skipped, as runc does.
        assert_eq!(
            sys.calls(),
            vec![
                Call::Bounding { keep: 1 << 5 | 1 << 10 },
                Call::Capabilities(CapSets { effective: 1 << 5, permitted: 1 << 5, inheritable: 1 << 5 }),
                Call::Ambient(5),
            ]
        );
    }
}
