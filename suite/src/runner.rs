//! Running cells (case x profile) in parallel, each on its own device and
//! scratch dir, each with a timeout, into a [`Report`]. A cell ends by
//! killing everything it started and removing its scratch dir (unless it is
//! kept as evidence), whether it passed, failed, hung or was interrupted
//! (see [`crate::cleanup`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use lockgates::Profile;

use crate::case::{Case, Need};
use crate::cleanup::{CellGuard, Interrupt};
use crate::ctx::Ctx;
use crate::outcome::{Outcome, Promise};
use crate::report::{CaseInfo, Cell, Report};
use crate::sut::{DeviceOpts, Sut};

/// How a run goes.
#[derive(Clone)]
pub struct RunConfig {
    /// Columns.
    pub profiles: Vec<Profile>,
    /// Rows.
    pub cases: Vec<&'static Case>,
    /// Cells at once.
    pub jobs: usize,
    /// Longest a cell may take before it is failed as hung.
    pub case_timeout: Duration,
    /// The lockcheck executable (services run `lockcheck fixture`).
    pub exe: PathBuf,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Faults the target runs with (for the report).
    pub faults: Vec<String>,
    /// How long cases wait for events and watch for non-events.
    pub patience: crate::ctx::Patience,
    /// Where cells keep their scratch dirs (`<runs_dir>/<case>-<profile>/`):
    /// a failing cell's dir stays as evidence. `None`: the system temp dir.
    pub runs_dir: Option<PathBuf>,
    /// Keep every cell's dir, passing ones too (`--keep`).
    pub keep_all: bool,
    /// Cells to keep whatever their outcome (known failures, which may
    /// turn out an unexpected pass).
    pub keep_cell: Option<KeepCell>,
    /// The flags a re-run command repeats (see [`Report::rerun_flags`]).
    pub rerun_flags: Option<String>,
}

/// Decides from (case id, profile) whether a cell's dir is kept.
pub type KeepCell = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// How long a hung or interrupted cell's case body gets to notice that its
/// device was killed before its cell is cleaned up anyway.
const WORKER_GRACE: Duration = Duration::from_secs(5);

/// Run every cell and collect the report.
pub fn run(target: Arc<dyn Sut>, cfg: &RunConfig) -> Report {
    run_until(target, cfg, &Interrupt::new())
}

/// Run every cell until `stop` is triggered; then no cell starts any more,
/// the running ones are killed and cleaned up, and the report holds the
/// cells that finished (the others show as not run).
pub fn run_until(target: Arc<dyn Sut>, cfg: &RunConfig, stop: &Interrupt) -> Report {
    let started = Instant::now();
    let cells: Vec<(&'static Case, Profile)> = cfg
        .cases
        .iter()
        .flat_map(|c| cfg.profiles.iter().map(move |p| (*c, p.clone())))
        .collect();
    let bar = if cfg.progress {
        ProgressBar::new(cells.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Cell>>> = Mutex::new(vec![None; cells.len()]);
    let jobs = cfg.jobs.clamp(1, target.max_jobs());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if stop.is_set() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((case, profile)) = cells.get(i) else {
                    break;
                };
                bar.set_message(format!("{} on {profile}", case.id));
                let cell = run_cell_until(target.clone(), case, profile, cfg, stop);
                results.lock().unwrap()[i] = cell;
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    Report {
        target: target.describe(),
        faults: cfg.faults.clone(),
        profiles: cfg.profiles.iter().map(|p| p.to_string()).collect(),
        cases: cfg
            .cases
            .iter()
            .map(|c| CaseInfo {
                id: c.id.into(),
                name: c.short_name().into(),
                title: c.title.into(),
                spec: c.spec.into(),
            })
            .collect(),
        cells: results
            .into_inner()
            .unwrap()
            .into_iter()
            .flatten()
            .collect(),
        wall_ms: started.elapsed().as_millis() as u64,
        rerun_flags: cfg.rerun_flags.clone(),
    }
}

fn cell(
    case: &Case,
    profile: &Profile,
    promised: Promise,
    outcome: Outcome,
    detail: Option<String>,
    ms: u64,
) -> Cell {
    Cell {
        case: case.id.into(),
        profile: profile.to_string(),
        promised,
        outcome,
        detail,
        expected_failure: false,
        unexpected_pass: false,
        duration_ms: ms,
        metrics: Default::default(),
        evidence: None,
    }
}

/// Run one cell on a fresh device; never panics, never hangs past the
/// timeout (plus a few seconds of clean-up), leaves nothing behind but its
/// kept scratch dir.
pub fn run_cell(
    target: Arc<dyn Sut>,
    case: &'static Case,
    profile: &Profile,
    cfg: &RunConfig,
) -> Cell {
    run_cell_until(target, case, profile, cfg, &Interrupt::new())
        .expect("only an interrupt leaves a cell unfinished")
}

/// What a running cell hears.
enum Event {
    /// Its body returned.
    Done(Result<Metrics, String>),
    /// The run was interrupted.
    Interrupted,
}

/// How a cell ended.
enum Ended {
    /// Its body returned (or could not start).
    Finished(Result<Metrics, String>),
    /// It ran past the case timeout.
    TimedOut,
    /// The run was interrupted first.
    Interrupted,
}

/// [`run_cell`], or `None` if `stop` interrupted it (it is then killed and
/// cleaned up all the same, its dir not kept).
pub fn run_cell_until(
    target: Arc<dyn Sut>,
    case: &'static Case,
    profile: &Profile,
    cfg: &RunConfig,
    stop: &Interrupt,
) -> Option<Cell> {
    let promised = (case.promise)(profile);
    if promised == Promise::NotApplicable {
        return Some(cell(
            case,
            profile,
            promised,
            Outcome::NotApplicable,
            Some("the behaviour does not exist in this profile".into()),
            0,
        ));
    }
    if let Some(need) = case.needs.iter().find(|n| !target.offers(**n)) {
        return Some(cell(
            case,
            profile,
            promised,
            Outcome::NotApplicable,
            Some(need.missing_reason().into()),
            0,
        ));
    }
    let started = Instant::now();
    let guard = match CellGuard::new(case.id, &profile.to_string(), cfg.runs_dir.as_deref()) {
        Ok(guard) => Arc::new(guard),
        Err(e) => {
            let detail = format!("cannot create a scratch dir: {e}");
            return Some(cell(
                case,
                profile,
                promised,
                Outcome::Fail,
                Some(detail),
                0,
            ));
        }
    };
    let (tx, rx) = mpsc::channel();
    let tell = tx.clone();
    let _listening = stop.register(move || {
        let _ = tell.send(Event::Interrupted);
    });
    let (p, dir) = (profile.clone(), guard.dir().to_path_buf());
    let patience = cfg.patience;
    // The worker holds the guard too: if it outlives the wait below, the
    // cell is cleaned up again once it is done.
    let work = Arc::clone(&guard);
    std::thread::spawn(move || {
        let result = execute(target, case, p, dir, patience);
        let _ = tx.send(Event::Done(result));
        drop(work);
    });
    let ended = match rx.recv_timeout(cfg.case_timeout) {
        Ok(Event::Done(Ok(metrics))) => Ended::Finished(Ok(metrics)),
        // A body that failed because of the interrupt (Ctrl-C reaches the
        // supervisor too) did not finish either.
        Ok(Event::Done(Err(e))) if !stop.is_set() => Ended::Finished(Err(e)),
        Ok(_) => Ended::Interrupted,
        Err(RecvTimeoutError::Timeout) => Ended::TimedOut,
        Err(RecvTimeoutError::Disconnected) => {
            Ended::Finished(Err("the cell's worker vanished".into()))
        }
    };
    let ms = started.elapsed().as_millis() as u64;
    if !matches!(ended, Ended::Finished(_)) {
        // Kill its device so the body fails fast, and give the body a
        // moment to stop using the scratch dir.
        guard.kill();
        let deadline = Instant::now() + WORKER_GRACE;
        while let Ok(event) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if matches!(event, Event::Done(_)) {
                break;
            }
        }
    }
    let (outcome, detail, metrics) = match ended {
        Ended::Interrupted => {
            finish(&guard);
            return None;
        }
        Ended::Finished(Ok(metrics)) if promised == Promise::Hazard => (
            Outcome::Hazard,
            Some("documented hazard reproduced".to_string()),
            metrics,
        ),
        Ended::Finished(Ok(metrics)) => (Outcome::Pass, None, metrics),
        Ended::Finished(Err(e)) => (
            Outcome::Fail,
            Some(format!("promised {}: {e}", promised_word(promised))),
            Vec::new(),
        ),
        Ended::TimedOut => (
            Outcome::Fail,
            Some(format!(
                "timed out after {}s (the target hung?)",
                cfg.case_timeout.as_secs()
            )),
            Vec::new(),
        ),
    };
    let mut c = cell(case, profile, promised, outcome, detail, ms);
    c.metrics = metrics.into_iter().collect();
    let keep = cfg.keep_all
        || c.outcome == Outcome::Fail
        || cfg
            .keep_cell
            .as_ref()
            .is_some_and(|k| k(case.id, &c.profile));
    if keep {
        guard.keep(true);
        c.evidence = Some(guard.dir().display().to_string());
        // The verdict beside the logs, so the dir alone tells the story.
        let verdict = format!(
            "{} on {}: {} (promised {})\n{}\n",
            case.id,
            c.profile,
            c.outcome.label(),
            promised_word(promised),
            c.detail.as_deref().unwrap_or("")
        );
        if let Err(e) = std::fs::write(guard.dir().join("verdict.txt"), verdict) {
            eprintln!(
                "lockcheck: warning: cannot write the verdict into {}: {e}",
                guard.dir().display()
            );
        }
    }
    finish(&guard);
    Some(c)
}

/// End a cell: its processes killed, its dir removed unless kept.
fn finish(guard: &CellGuard) {
    if let Err(e) = guard.finish() {
        eprintln!(
            "lockcheck: warning: cannot clean up {}: {e}",
            guard.dir().display()
        );
    }
}

fn promised_word(p: Promise) -> &'static str {
    match p {
        Promise::Pass => "pass",
        Promise::Hazard => "the documented hazard",
        Promise::NotApplicable => "n/a",
    }
}

type Metrics = Vec<(String, f64)>;

fn execute(
    target: Arc<dyn Sut>,
    case: &'static Case,
    profile: Profile,
    work: PathBuf,
    patience: crate::ctx::Patience,
) -> Result<Metrics, String> {
    let opts = DeviceOpts {
        pause_file: case
            .needs
            .contains(&Need::PauseHook)
            .then(|| work.join("pause-after-lock")),
        step_pause_file: case
            .needs
            .contains(&Need::StepPauseHook)
            .then(|| work.join("pause-between-steps")),
    };
    let device = target
        .device(&profile, &work, &opts)
        .map_err(|e| format!("cannot start the device: {e:#}"))?;
    let mut ctx = Ctx::new(profile, device, work.clone(), &opts);
    ctx.patience = patience;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.body)(&mut ctx)));
    let metrics = std::mem::take(&mut ctx.metrics);
    drop(ctx);
    match result {
        Ok(Ok(())) => Ok(metrics),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("the case panicked (a bug in lockcheck)".into()),
    }
}
