//! Pseudo-terminals for tests that run the docker CLI or berth as a person at a terminal would.

use std::os::fd::{FromRawFd, OwnedFd};

/// A pty pair (master, slave) whose window is `rows` × `cols` (jsonmessage draws its progress
/// bars only when the width leaves room for them).
pub fn openpty(rows: u16, cols: u16) -> (std::fs::File, OwnedFd) {
    // SAFETY: plain libc pty calls on fds we own; each result is checked before use.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
        let s = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(s >= 0, "open pty slave: {}", std::io::Error::last_os_error());
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        libc::ioctl(s, libc::TIOCSWINSZ, &ws);
        (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s))
    }
}
