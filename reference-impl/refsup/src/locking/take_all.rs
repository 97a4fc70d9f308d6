//! Taking every lock of an operation, all or nothing, one syscall per step.

use std::path::PathBuf;

use updatelock::{EntryKind, LockError, TakeOptions};

use super::{HeldLocks, LockRules};

/// Why a take did not succeed; nothing this take created is left behind
/// (the L8 fault also removes the untaken paths after the blocker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The path that could not be taken.
    pub path: PathBuf,
    /// Why, in words (held, permission, I/O ...).
    pub reason: String,
}

/// What one step did.
#[derive(Debug)]
pub enum Step {
    /// More steps to go.
    Continue,
    /// Every lock is held.
    Acquired(HeldLocks),
    /// The take failed and has been rolled back.
    Blocked(Blocked),
}

#[derive(Debug)]
enum Phase {
    Taking,
    RollingBack(Blocked),
    RemoveUntaken(Blocked, usize),
    Finished,
}

/// All-or-nothing exclusive create of a list of lock paths. With `force`,
/// an existing entry is removed first (a directory only where the rules
/// allow); without it, the first held path blocks and everything taken so far
/// is released.
#[derive(Debug)]
pub struct TakeAll {
    paths: Vec<PathBuf>,
    rules: LockRules,
    force: bool,
    next: usize,
    taken: Vec<PathBuf>,
    clears: u32,
    phase: Phase,
}

/// How often force clears one path that keeps being re-created before giving up.
const MAX_CLEARS: u32 = 3;

impl TakeAll {
    /// Prepare to take `paths` in order.
    pub fn new(paths: Vec<PathBuf>, rules: LockRules, force: bool) -> TakeAll {
        TakeAll {
            paths,
            rules,
            force,
            next: 0,
            taken: Vec::new(),
            clears: 0,
            phase: Phase::Taking,
        }
    }

    /// Do the next step: at most one mutating syscall.
    pub fn step(&mut self) -> Step {
        match std::mem::replace(&mut self.phase, Phase::Finished) {
            Phase::Finished => panic!("TakeAll::step called after it finished"),
            Phase::Taking => self.take_next(),
            Phase::RollingBack(blocked) => match self.taken.pop() {
                Some(path) => {
                    if let Err(e) = self.rules.root.release(&path) {
                        tracing::warn!("rollback: {e}");
                    }
                    self.phase = Phase::RollingBack(blocked);
                    Step::Continue
                }
                None if self.rules.rollback_removes_untaken => {
                    self.phase = Phase::RemoveUntaken(blocked, self.next + 1);
                    Step::Continue
                }
                None => Step::Blocked(blocked),
            },
            Phase::RemoveUntaken(blocked, i) => match self.paths.get(i) {
                // Fault L8: the historical cleanup unlinked every lock path of
                // the operation, not only those it took, so a user's lock
                // beyond the blocking one was removed.
                Some(path) => {
                    let _ = self.rules.root.release(path);
                    self.phase = Phase::RemoveUntaken(blocked, i + 1);
                    Step::Continue
                }
                None => Step::Blocked(blocked),
            },
        }
    }

    /// Run to the end.
    pub fn run(mut self) -> Result<HeldLocks, Blocked> {
        loop {
            match self.step() {
                Step::Continue => {}
                Step::Acquired(held) => return Ok(held),
                Step::Blocked(b) => return Err(b),
            }
        }
    }

    fn take_next(&mut self) -> Step {
        let Some(path) = self.paths.get(self.next).cloned() else {
            return Step::Acquired(HeldLocks::new(
                std::mem::take(&mut self.taken),
                self.rules.root.clone(),
            ));
        };
        let create = self.rules.create_path(&path);
        let opts = TakeOptions {
            owner: Some(self.rules.owner),
            ..TakeOptions::default()
        };
        match self.rules.root.take(&create, &opts) {
            Ok(lock) => {
                // Dropping a Lock leaves the file: it stays until HeldLocks::release.
                self.taken.push(lock.path().to_path_buf());
                drop(lock);
                self.next += 1;
                self.clears = 0;
                self.phase = Phase::Taking;
                Step::Continue
            }
            Err(e) if e.is_held() && self.rules.adoptable(&path) => {
                // 16.2.0+: a nobody-owned lock file is taken for one of ours.
                self.taken.push(path);
                self.next += 1;
                self.clears = 0;
                self.phase = Phase::Taking;
                Step::Continue
            }
            Err(e) if e.is_held() && self.force && self.clears < MAX_CLEARS => {
                match self.clear(&path) {
                    Ok(()) => {
                        self.clears += 1;
                        self.phase = Phase::Taking;
                        Step::Continue
                    }
                    Err(reason) => self.fail_with(path, reason),
                }
            }
            Err(e) => self.fail(path, e),
        }
    }

    /// Force: remove the user's entry (one syscall). Never follows a link.
    fn clear(&self, path: &std::path::Path) -> Result<(), String> {
        let holder = self.rules.root.inspect(path).map_err(|e| e.to_string())?;
        if let Some(h) = holder {
            if h.kind == EntryKind::Directory && !self.rules.directory_removable {
                return Err(format!(
                    "{}: a directory lock cannot be removed by this supervisor version",
                    path.display()
                ));
            }
        }
        self.rules
            .root
            .release(path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn fail(&mut self, path: PathBuf, e: LockError) -> Step {
        let reason = if e.is_held() {
            "lock is held".to_string()
        } else {
            e.to_string()
        };
        self.fail_with(path, reason)
    }

    fn fail_with(&mut self, path: PathBuf, reason: String) -> Step {
        self.phase = Phase::RollingBack(Blocked { path, reason });
        Step::Continue
    }
}
