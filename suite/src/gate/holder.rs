//! One copy of the tool at work: `/bin/sh -c` running the holder script
//! (take the lock, run the critical section, release), in its own session
//! with no terminal and stdin from /dev/null, output to a file. The gate
//! waits on it through a pidfd and the section's FIFO, never by sleeping.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::critical::{Section, Stay};
use super::template::Fill;
use super::tool::Tool;

/// Where and how to start a holder.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    /// The tool.
    pub tool: &'a Tool,
    /// `{path}`.
    pub path: &'a Path,
    /// Dir for the holder's script, FIFOs and output.
    pub files: &'a Path,
    /// Its working dir and TMPDIR.
    pub cwd: &'a Path,
    /// Names its files; unique within `files`.
    pub id: &'a str,
    /// The witness its critical section appends to.
    pub witness: &'a Path,
    /// How long the critical section stays inside.
    pub stay: Stay,
    /// `{lockcheck}`.
    pub lockcheck: &'a Path,
}

/// What a holder did next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// It entered its critical section: it has the lock.
    Entered,
    /// It exited without (or after) entering.
    Exited(ExitStatus),
    /// Neither before the deadline.
    TimedOut,
}

/// A running holder. Dropping it kills its whole process group.
#[derive(Debug)]
pub struct Holder {
    child: Child,
    pidfd: OwnedFd,
    section: Section,
    output: PathBuf,
    path: String,
    status: Option<ExitStatus>,
    entered: bool,
}

impl Holder {
    /// Write the scripts and start the holder.
    pub fn spawn(spec: &Spec<'_>) -> Result<Holder> {
        let section = Section::new(spec.files, spec.id, spec.witness, spec.stay)?;
        let fill = Fill {
            path: spec.path,
            critical: &section.script,
            lockcheck: spec.lockcheck,
        };
        let script = spec.tool.holder_script(&fill);
        let output = spec.files.join(format!("{}.out", spec.id));
        let out =
            File::create(&output).with_context(|| format!("creating {}", output.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&script)
            .current_dir(spec.cwd)
            .env("TMPDIR", spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        // SAFETY: setsid(2) is async-signal-safe and touches no memory of the
        // parent: the child gets its own session (no controlling terminal)
        // and process group, so a tool cannot prompt on the gate's terminal
        // and one kill(-pid) reaches everything it started.
        unsafe {
            cmd.pre_exec(|| {
                if nix::libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = {
            let _forking = super::spawn_guard::forking();
            cmd.spawn().context("cannot run /bin/sh")?
        };
        let pidfd = pidfd_open(child.id()).context("pidfd_open")?;
        Ok(Holder {
            child,
            pidfd,
            section,
            output,
            path: spec.path.to_string_lossy().into_owned(),
            status: None,
            entered: false,
        })
    }

    /// Its pid (also its process group and session id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The pidfd, readable once the holder's shell has exited.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// Whether it has entered its critical section.
    pub fn entered(&self) -> bool {
        self.entered
    }

    /// Its exit status, once it has exited.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Wait for the next event until `deadline`: entering the section (reported
    /// once) or exiting.
    pub fn wait(&mut self, deadline: Instant) -> Result<Event> {
        loop {
            if !self.entered && self.section.check_entered() {
                self.entered = true;
                return Ok(Event::Entered);
            }
            if let Some(status) = self.reap()? {
                // A section that announced itself just before exiting counts.
                if !self.entered && self.section.check_entered() {
                    self.entered = true;
                    return Ok(Event::Entered);
                }
                return Ok(Event::Exited(status));
            }
            let mut fds = vec![self.pidfd.as_fd()];
            if !self.entered {
                fds.extend(self.section.entered_fd());
            }
            if !poll_readable(&fds, deadline)? {
                return Ok(Event::TimedOut);
            }
        }
    }

    /// Wait until it exits or `deadline` passes.
    pub fn wait_exit(&mut self, deadline: Instant) -> Result<Option<ExitStatus>> {
        loop {
            match self.wait(deadline)? {
                Event::Entered => continue,
                Event::Exited(s) => return Ok(Some(s)),
                Event::TimedOut => return Ok(None),
            }
        }
    }

    /// Let its critical section leave, then wait for the tool to release
    /// and exit; `None` if it has not exited by `deadline`.
    pub fn release(&mut self, deadline: Instant) -> Result<Option<ExitStatus>> {
        self.section.let_go()?;
        self.wait_exit(deadline)
    }

    /// SIGKILL the whole process group and reap the shell.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        signal_group(self.pid(), Signal::SIGKILL);
        let status = self.child.wait().context("waiting for a killed holder")?;
        self.status = Some(status);
        Ok(status)
    }

    /// The last non-empty line the tool printed (stdout and stderr), if
    /// any, with the lock path shown as `{path}`.
    pub fn last_output(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.output).ok()?;
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.replace(&self.path, "{path}").chars().take(200).collect())
    }

    fn reap(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait().context("waiting for a holder")?;
        }
        Ok(self.status)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // Whatever the tool left running in its session goes too.
        signal_group(self.pid(), Signal::SIGKILL);
        if self.status.is_none() {
            let _ = self.child.wait();
        }
    }
}

/// Send `signal` to the process group `pgid`; a group that is gone is fine.
fn signal_group(pgid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pgid) {
        if raw > 1 {
            let _ = kill(Pid::from_raw(-raw), signal);
        }
    }
}

/// Wait until any of `fds` is readable (true) or `deadline` passes (false).
pub fn poll_readable(fds: &[BorrowedFd<'_>], deadline: Instant) -> Result<bool> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis().min(60_000)).unwrap_or(u16::MAX);
        let mut polls: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
            .collect();
        match nix::poll::poll(&mut polls, PollTimeout::from(ms)) {
            Ok(0) if Instant::now() >= deadline => return Ok(false),
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
    }
}

/// Wait until every holder has exited or `deadline` passes.
pub fn wait_all_exit(holders: &mut [Holder], deadline: Instant) -> Result<()> {
    loop {
        for h in holders.iter_mut() {
            h.reap()?;
        }
        let running: Vec<BorrowedFd<'_>> = holders
            .iter()
            .filter(|h| h.status.is_none())
            .map(|h| h.pidfd.as_fd())
            .collect();
        if running.is_empty() || !poll_readable(&running, deadline)? {
            return Ok(());
        }
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = nix::libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(io::Error::other)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
