//! Running cells (case x profile) in parallel, each on its own device and
//! scratch dir, each with a timeout, into a [`Report`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use lockgates::Profile;

use crate::case::{Case, Need};
use crate::ctx::Ctx;
use crate::outcome::{Outcome, Promise};
use crate::report::{CaseInfo, Cell, Report};
use crate::target::{DeviceOpts, Target};

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

/// Run every cell and collect the report.
pub fn run(target: Arc<dyn Target>, cfg: &RunConfig) -> Report {
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
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((case, profile)) = cells.get(i) else {
                    break;
                };
                bar.set_message(format!("{} on {profile}", case.id));
                let cell = run_cell(target.clone(), case, profile, cfg);
                results.lock().unwrap()[i] = Some(cell);
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

/// Run one cell on a fresh device; never panics, never hangs past the timeout.
pub fn run_cell(
    target: Arc<dyn Target>,
    case: &'static Case,
    profile: &Profile,
    cfg: &RunConfig,
) -> Cell {
    let promised = (case.promise)(profile);
    if promised == Promise::NotApplicable {
        return cell(
            case,
            profile,
            promised,
            Outcome::NotApplicable,
            Some("the behaviour does not exist in this profile".into()),
            0,
        );
    }
    if let Some(need) = case.needs.iter().find(|n| !target.offers(**n)) {
        return cell(
            case,
            profile,
            promised,
            Outcome::NotApplicable,
            Some(need.missing_reason().into()),
            0,
        );
    }
    let started = Instant::now();
    let work = match scratch_dir(case, profile, cfg) {
        Ok(work) => work,
        Err(e) => {
            return cell(
                case,
                profile,
                promised,
                Outcome::Fail,
                Some(format!("cannot create a scratch dir: {e}")),
                0,
            )
        }
    };
    let (tx, rx) = mpsc::channel();
    let (p, exe, dir) = (profile.clone(), cfg.exe.clone(), work.clone());
    let patience = cfg.patience;
    std::thread::spawn(move || {
        let _ = tx.send(execute(target, case, p, exe, dir, patience));
    });
    let ms = || started.elapsed().as_millis() as u64;
    let (mut c, finished) = match rx.recv_timeout(cfg.case_timeout) {
        Ok(Ok(metrics)) => {
            let outcome = if promised == Promise::Hazard {
                Outcome::Hazard
            } else {
                Outcome::Pass
            };
            let detail =
                (promised == Promise::Hazard).then(|| "documented hazard reproduced".to_string());
            let mut c = cell(case, profile, promised, outcome, detail, ms());
            c.metrics = metrics.into_iter().collect();
            (c, true)
        }
        Ok(Err(e)) => {
            let detail = format!("promised {}: {e}", promised_word(promised));
            (
                cell(case, profile, promised, Outcome::Fail, Some(detail), ms()),
                true,
            )
        }
        Err(_) => {
            let detail = format!(
                "timed out after {}s (the target hung?)",
                cfg.case_timeout.as_secs()
            );
            (
                cell(case, profile, promised, Outcome::Fail, Some(detail), ms()),
                false,
            )
        }
    };
    let keep = cfg.keep_all
        || c.outcome == Outcome::Fail
        || cfg
            .keep_cell
            .as_ref()
            .is_some_and(|k| k(case.id, &c.profile));
    if keep {
        c.evidence = Some(work.display().to_string());
    } else if finished {
        let _ = std::fs::remove_dir_all(&work);
    }
    c
}

/// A fresh scratch dir for one cell: `<runs_dir>/<case>-<profile>/` (made
/// unique), or a temp dir.
fn scratch_dir(case: &Case, profile: &Profile, cfg: &RunConfig) -> std::io::Result<PathBuf> {
    let prefix = format!("lockcheck-{}-{}-", case.id, profile);
    match &cfg.runs_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let name = format!("{}-{}", case.id, profile);
            let mut path = dir.join(&name);
            let mut n = 1;
            while let Err(e) = std::fs::create_dir(&path) {
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(e);
                }
                n += 1;
                path = dir.join(format!("{name}-{n}"));
            }
            Ok(path)
        }
        None => Ok(tempfile::Builder::new().prefix(&prefix).tempdir()?.keep()),
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
    target: Arc<dyn Target>,
    case: &'static Case,
    profile: Profile,
    exe: PathBuf,
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
    let mut ctx = Ctx::new(profile, device, work.clone(), exe, &opts);
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
