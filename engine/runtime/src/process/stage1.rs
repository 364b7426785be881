//! The first child: joins/creates namespaces, then forks the container init (which lands as
//! PID 1 of a new pid namespace) and exits.

use super::channel::{Channel, Message};
use super::{fail, init, InitArgs};
use crate::syscall::{linux::LinuxSyscall, Syscall};

pub(crate) fn run(args: &InitArgs, ch: &Channel) -> ! {
    let sys = LinuxSyscall;
    if let Err(e) = ch.expect(Message::Go, "Go") {
        fail(ch, e.to_string());
    }
    let r = (|| -> Result<(), String> {
        args.plan.join_all(&sys).map_err(|e| e.to_string())?;
        if args.plan.new_user {
            args.plan.unshare_user(&sys).map_err(|e| e.to_string())?;
            ch.send(&Message::MapIds).map_err(|e| e.to_string())?;
            ch.expect(Message::IdsMapped, "IdsMapped").map_err(|e| e.to_string())?;
            // Become root of the new user namespace so what follows is owned by it.
            sys.set_resgid(0).map_err(|e| format!("user namespace: {e}"))?;
            sys.set_resuid(0).map_err(|e| format!("user namespace: {e}"))?;
        }
        args.plan.unshare_rest(&sys).map_err(|e| e.to_string())?;
        Ok(())
    })();
    if let Err(e) = r {
        fail(ch, e);
    }
    // SAFETY: single-threaded child.
    match unsafe { nix::unistd::fork() } {
        Err(e) => fail(ch, format!("fork container init: {e}")),
        Ok(nix::unistd::ForkResult::Child) => init::run(args, ch),
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            let _ = ch.send(&Message::InitPid(child.as_raw()));
            unsafe { libc::_exit(0) }
        }
    }
}
