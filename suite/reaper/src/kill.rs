//! Killing what carries a mark, reaping the orphans that re-parented to
//! this process, and keeping a child from outliving its parent.
//!
//! Processes are signalled through a pidfd opened while their start time
//! still matches what the scan saw, so a pid reused in between is never hit.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{getpgrp, Pid};

use crate::procfs;
use crate::{Mark, Owner, ENV_RUN, ENV_SCOPE};

/// How long a killed process may take to go before the reaper moves on.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Scans per call: a process forked while the previous scan ran is marked
/// too and caught by the next one.
const ROUNDS: usize = 10;

/// Which marked processes to kill.
#[derive(Debug, Clone)]
pub enum Filter {
    /// This scope of its owner.
    Scope(Mark),
    /// Every scope of this owner.
    Owner(Owner),
    /// Every owner that no longer runs (what killed runs left).
    DeadOwners,
}

impl Filter {
    fn matches(&self, pid: i32, alive: &mut HashMap<Owner, bool>) -> bool {
        let Some(run) = procfs::environ_var(pid, ENV_RUN) else {
            return false;
        };
        let Some(owner) = Owner::parse(&run) else {
            return false;
        };
        match self {
            Filter::Scope(mark) => {
                owner == mark.owner
                    && procfs::environ_var(pid, ENV_SCOPE).as_deref() == Some(&mark.scope)
            }
            Filter::Owner(want) => owner == *want,
            Filter::DeadOwners => !*alive.entry(owner).or_insert_with(|| owner.is_alive()),
        }
    }
}

/// SIGKILL every process `filter` selects (and the process group of each
/// one that leads its own group, which catches descendants that cleared
/// their environment), wait for them to go, and reap those that were orphans
/// re-parented to this process. Never kills this process. Returns how many
/// marked processes were killed.
pub fn kill_marked(filter: &Filter) -> usize {
    let me = std::process::id() as i32;
    let my_group = getpgrp().as_raw();
    let mut alive = HashMap::new();
    let mut killed = 0;
    for _ in 0..ROUNDS {
        let mut dying = Vec::new();
        for pid in procfs::pids() {
            if pid <= 1 || pid == me || !filter.matches(pid, &mut alive) {
                continue;
            }
            if let Some(fd) = kill_one(pid, my_group) {
                killed += 1;
                dying.push((pid, fd));
            }
        }
        if dying.is_empty() {
            break;
        }
        let deadline = Instant::now() + KILL_WAIT;
        for (pid, fd) in dying {
            let _ = wait_readable(&fd, deadline.saturating_duration_since(Instant::now()));
            reap_if_adopted(pid, me, my_group);
        }
    }
    killed
}

/// SIGKILL `pid` (and its group if it leads one other than ours); the pidfd
/// to wait on, `None` if it was gone already.
fn kill_one(pid: i32, my_group: i32) -> Option<OwnedFd> {
    let seen = procfs::stat(pid).filter(|s| !s.is_dead())?;
    let fd = pidfd_open(pid).ok()?;
    // Opened first, checked second: the fd is the process the scan saw.
    let now = procfs::stat(pid)?;
    if now.start_time != seen.start_time || now.is_dead() {
        return None;
    }
    if now.pgrp == pid && now.pgrp != my_group {
        // The leader is alive (checked above), so the group id is its own.
        let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
    }
    pidfd_send_signal(&fd, Signal::SIGKILL).ok()?;
    Some(fd)
}

/// Reap `pid` if it is a dead orphan that re-parented to this process. Our
/// own `std::process` children stay in our process group and are never
/// reaped here (their `Child` does it); services lead their own groups.
fn reap_if_adopted(pid: i32, me: i32, my_group: i32) {
    if let Some(stat) = procfs::stat(pid) {
        if stat.state == 'Z' && stat.ppid == me && stat.pgrp != my_group {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// SIGKILL every live orphan that re-parented to this process (see
/// [`become_subreaper`]), marked or not, wait for it and reap it; returns
/// how many. For the end of a run, when nothing of it should be left.
pub fn kill_adopted() -> usize {
    let me = std::process::id() as i32;
    let my_group = getpgrp().as_raw();
    let mut killed = 0;
    for _ in 0..ROUNDS {
        let mut dying = Vec::new();
        for pid in procfs::pids() {
            let adopted = procfs::stat(pid)
                .is_some_and(|s| s.ppid == me && s.pgrp != my_group && !s.is_dead());
            if adopted {
                if let Some(fd) = kill_one(pid, my_group) {
                    killed += 1;
                    dying.push((pid, fd));
                }
            }
        }
        if dying.is_empty() {
            break;
        }
        let deadline = Instant::now() + KILL_WAIT;
        for (pid, fd) in dying {
            let _ = wait_readable(&fd, deadline.saturating_duration_since(Instant::now()));
            reap_if_adopted(pid, me, my_group);
        }
    }
    killed
}

/// Reap every dead orphan that re-parented to this process (see
/// [`become_subreaper`]). Only for processes whose own children stay in its
/// process group: a zombie child leading a group of its own is taken for an
/// orphan.
pub fn reap_adopted() {
    let me = std::process::id() as i32;
    let my_group = getpgrp().as_raw();
    for pid in procfs::pids() {
        reap_if_adopted(pid, me, my_group);
    }
}

/// Make this process the child subreaper of its descendants: an orphan
/// re-parents to it instead of to init, so it can be found and killed.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Have the kernel send `signal` to what `cmd` starts when the thread that
/// starts it ends (normally with the whole process, killed or not).
pub fn die_with_parent(cmd: &mut Command, signal: Signal) -> &mut Command {
    let parent = std::process::id() as libc::pid_t;
    let sig = signal as libc::c_int;
    // SAFETY: prctl and getppid are async-signal-safe and touch no memory
    // of the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::other("the parent exited"));
            }
            Ok(())
        })
    }
}

/// Wait for `child` to exit for at most `timeout`; `None` if it still runs.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    if let Some(status) = child.try_wait()? {
        return Ok(Some(status));
    }
    // Not reaped yet, so the pid is still the child's.
    let fd = pidfd_open(child.id() as i32)?;
    if wait_readable(&fd, timeout)? {
        child.wait().map(Some)
    } else {
        child.try_wait()
    }
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd from the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_signal(fd: &OwnedFd, signal: Signal) -> io::Result<()> {
    // SAFETY: an open pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the pidfd became readable (its process exited) within `timeout`.
fn wait_readable(fd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            n if n > 0 => return Ok(true),
            0 => return Ok(false),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}
