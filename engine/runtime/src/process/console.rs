//! Terminals: the container allocates a pty from its own devpts and hands the master to the
//! caller over the `--console-socket` unix socket with SCM_RIGHTS (runc's protocol).

use std::os::fd::RawFd;
use std::path::Path;

fn last(op: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{op}: {e}"))
}

/// Opens a new pty pair via /dev/ptmx; returns (master, slave, slave path).
pub fn open_pty() -> std::io::Result<(RawFd, RawFd, String)> {
    unsafe {
        let master = libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if master < 0 {
            return Err(last("open /dev/ptmx"));
        }
        if libc::grantpt(master) != 0 || libc::unlockpt(master) != 0 {
            return Err(last("unlockpt"));
        }
        let mut buf = [0 as libc::c_char; 128];
        if libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()) != 0 {
            return Err(last("ptsname"));
        }
        let name = std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        let cname = std::ffi::CString::new(name.clone()).unwrap();
        let slave = libc::open(cname.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if slave < 0 {
            return Err(last(&format!("open {name}")));
        }
        Ok((master, slave, name))
    }
}

/// Sends `fd` over the connected unix socket `sock` with SCM_RIGHTS; the payload is the pty
/// name, as runc sends it.
pub fn send_fd(sock: RawFd, fd: RawFd, name: &str) -> std::io::Result<()> {
    unsafe {
        let mut iov = libc::iovec { iov_base: name.as_ptr() as *mut _, iov_len: name.len() };
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let mut cbuf = vec![0u8; space];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
        if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(last("send console fd"));
        }
    }
    Ok(())
}

/// Receives one fd sent with [`send_fd`].
pub fn recv_fd(sock: RawFd) -> std::io::Result<RawFd> {
    unsafe {
        let mut buf = [0u8; 256];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let mut cbuf = vec![0u8; space];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(last("receive console fd"));
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "no fd in console message"));
        }
        Ok(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd))
    }
}

/// In the container: make the pty slave our controlling terminal and stdio; for the init also
/// bind it over /dev/console (as runc does; an exec must not touch the container's mounts).
pub fn attach_slave(slave: RawFd, slave_path: &str, bind_console: bool) -> std::io::Result<()> {
    if bind_console {
        let console = Path::new("/dev/console");
        if !console.exists() {
            let _ = std::fs::File::create(console);
        }
        let _ = nix::mount::mount(Some(slave_path), console, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>);
    }
    unsafe {
        for fd in 0..3 {
            if libc::dup2(slave, fd) < 0 {
                return Err(last("dup2 pty"));
            }
        }
        if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
            return Err(last("TIOCSCTTY"));
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_passing_over_socketpair() {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) }, 0);
        let file = tempfile::tempfile().unwrap();
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd};
        (&file).write_all(b"hello").unwrap();
        send_fd(fds[0], file.as_raw_fd(), "/dev/pts/0").unwrap();
        let got = recv_fd(fds[1]).unwrap();
        let got = unsafe { std::fs::File::from_raw_fd(got) };
        assert_eq!(got.metadata().unwrap().len(), 5);
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
