//! The parent ⇄ child sync channel: a SOCK_SEQPACKET socketpair, one JSON message per packet
//! (packets keep message boundaries, so no length prefix is needed).
//!
//! Sequence (parent = `create`, stage1 = the forked helper, init = the container process):
//! 1. parent forks stage1, puts it into the cgroups, sends `Go`;
//! 2. stage1 joins namespaces by path; if it creates a user namespace it sends `MapIds` and
//!    waits for `IdsMapped` (the parent writes uid_map/gid_map);
//! 3. stage1 unshares the other namespaces, forks init, sends `InitPid(pid)` and exits;
//! 4. init sets up rootfs, pivot_root, user, capabilities, sends `Ready` and blocks on the exec
//!    fifo until `start`; any failure before that is sent as `Error(text)`.

use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Go,
    MapIds,
    IdsMapped,
    InitPid(i32),
    Ready,
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("sync channel: {0}")]
    Io(#[from] std::io::Error),
    #[error("sync channel: peer closed while waiting for {0}")]
    Closed(&'static str),
    #[error("sync channel: expected {expected}, got {got:?}")]
    Unexpected { expected: &'static str, got: Message },
}

#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

pub fn pair() -> Result<(Channel, Channel), ChannelError> {
    let mut fds = [0; 2];
    let r = unsafe {
        libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    unsafe { Ok((Channel { fd: OwnedFd::from_raw_fd(fds[0]) }, Channel { fd: OwnedFd::from_raw_fd(fds[1]) })) }
}

impl Channel {
    pub fn send(&self, m: &Message) -> Result<(), ChannelError> {
        let buf = serde_json::to_vec(m).expect("message serializes");
        let n = unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// The next message, or None when every peer has closed its end.
    pub fn recv(&self) -> Result<Option<Message>, ChannelError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            if n == 0 {
                return Ok(None);
            }
            let m = serde_json::from_slice(&buf[..n as usize])
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            return Ok(Some(m));
        }
    }

    pub fn expect(&self, want: Message, name: &'static str) -> Result<(), ChannelError> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(got) => Err(ChannelError::Unexpected { expected: name, got }),
            None => Err(ChannelError::Closed(name)),
        }
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_close() {
        let (a, b) = pair().unwrap();
        a.send(&Message::InitPid(42)).unwrap();
        a.send(&Message::Error("mount /proc: EPERM".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Message::InitPid(42)));
        assert!(matches!(b.expect(Message::Ready, "Ready"), Err(ChannelError::Unexpected { .. })));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
        assert!(matches!(b.expect(Message::Go, "Go"), Err(ChannelError::Closed("Go"))));
    }
}
