//! Race: N copies of the tool at once, many rounds, each copy's critical
//! section recording enter/leave in one shared witness file the tool knows
//! nothing about. The most copies inside at the same time is the answer.

use std::time::Instant;

use anyhow::Result;

use super::{secs, Probe};
use crate::gate::critical::Stay;
use crate::gate::holder::{wait_all_exit, Holder, Spec};
use crate::gate::probe::{ProbeResult, Status};
use crate::gate::sandbox::Sandbox;
use crate::gate::witness;

const PROBE: &str = "race";

/// Run the rounds.
pub fn run(probe: &Probe<'_>) -> Vec<ProbeResult> {
    let start = Instant::now();
    let mut row = match measure(probe) {
        Ok(row) => row,
        Err(e) => super::broken(PROBE, "", &e),
    };
    row.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    vec![row]
}

/// Totals over all rounds.
#[derive(Debug, Default)]
struct Tally {
    takes: usize,
    refused: usize,
    stopped: usize,
    max_inside: usize,
    max_round: usize,
    max_pids: Vec<u32>,
    overlapping_rounds: usize,
}

fn measure(probe: &Probe<'_>) -> Result<ProbeResult> {
    let s = probe.settings;
    let case = format!("{} copies x {} rounds", s.copies, s.rounds);
    let mut t = Tally::default();
    for round in 1..=s.rounds {
        let sandbox = Sandbox::new(&probe.settings.profile)?;
        let files = sandbox.gate();
        let cwd = sandbox.work();
        let path = sandbox.lock_path();
        let w = files.join("race.witness");
        let start = Instant::now();
        let mut holders = Vec::with_capacity(s.copies);
        for copy in 0..s.copies {
            let id = format!("copy{copy}");
            holders.push(Holder::spawn(&Spec {
                tool: probe.tool,
                path: &path,
                files: &files,
                cwd: &cwd,
                id: &id,
                witness: &w,
                stay: Stay::For(s.pulse),
                lockcheck: &s.lockcheck,
            })?);
        }
        // A round ends when every copy is done, or after `watch`: copies
        // still waiting then are stopped (they never got in).
        wait_all_exit(&mut holders, start + s.watch.max(s.pulse * 4))?;
        for h in &mut holders {
            match h.status() {
                Some(st) if !st.success() => t.refused += 1,
                Some(_) => {}
                None => {
                    h.kill()?;
                    t.stopped += 1;
                }
            }
        }
        let seen = witness::read(&w);
        t.takes += seen.enters;
        if seen.max_inside > 1 {
            t.overlapping_rounds += 1;
        }
        if seen.max_inside > t.max_inside {
            t.max_inside = seen.max_inside;
            t.max_round = round;
            t.max_pids = seen.max_pids.clone();
        }
    }
    let mut evidence = vec![
        format!(
            "{} critical sections entered, {} copies exited with an error, {} still waiting at the end of their round (stopped)",
            t.takes, t.refused, t.stopped
        ),
        format!(
            "each section stays inside {} ms; a round lasts at most {}",
            s.pulse.as_millis(),
            secs(s.watch.max(s.pulse * 4))
        ),
    ];
    let (status, finding) = match t.max_inside {
        0 => (
            Status::CouldNotRun,
            "no copy entered its critical section in any round".to_string(),
        ),
        1 => (
            Status::Ok,
            format!("never more than 1 holder at once ({} takes)", t.takes),
        ),
        n => {
            let pids: Vec<String> = t.max_pids.iter().map(u32::to_string).collect();
            evidence.insert(
                0,
                format!(
                    "round {}: pids {} inside their critical sections at the same time",
                    t.max_round,
                    pids.join(", ")
                ),
            );
            (
                Status::Unsafe,
                format!(
                    "{n} holders at once (overlaps in {} of {} rounds)",
                    t.overlapping_rounds, s.rounds
                ),
            )
        }
    };
    Ok(ProbeResult::new(PROBE, &case, status, finding).with_evidence(evidence))
}
