//! Path: exactly which entries the tool creates for the `{path}` it was
//! given, while it holds the lock (the supervisor looks only at `{path}`
//! itself). Taking a free lock here is also the check that the tool runs
//! at all: a tool that is missing, hangs or fails gives the reason every
//! other probe reports.

use std::time::Instant;

use anyhow::Result;

use super::contest::{changes_text, rel_lock_path};
use super::{exit_text, exit_with_output, secs, Attempt, Probe, Unrunnable};
use crate::gate::probe::{ProbeResult, Status};
use crate::gate::sandbox::Sandbox;
use crate::gate::snapshot::{self, Change, Kind};

const PROBE: &str = "path";

/// Run the probe; `Some` reason when the tool cannot take a free lock.
pub fn run(probe: &Probe<'_>) -> (ProbeResult, Option<Unrunnable>) {
    let start = Instant::now();
    let (mut row, why) = match measure(probe) {
        Ok(Ok(row)) => (row, None),
        Ok(Err(why)) => (why.row(PROBE), Some(why)),
        Err(e) => {
            let why = Unrunnable {
                status: Status::CouldNotRun,
                reason: format!("{e:#}"),
            };
            (why.row(PROBE), Some(why))
        }
    };
    row.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    (row, why)
}

fn measure(probe: &Probe<'_>) -> Result<Result<ProbeResult, Unrunnable>> {
    let s = probe.settings;
    let sandbox = Sandbox::new(&probe.settings.profile)?;
    let skip = sandbox.gate();
    let rel = rel_lock_path(&sandbox);
    let before = snapshot::take(sandbox.root(), &skip);
    let (mut holder, after) = match probe.attempt(&sandbox, "path", s.timeout)? {
        Attempt::Took { holder, after } => (holder, after),
        Attempt::Refused { holder, status, .. } => {
            return Ok(Err(refused_free_lock(&holder, status)))
        }
        Attempt::Waiting { .. } => {
            return Ok(Err(Unrunnable {
                status: Status::CouldNotRun,
                reason: format!(
                    "timed out: did not take a free lock within {} (it hangs, or waits for input)",
                    secs(s.timeout)
                ),
            }))
        }
    };
    let held = snapshot::take(sandbox.root(), &skip);
    let created = snapshot::diff(&before, &held);
    let status = holder.release(Instant::now() + s.timeout)?;
    let mut evidence = vec![
        format!("took a free lock in {} ms", after.as_millis()),
        format!("while held: {}", changes_text(&created)),
    ];
    match status {
        Some(st) => evidence.push(format!("released: {}", exit_text(st))),
        None => {
            holder.kill()?;
            evidence.push(format!(
                "did not finish releasing within {}",
                secs(s.timeout)
            ));
        }
    }
    let others: Vec<String> = created
        .iter()
        .filter(|c| c.path() != rel)
        .map(Change::describe)
        .collect();
    let at_path = held.get(&rel);
    let profile = &s.profile;
    let (status, finding) = match at_path.map(|e| e.kind) {
        None => (
            Status::Unsafe,
            format!(
                "never creates {}: the supervisor cannot see this lock (it made: {})",
                rel.display(),
                if others.is_empty() { "nothing".into() } else { others.join("; ") }
            ),
        ),
        Some(Kind::File) => (Status::Ok, format!("creates exactly {} (a regular file)", rel.display())),
        Some(Kind::Dir) if profile.directory_lock_removable() => (
            Status::Note,
            format!("creates {} as a directory, which {profile} can remove on a forced update", rel.display()),
        ),
        Some(Kind::Dir) => (
            Status::Caveat,
            format!(
                "creates {} as a directory: {profile} cannot remove it on a forced update or override (SPEC L5)",
                rel.display()
            ),
        ),
        Some(Kind::Symlink) => (Status::Caveat, format!("creates {} as a symlink", rel.display())),
        Some(Kind::Other) => (Status::Caveat, format!("creates {} as a special file", rel.display())),
    };
    let finding = if at_path.is_some() && !others.is_empty() {
        format!("{finding}; while held also: {}", others.join("; "))
    } else {
        finding
    };
    Ok(Ok(
        ProbeResult::new(PROBE, "", status, finding).with_evidence(evidence)
    ))
}

/// Why a tool that gave up on a free lock cannot be probed.
fn refused_free_lock(
    holder: &crate::gate::holder::Holder,
    status: std::process::ExitStatus,
) -> Unrunnable {
    let text = exit_with_output(holder, status);
    let lower = text.to_lowercase();
    if status.code() == Some(127) || lower.contains("not found") && lower.contains("sh:") {
        return Unrunnable {
            status: Status::NotInstalled,
            reason: format!("not installed: {text}"),
        };
    }
    if lower.contains("modulenotfounderror") || lower.contains("cannot find module") {
        return Unrunnable {
            status: Status::NotInstalled,
            reason: format!("not installed: {text}"),
        };
    }
    let hint = if lower.contains("tty") || lower.contains("terminal") {
        " (it seems to need a terminal; the gate runs tools without one, stdin from /dev/null)"
    } else {
        ""
    };
    Unrunnable {
        status: Status::CouldNotRun,
        reason: format!("failed to take a free lock ({text}){hint}"),
    }
}
