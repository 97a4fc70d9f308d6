//! Stealing: given a supervisor lock whose mtime is 10 minutes or 2 hours
//! old, or that holds a dead pid, does the tool delete it and take over?

use std::time::Duration;

use anyhow::Result;

use super::contest::{contest, rel_lock_path};
use super::{broken, plant, timed, Probe};
use crate::gate::probe::{ProbeResult, Status};
use crate::gate::sandbox::Sandbox;
use crate::gate::snapshot::{self, Change};

const PROBE: &str = "stealing";

/// What makes the planted lock look stale.
#[derive(Debug, Clone, Copy)]
enum Stale {
    Old(Duration),
    DeadPid,
}

impl Stale {
    fn case(self) -> String {
        match self {
            Stale::Old(age) => format!("mtime {} old", plant::age_text(age)),
            Stale::DeadPid => "dead pid".into(),
        }
    }
}

/// Run the three cases in parallel.
pub fn run(probe: &Probe<'_>) -> Vec<ProbeResult> {
    let all = [
        Stale::Old(Duration::from_secs(600)),
        Stale::Old(Duration::from_secs(7200)),
        Stale::DeadPid,
    ];
    std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|st| s.spawn(move || timed(|| vec![one(probe, *st)])))
            .collect();
        handles
            .into_iter()
            .zip(all)
            .flat_map(|(h, st)| {
                h.join().unwrap_or_else(|_| {
                    vec![broken(
                        PROBE,
                        &st.case(),
                        &anyhow::anyhow!("the probe crashed"),
                    )]
                })
            })
            .collect()
    })
}

fn one(probe: &Probe<'_>, stale: Stale) -> ProbeResult {
    match measure(probe, stale) {
        Ok(row) => row,
        Err(e) => broken(PROBE, &stale.case(), &e),
    }
}

fn measure(probe: &Probe<'_>, stale: Stale) -> Result<ProbeResult> {
    let sandbox = Sandbox::new(&probe.settings.profile)?;
    let path = sandbox.lock_path();
    let profile = &probe.settings.profile;
    let (content, age, what) = match stale {
        Stale::Old(age) => (
            plant::LOCKFILE_CONTENT.to_vec(),
            age,
            format!(
                "a supervisor lock last modified {} ago",
                plant::age_text(age)
            ),
        ),
        Stale::DeadPid => {
            let pid = plant::dead_pid()?;
            (
                format!("{pid}\n").into_bytes(),
                Duration::ZERO,
                format!("a supervisor lock holding the dead pid {pid}"),
            )
        }
    };
    let mut evidence: Vec<String> = plant::supervisor_lock(&path, profile, &content, age)?
        .into_iter()
        .collect();
    let rel = rel_lock_path(&sandbox);
    let entry = snapshot::entry(&path).expect("just planted");
    evidence.insert(0, format!("planted {}", snapshot::with_entry(&rel, &entry)));
    let c = contest(probe, &sandbox, "stale")?;
    evidence.extend(c.evidence.iter().cloned());
    // Removed or replaced while the tool held it: it deleted the lock.
    let deleted_during = c
        .during
        .iter()
        .any(|ch| ch.path() == rel && matches!(ch, Change::Removed(..) | Change::Replaced(..)));
    let touched: Vec<String> = c.touching(&rel).iter().map(|ch| ch.describe()).collect();
    let (status, finding) = if c.took && deleted_during {
        (Status::Unsafe, format!("deleted {what} and took over"))
    } else if c.took {
        (
            Status::Unsafe,
            format!("took over {what} without deleting it"),
        )
    } else if !touched.is_empty() {
        (
            Status::Unsafe,
            format!(
                "{}, but changed {what}: {}",
                c.behaviour,
                touched.join("; ")
            ),
        )
    } else {
        (Status::Ok, format!("left it alone: {}", c.behaviour))
    };
    Ok(ProbeResult::new(PROBE, &stale.case(), status, finding).with_evidence(evidence))
}
