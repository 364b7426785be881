//! `process.rlimits`: RLIMIT_* names → resources, applied through the syscall seam.

use crate::spec::Rlimit;
use crate::syscall::{Syscall, SyscallError};

const TABLE: [(&str, libc::__rlimit_resource_t); 16] = [
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

pub fn resource_of(name: &str) -> Option<libc::c_int> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, r)| *r as libc::c_int)
}

#[derive(Debug, thiserror::Error)]
#[error("rlimits: {0}")]
pub struct RlimitError(#[from] SyscallError);

pub fn apply(sys: &dyn Syscall, rlimits: &[Rlimit]) -> Result<(), RlimitError> {
    for r in rlimits {
        // Unknown names were rejected when the spec was loaded.
        if let Some(res) = resource_of(&r.typ) {
            sys.set_rlimit(res, r.soft, r.hard)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::fake::{Call, RecordingSyscall};

    #[test]
    fn applies_each_limit() {
        let sys = RecordingSyscall::default();
        let limits = vec![Rlimit { typ: "RLIMIT_NOFILE".into(), hard: 1024, soft: 512 }];
        apply(&sys, &limits).unwrap();
        assert_eq!(sys.calls(), vec![Call::Rlimit { resource: libc::RLIMIT_NOFILE as i32, soft: 512, hard: 1024 }]);
        assert_eq!(resource_of("RLIMIT_BOGUS"), None);
    }
}
