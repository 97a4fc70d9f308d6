//! Release: is the entry gone after a normal release, and what is left
//! after the holder is SIGKILLed inside its critical section?

use std::time::Instant;

use anyhow::Result;

use super::contest::{changes_text, rel_lock_path};
use super::{broken, exit_with_output, secs, timed, Attempt, Probe};
use crate::gate::probe::{ProbeResult, Status};
use crate::gate::sandbox::Sandbox;
use crate::gate::snapshot::{self, Change};

const PROBE: &str = "release";

/// Run both cases in parallel.
pub fn run(probe: &Probe<'_>) -> Vec<ProbeResult> {
    std::thread::scope(|s| {
        let normal = s.spawn(|| timed(|| vec![one(probe, false)]));
        let killed = s.spawn(|| timed(|| vec![one(probe, true)]));
        let mut rows = normal.join().unwrap_or_else(|_| {
            vec![broken(
                PROBE,
                "normal",
                &anyhow::anyhow!("the probe crashed"),
            )]
        });
        rows.extend(killed.join().unwrap_or_else(|_| {
            vec![broken(
                PROBE,
                "after SIGKILL",
                &anyhow::anyhow!("the probe crashed"),
            )]
        }));
        rows
    })
}

fn one(probe: &Probe<'_>, kill: bool) -> ProbeResult {
    let case = if kill { "after SIGKILL" } else { "normal" };
    match measure(probe, kill) {
        Ok(row) => row,
        Err(e) => broken(PROBE, case, &e),
    }
}

fn measure(probe: &Probe<'_>, kill: bool) -> Result<ProbeResult> {
    let s = probe.settings;
    let case = if kill { "after SIGKILL" } else { "normal" };
    let sandbox = Sandbox::new(&probe.settings.profile)?;
    let skip = sandbox.gate();
    let rel = rel_lock_path(&sandbox);
    let before = snapshot::take(sandbox.root(), &skip);
    let mut holder = match probe.attempt(&sandbox, "release", s.timeout)? {
        Attempt::Took { holder, .. } => holder,
        Attempt::Refused { holder, status, .. } => {
            return Ok(ProbeResult::new(
                PROBE,
                case,
                Status::CouldNotRun,
                format!(
                    "did not take a free lock ({})",
                    exit_with_output(&holder, status)
                ),
            ))
        }
        Attempt::Waiting { .. } => {
            return Ok(ProbeResult::new(
                PROBE,
                case,
                Status::CouldNotRun,
                format!(
                    "timed out: did not take a free lock within {}",
                    secs(s.timeout)
                ),
            ))
        }
    };
    let mut evidence = Vec::new();
    let mut release_failed = None;
    if kill {
        holder.kill()?;
        evidence.push("SIGKILLed the holder's process group inside its critical section".into());
    } else {
        match holder.release(Instant::now() + s.timeout)? {
            Some(st) if st.success() => evidence.push("released: exit 0".into()),
            Some(st) => {
                let text = exit_with_output(&holder, st);
                evidence.push(format!("released: {text}"));
                release_failed = Some(text);
            }
            None => {
                holder.kill()?;
                return Ok(ProbeResult::new(
                    PROBE,
                    case,
                    Status::CouldNotRun,
                    format!(
                        "timed out: did not finish releasing within {}",
                        secs(s.timeout)
                    ),
                ));
            }
        }
    }
    let after = snapshot::take(sandbox.root(), &skip);
    let left = snapshot::diff(&before, &after);
    evidence.push(format!("left behind: {}", changes_text(&left)));
    let at_path = after.get(&rel);
    let others: Vec<String> = left
        .iter()
        .filter(|c| c.path() != rel)
        .map(Change::describe)
        .collect();
    let (status, finding) = match (kill, at_path) {
        (false, Some(e)) => (
            Status::Unsafe,
            format!(
                "leaves {} after a normal release: the supervisor sees a held lock and the update never comes",
                snapshot::with_entry(&rel, e)
            ),
        ),
        (false, None) if !others.is_empty() => (
            Status::Caveat,
            format!("removes the lock but leaves other entries behind: {}", others.join("; ")),
        ),
        (false, None) => match release_failed {
            Some(text) => (Status::Caveat, format!("the lock is gone, but the release failed ({text})")),
            None => (Status::Ok, "removes the lock on release".to_string()),
        },
        (true, Some(e)) => (
            Status::Note,
            format!(
                "a killed holder leaves {}: updates wait until it is removed (a reboot clears /tmp)",
                snapshot::with_entry(&rel, e)
            ),
        ),
        (true, None) if others.is_empty() => (Status::Note, "a killed holder leaves nothing".to_string()),
        (true, None) => (Status::Note, format!("a killed holder leaves: {}", others.join("; "))),
    };
    let finding = if at_path.is_some() && !others.is_empty() {
        format!("{finding}; also left: {}", others.join("; "))
    } else {
        finding
    };
    Ok(ProbeResult::new(PROBE, case, status, finding).with_evidence(evidence))
}
