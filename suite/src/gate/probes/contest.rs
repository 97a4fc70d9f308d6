//! The tool against a lock that is already there: does it take it, refuse,
//! or wait, and what does it change on disk while doing so? Shared by the
//! existing-lock and stealing probes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use super::{exit_with_output, secs, Attempt, Probe};
use crate::gate::sandbox::Sandbox;
use crate::gate::snapshot::{self, Change};

/// What the tool did facing a planted lock.
#[derive(Debug)]
pub struct Contest {
    /// It entered its critical section: it believed it had the lock.
    pub took: bool,
    /// `refused (exit 1: ...)`, `waited (...)` or `took it after 12 ms`.
    pub behaviour: String,
    /// Changes on disk while it held the lock (empty if it never took it).
    pub during: Vec<Change>,
    /// Changes once it was done (released, refused, or stopped while waiting).
    pub after: Vec<Change>,
    /// Evidence lines, in order.
    pub evidence: Vec<String>,
}

impl Contest {
    /// Changes (during or after) to the lock path or anything under it.
    pub fn touching(&self, rel: &Path) -> Vec<&Change> {
        self.during
            .iter()
            .chain(&self.after)
            .filter(|c| c.path().starts_with(rel))
            .collect()
    }
}

/// Run one holder against what is planted in `sandbox` and watch it for
/// `watch`; a holder that takes the lock is let go after a snapshot.
pub fn contest(probe: &Probe<'_>, sandbox: &Sandbox, id: &str) -> Result<Contest> {
    let s = probe.settings;
    let skip = sandbox.gate();
    let before = snapshot::take(sandbox.root(), &skip);
    let attempt = probe.attempt(sandbox, id, s.watch)?;
    let mut evidence = Vec::new();
    let (took, behaviour, during) = match attempt {
        Attempt::Took { mut holder, after } => {
            let now = snapshot::take(sandbox.root(), &skip);
            let during = snapshot::diff(&before, &now);
            evidence.push(format!(
                "entered its critical section {} ms after it started",
                after.as_millis()
            ));
            evidence.push(format!("while it held the lock: {}", changes_text(&during)));
            let deadline = Instant::now() + s.timeout;
            match holder.release(deadline)? {
                Some(status) => evidence.push(format!(
                    "then released it ({})",
                    exit_with_output(&holder, status)
                )),
                None => {
                    holder.kill()?;
                    evidence.push(format!(
                        "did not finish releasing within {}; stopped",
                        secs(s.timeout)
                    ));
                }
            }
            (true, format!("took it ({} ms)", after.as_millis()), during)
        }
        Attempt::Refused {
            holder,
            status,
            after,
        } => {
            let text = exit_with_output(&holder, status);
            evidence.push(format!("gave up after {} ms: {text}", after.as_millis()));
            (false, format!("refused ({text})"), Vec::new())
        }
        Attempt::Waiting { mut holder } => {
            holder.kill()?;
            evidence.push(format!(
                "still waiting after {} without entering; stopped (SIGKILL)",
                secs(s.watch)
            ));
            (
                false,
                format!("waited ({}; stopped)", secs(s.watch)),
                Vec::new(),
            )
        }
    };
    let now = snapshot::take(sandbox.root(), &skip);
    let after = snapshot::diff(&before, &now);
    evidence.push(format!(
        "{}: {}",
        if took {
            "after its release"
        } else {
            "afterwards"
        },
        changes_text(&after)
    ));
    Ok(Contest {
        took,
        behaviour,
        during,
        after,
        evidence,
    })
}

/// `nothing changed` or the changes joined by `; `.
pub fn changes_text(changes: &[Change]) -> String {
    if changes.is_empty() {
        "nothing changed".into()
    } else {
        changes
            .iter()
            .map(Change::describe)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The lock path relative to the sandbox root, as snapshots name it.
pub fn rel_lock_path(sandbox: &Sandbox) -> PathBuf {
    sandbox
        .lock_path()
        .strip_prefix(sandbox.root())
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| sandbox.lock_path())
}
