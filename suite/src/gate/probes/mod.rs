//! The probes, one per file, each against fresh temp dirs. `path` runs
//! first and doubles as the check that the tool can take a free lock at
//! all; if it cannot, every other probe is "could not run" with its reason.

pub mod contest;
pub mod existing_lock;
pub mod live;
pub mod live_device;
pub mod path;
pub mod plant;
pub mod race;
pub mod release;
pub mod stealing;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::Result;
use lockgates::Profile;

use super::critical::Stay;
use super::holder::{Event, Holder, Spec};
use super::probe::{ProbeResult, Status};
use super::sandbox::Sandbox;
use super::tool::Tool;

/// How hard the probes push, and against which supervisor.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Copies racing in each round of the race probe.
    pub copies: usize,
    /// Rounds of the race probe.
    pub rounds: usize,
    /// Longest a tool may take to take a free lock or to finish releasing;
    /// past it the probe says "could not run: timed out".
    pub timeout: Duration,
    /// How long a tool facing a held lock is watched before it counts as
    /// waiting (and is stopped); also the longest race round.
    pub watch: Duration,
    /// How long each race critical section stays inside.
    pub pulse: Duration,
    /// The supervisor profile: the owner of its locks and the live check's refsup.
    pub profile: Profile,
    /// The lockcheck executable (`{lockcheck}`, and refsup for the live check).
    pub lockcheck: PathBuf,
    /// Run the live check.
    pub live: bool,
}

/// A tool under probing.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// The tool.
    pub tool: &'a Tool,
    /// The settings.
    pub settings: &'a Settings,
}

/// What one attempt to take a lock came to.
#[derive(Debug)]
pub enum Attempt {
    /// It entered its critical section, `after` the start; still holding.
    Took {
        /// The holder, inside its critical section.
        holder: Holder,
        /// Time from start to entering.
        after: Duration,
    },
    /// It exited without entering.
    Refused {
        /// The exited holder.
        holder: Holder,
        /// Its exit status.
        status: ExitStatus,
        /// Time from start to exit.
        after: Duration,
    },
    /// Still neither when the limit passed (it is still running).
    Waiting {
        /// The running holder.
        holder: Holder,
    },
}

/// Why a tool cannot be probed at all.
#[derive(Debug, Clone)]
pub struct Unrunnable {
    /// [`Status::CouldNotRun`] or [`Status::NotInstalled`].
    pub status: Status,
    /// One line.
    pub reason: String,
}

impl Unrunnable {
    /// The row a probe gets when it could not run.
    pub fn row(&self, probe: &str) -> ProbeResult {
        ProbeResult::new(probe, "", self.status, self.reason.clone())
    }
}

impl Probe<'_> {
    /// Start one holder of the tool at `sandbox`'s lock path, staying in
    /// its critical section until let go, and wait up to `limit` for it to
    /// take the lock or give up.
    pub fn attempt(&self, sandbox: &Sandbox, id: &str, limit: Duration) -> Result<Attempt> {
        let path = sandbox.lock_path();
        self.attempt_at(sandbox, &path, id, limit)
    }

    /// [`Probe::attempt`] at any lock path (the live check's).
    pub fn attempt_at(
        &self,
        sandbox: &Sandbox,
        path: &std::path::Path,
        id: &str,
        limit: Duration,
    ) -> Result<Attempt> {
        let files = sandbox.gate();
        let witness = files.join(format!("{id}.witness"));
        let cwd = sandbox.work();
        let start = Instant::now();
        let mut holder = Holder::spawn(&Spec {
            tool: self.tool,
            path,
            files: &files,
            cwd: &cwd,
            id,
            witness: &witness,
            stay: Stay::UntilLetGo,
            lockcheck: &self.settings.lockcheck,
        })?;
        Ok(match holder.wait(start + limit)? {
            Event::Entered => Attempt::Took {
                holder,
                after: start.elapsed(),
            },
            Event::Exited(status) => Attempt::Refused {
                holder,
                status,
                after: start.elapsed(),
            },
            Event::TimedOut => Attempt::Waiting { holder },
        })
    }
}

/// `exit 1` or `killed by signal 9`.
pub fn exit_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

/// `exit 1: held: ...` with the tool's last line of output, if any.
pub fn exit_with_output(holder: &Holder, status: ExitStatus) -> String {
    match holder.last_output() {
        Some(line) => format!("{}: {line}", exit_text(status)),
        None => exit_text(status),
    }
}

/// Seconds with one decimal, for evidence.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Run `f` and stamp its rows with the wall time it took.
pub fn timed(f: impl FnOnce() -> Vec<ProbeResult>) -> Vec<ProbeResult> {
    let start = Instant::now();
    let mut rows = f();
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    for row in &mut rows {
        if row.duration_ms == 0 {
            row.duration_ms = ms;
        }
    }
    rows
}

/// A row for a probe that failed for a reason of the gate's own (e.g. no temp dir).
pub fn broken(probe: &str, case: &str, error: &anyhow::Error) -> ProbeResult {
    ProbeResult::new(probe, case, Status::CouldNotRun, format!("{error:#}"))
}

/// Run every probe on the tool: `path` first, then the rest in parallel.
pub fn run_all(probe: &Probe<'_>) -> Vec<ProbeResult> {
    const OTHERS: [&str; 5] = ["existing-lock", "race", "release", "stealing", "live"];
    let (path_row, unrunnable) = path::run(probe);
    let mut rows = vec![path_row];
    if let Some(why) = unrunnable {
        rows.extend(OTHERS.iter().map(|p| why.row(p)));
        return rows;
    }
    let results: Vec<Vec<ProbeResult>> = std::thread::scope(|s| {
        let handles = [
            s.spawn(|| existing_lock::run(probe)),
            s.spawn(|| race::run(probe)),
            s.spawn(|| release::run(probe)),
            s.spawn(|| stealing::run(probe)),
            s.spawn(|| live::run(probe)),
        ];
        handles
            .into_iter()
            .zip(OTHERS)
            .map(|(h, name)| {
                h.join().unwrap_or_else(|_| {
                    vec![ProbeResult::new(
                        name,
                        "",
                        Status::CouldNotRun,
                        "the probe crashed (a bug in lockcheck)",
                    )]
                })
            })
            .collect()
    });
    rows.extend(results.into_iter().flatten());
    rows
}
