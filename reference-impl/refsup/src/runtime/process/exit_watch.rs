//! Waiting for a service's main process to end, without polling: a pidfd
//! (readable once the process has exited) for every process, plus
//! `Child::wait` to reap our own children.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::process::Child;

use super::procfs;

/// The process to watch.
pub(super) enum Target {
    /// A child this runtime spawned (reaped here).
    Child(Child),
    /// A process started by an earlier refsup (reaped by whoever is its
    /// parent now).
    Adopted {
        /// Its pid.
        pid: u32,
        /// Its recorded start time.
        start_time: u64,
    },
}

/// Return once the main process `pid` of `target` has ended. When it has,
/// whatever is left of its process group is SIGKILLed (like a container
/// whose main process ended) before the leader is reaped, so the group id
/// cannot have been reused.
pub(super) async fn wait_exit(pid: u32, target: Target) {
    match target {
        Target::Child(mut child) => {
            let waited = match pidfd_open(pid) {
                Ok(fd) => wait_readable(fd).await,
                Err(e) => Err(e),
            };
            match waited {
                Ok(()) => {
                    // Exited but not reaped: the group id is still ours.
                    signal_group(pid, Signal::SIGKILL);
                    reap(pid, &mut child).await;
                }
                Err(e) => {
                    tracing::debug!(pid, error = %e, "no pidfd; waiting on the child");
                    reap(pid, &mut child).await;
                    signal_group(pid, Signal::SIGKILL);
                }
            }
        }
        Target::Adopted { pid, start_time } => {
            // Opened first, checked second: if the check passes, the fd
            // refers to the recorded process.
            let waited = match pidfd_open(pid) {
                Ok(fd) if procfs::is_same_alive(pid, start_time, None, None) => {
                    wait_readable(fd).await
                }
                Ok(_) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = waited {
                tracing::warn!(pid, error = %e, "no pidfd; polling /proc instead");
                while procfs::is_same_alive(pid, start_time, None, None) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            signal_group(pid, Signal::SIGKILL);
        }
    }
}

async fn reap(pid: u32, child: &mut Child) {
    if let Err(e) = child.wait().await {
        tracing::warn!(pid, error = %e, "cannot reap service process");
    }
}

/// Send `signal` to the process group `pgid`; a group that is gone is fine.
pub(super) fn signal_group(pgid: u32, signal: Signal) {
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    if raw <= 1 {
        return;
    }
    match kill(Pid::from_raw(-raw), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid, ?signal, error = %e, "cannot signal process group"),
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(io::Error::other)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Wait until the pidfd is readable (its process has exited).
async fn wait_readable(fd: OwnedFd) -> io::Result<()> {
    // SAFETY: the AsyncFd owns `fd`, an open pidfd, and nothing else closes
    // or replaces it while registered.
    let async_fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
    let _ready = async_fd.readable().await?;
    Ok(())
}
