//! Live check: with the reference supervisor (`refsup`, process runtime,
//! the chosen profile) running an app whose service takes the lock with
//! the tool, does an update wait for the tool's lock, and does the tool
//! refuse while the supervisor holds it?

use std::time::{Duration, Instant};

use anyhow::Result;

use super::contest::changes_text;
use super::live_device::LiveDevice;
use super::{broken, exit_with_output, secs, timed, Attempt, Probe};
use crate::gate::critical::{Section, Stay};
use crate::gate::probe::{ProbeResult, Status};
use crate::gate::sandbox::Sandbox;
use crate::gate::snapshot;
use crate::gate::template::{shell_word, Fill};
use crate::gate::witness;

const PROBE: &str = "live";
const UPDATE_WAITS: &str = "update waits for the tool";
const TOOL_WAITS: &str = "tool refuses while refsup holds";

/// Run both cases in parallel, each on its own refsup.
pub fn run(probe: &Probe<'_>) -> Vec<ProbeResult> {
    if !probe.settings.live {
        return vec![ProbeResult::new(
            PROBE,
            "",
            Status::Note,
            "skipped (--no-live)",
        )];
    }
    std::thread::scope(|s| {
        let a = s.spawn(|| timed(|| vec![one(probe, UPDATE_WAITS, update_waits)]));
        let b = s.spawn(|| timed(|| vec![one(probe, TOOL_WAITS, tool_waits)]));
        let mut rows = a.join().unwrap_or_else(|_| {
            vec![broken(
                PROBE,
                UPDATE_WAITS,
                &anyhow::anyhow!("the probe crashed"),
            )]
        });
        rows.extend(b.join().unwrap_or_else(|_| {
            vec![broken(
                PROBE,
                TOOL_WAITS,
                &anyhow::anyhow!("the probe crashed"),
            )]
        }));
        rows
    })
}

fn one(
    probe: &Probe<'_>,
    case: &str,
    f: fn(&Probe<'_>, &Sandbox) -> Result<ProbeResult>,
) -> ProbeResult {
    let run = Sandbox::new(&probe.settings.profile).and_then(|sandbox| f(probe, &sandbox));
    run.unwrap_or_else(|e| broken(PROBE, case, &e))
}

/// The service takes the lock with the tool and stays inside; an update
/// must wait, and apply once the tool releases.
fn update_waits(probe: &Probe<'_>, sandbox: &Sandbox) -> Result<ProbeResult> {
    let s = probe.settings;
    let profile = &s.profile;
    let dev = LiveDevice::start(profile, &s.lockcheck, &sandbox.work())?;
    let lock = dev.start_idle("r0", Instant::now() + s.timeout)?;
    let files = sandbox.gate();
    let w = files.join("live.witness");
    let out = files.join("service.out");
    let mut section = Section::new(&files, "live", &w, Stay::UntilLetGo)?;
    let fill = Fill {
        path: &lock,
        critical: &section.script,
        lockcheck: &s.lockcheck,
    };
    let idle: Vec<String> = dev.idle_command().iter().map(|a| shell_word(a)).collect();
    // The service starts the tool when told: once refsup has finished
    // installing it (and so released its own locks).
    let start_fifo = files.join("live.start");
    let mut start = crate::gate::critical::fifo(&start_fifo)?;
    let script = format!(
        "exec > {} 2>&1\nread -r go < {}\n(\n{})\necho \"done $?\" >> {}\nexec {}\n",
        shell_word(&out.to_string_lossy()),
        shell_word(&start_fifo.to_string_lossy()),
        probe.tool.holder_script(&fill),
        shell_word(&w.to_string_lossy()),
        idle.join(" ")
    );
    let service = vec!["/bin/sh".to_string(), "-c".to_string(), script];
    dev.deploy("r1", &service)?;
    let mut evidence = vec![format!(
        "refsup {profile}; service main runs the tool on {}",
        lock.display()
    )];
    // Installed, and refsup's own lock gone: now the service takes the lock.
    let deadline = Instant::now() + s.timeout;
    if !dev.wait_applied("r1", deadline)? {
        anyhow::bail!(
            "refsup did not start the tool's service within {}",
            secs(s.timeout)
        );
    }
    while snapshot::entry(&lock).is_some() {
        if Instant::now() >= deadline {
            anyhow::bail!(
                "refsup still held {} after installing the service",
                lock.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::io::Write::write_all(&mut start, b"go\n")?;
    loop {
        if section.wait_entered((Instant::now() + Duration::from_millis(50)).min(deadline))? {
            break;
        }
        let log = std::fs::read_to_string(&w).unwrap_or_default();
        if log.contains("done ") || Instant::now() >= deadline {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            return Ok(ProbeResult::new(
                PROBE,
                UPDATE_WAITS,
                Status::CouldNotRun,
                format!(
                    "the tool did not take the lock inside the service within {}: {last}",
                    secs(s.timeout)
                ),
            ));
        }
    }
    evidence.push(format!(
        "the service's tool holds the lock: {}",
        snapshot::entry(&lock).map_or("nothing at the path".into(), |e| snapshot::describe(&e))
    ));
    // A new release: refsup must not kill the service while it is inside.
    dev.deploy("r2", &dev.idle_command())?;
    let took_ours = dev.settle(Instant::now() + s.timeout)?;
    let seen = witness::read(&w);
    let info = dev.info()?;
    let running = dev.running_commit()?;
    evidence.push(format!(
        "after a reconcile pass: update_pending={}, main runs {}, sections entered {}, left {}, SIGTERMs inside {}",
        info["update_pending"],
        running.as_deref().unwrap_or("nothing"),
        seen.enters,
        seen.leaves,
        seen.sigterms
    ));
    if took_ours {
        evidence.push(format!(
            "refsup took its locks ({}) while the tool held its own",
            snapshot::entry(&lock).map_or("nothing at the path".into(), |e| snapshot::describe(&e))
        ));
        dev.resume();
        let killed = dev.wait_applied("r2", Instant::now() + s.timeout)?;
        let seen = witness::read(&w);
        evidence.push(format!(
            "resumed: r2 applied={killed}, SIGTERMs inside the critical section {}",
            seen.sigterms
        ));
        return Ok(ProbeResult::new(
            PROBE,
            UPDATE_WAITS,
            Status::Unsafe,
            "refsup did not see the tool's lock: it took its own locks and went on to kill the service",
        )
        .with_evidence(evidence));
    }
    if seen.sigterms > 0 || running.as_deref() != Some("r1") {
        return Ok(ProbeResult::new(
            PROBE,
            UPDATE_WAITS,
            Status::Unsafe,
            "the update killed the service while the tool held the lock",
        )
        .with_evidence(evidence));
    }
    // Release: the update must now apply.
    section.let_go()?;
    let released = Instant::now();
    let deadline = released + s.timeout;
    while !std::fs::read_to_string(&w)
        .unwrap_or_default()
        .contains("done ")
    {
        if Instant::now() >= deadline {
            return Ok(ProbeResult::new(
                PROBE,
                UPDATE_WAITS,
                Status::CouldNotRun,
                format!(
                    "the tool did not finish releasing within {}",
                    secs(s.timeout)
                ),
            )
            .with_evidence(evidence));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A whole reconcile pass after the release decides: it either applies
    // the update or finds the path still held.
    let paused = dev.settle(deadline)?;
    if paused {
        dev.resume();
    }
    if dev.wait_applied("r2", Instant::now() + s.watch)? {
        evidence.push(format!(
            "the tool released; r2 applied {} ms later",
            released.elapsed().as_millis()
        ));
        Ok(ProbeResult::new(
            PROBE,
            UPDATE_WAITS,
            Status::Ok,
            "the update waited while the tool held the lock and applied after it released",
        )
        .with_evidence(evidence))
    } else {
        let left = snapshot::entry(&lock).map_or("nothing".into(), |e| snapshot::describe(&e));
        evidence.push(format!("at the lock path after the release: {left}"));
        Ok(ProbeResult::new(
            PROBE,
            UPDATE_WAITS,
            Status::Unsafe,
            format!(
                "the update waited, but was still blocked {} after the tool released: {left} left at the lock path",
                secs(released.elapsed())
            ),
        )
        .with_evidence(evidence))
    }
}

/// refsup takes its locks for an update and pauses holding them; the tool
/// must then refuse or wait.
fn tool_waits(probe: &Probe<'_>, sandbox: &Sandbox) -> Result<ProbeResult> {
    let s = probe.settings;
    let profile = &s.profile;
    let dev = LiveDevice::start(profile, &s.lockcheck, &sandbox.work())?;
    let lock = dev.start_idle("r1", Instant::now() + s.timeout)?;
    dev.deploy("r2", &dev.idle_command())?;
    if !dev.wait_paused(Instant::now() + s.timeout) {
        anyhow::bail!(
            "refsup did not take its locks for the update within {}",
            secs(s.timeout)
        );
    }
    let held = snapshot::entry(&lock);
    let mut evidence = vec![format!(
        "refsup {profile} paused holding its lock: {}",
        held.as_ref()
            .map_or("nothing at the path".into(), |e| snapshot::with_entry(
                &lock, e
            ))
    )];
    let skip = sandbox.gate();
    let lock_dir = lock.parent().unwrap_or(&lock).to_path_buf();
    let before = snapshot::take(&lock_dir, &skip);
    let attempt = probe.attempt_at(sandbox, &lock, "live-tool", s.watch)?;
    let (took, behaviour) = match attempt {
        Attempt::Took { mut holder, after } => {
            let during = snapshot::diff(&before, &snapshot::take(&lock_dir, &skip));
            evidence.push(format!(
                "the tool entered its critical section after {} ms; meanwhile: {}",
                after.as_millis(),
                changes_text(&during)
            ));
            if holder.release(Instant::now() + s.timeout)?.is_none() {
                holder.kill()?;
            }
            (true, String::new())
        }
        Attempt::Refused {
            holder,
            status,
            after,
        } => {
            let text = exit_with_output(&holder, status);
            evidence.push(format!(
                "the tool gave up after {} ms: {text}",
                after.as_millis()
            ));
            (false, format!("refused ({text})"))
        }
        Attempt::Waiting { mut holder } => {
            holder.kill()?;
            evidence.push(format!(
                "the tool was still waiting after {}; stopped",
                secs(s.watch)
            ));
            (false, format!("waited ({}; stopped)", secs(s.watch)))
        }
    };
    let changed = snapshot::diff(&before, &snapshot::take(&lock_dir, &skip));
    evidence.push(format!(
        "in the lock dir afterwards: {}",
        changes_text(&changed)
    ));
    dev.resume();
    let applied = dev.wait_applied("r2", Instant::now() + s.timeout)?;
    evidence.push(format!("refsup resumed; r2 applied: {applied}"));
    let touched = changed.iter().any(|c| lock.ends_with(c.path()));
    let (status, finding) = if took && touched {
        (
            Status::Unsafe,
            format!(
                "took the lock while refsup {profile} held it, and changed refsup's lock: {}",
                changes_text(&changed)
            ),
        )
    } else if took {
        (
            Status::Unsafe,
            format!("took the lock while refsup {profile} held it"),
        )
    } else if touched {
        (
            Status::Unsafe,
            format!(
                "{behaviour}, but changed refsup's lock: {}",
                changes_text(&changed)
            ),
        )
    } else {
        (Status::Ok, behaviour)
    };
    Ok(ProbeResult::new(PROBE, TOOL_WAITS, status, finding).with_evidence(evidence))
}
