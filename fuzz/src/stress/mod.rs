//! Real-process stress: N OS processes hammer one lock path with one method
//! for T seconds, beside one process taking the same path as the supervisor
//! does (refsup's `TakeAll`), and an independent witness ([`witness`])
//! counts how many held it at once. The kernel's answer is compared with
//! the explorer's verdict for the method ([`crate::explore`]): exclusive
//! create never shows two holders; touch, flock and stale stealing do.
//!
//! `cargo run --release --manifest-path fuzz/Cargo.toml --bin stress -- --method touch --procs 8 --secs 5`

pub mod witness;
mod worker;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use worker::{lock_path, work, Job};

use crate::explore::{explore, Config};
use crate::lock_race::Method;
use witness::Count;

/// A stress run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How the app processes lock.
    pub method: Method,
    /// How many app processes.
    pub procs: usize,
    /// How long.
    pub duration: Duration,
    /// Whether a supervisor process takes the path too.
    pub supervisor: bool,
    /// How long an app holds the lock each time.
    pub hold: Duration,
    /// How long the supervisor holds it (an update takes a while).
    pub supervisor_hold: Duration,
    /// The stealer's staleness threshold (5 minutes in the real tools).
    pub stale: Duration,
}

impl Options {
    /// 8 processes for 5 s, with the supervisor.
    pub fn new(method: Method) -> Options {
        Options {
            method,
            procs: 8,
            duration: Duration::from_secs(5),
            supervisor: true,
            hold: Duration::from_micros(200),
            supervisor_hold: Duration::from_millis(5),
            stale: Duration::from_millis(1),
        }
    }
}

/// What a run saw.
#[derive(Debug, Clone)]
pub struct Report {
    /// The witness' count.
    pub count: Count,
    /// Critical sections each process reported entering (supervisor last).
    pub entered: Vec<u64>,
    /// Whether the explorer finds a counterexample for the method.
    pub model_unsafe: bool,
}

impl Report {
    /// Whether the kernel showed what the model predicts: a safe method never
    /// had two holders, an unsafe one did.
    pub fn agrees(&self) -> bool {
        (self.count.max_holders > 1) == self.model_unsafe
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// Run `opts`, spawning `exe --worker ...` for each process.
pub fn run(exe: &Path, opts: &Options) -> Result<Report, String> {
    let model = explore(&Config::two_apps(opts.method))?;
    let dir = tempfile::Builder::new()
        .prefix("lock-stress-")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .map_err(|e| format!("temp dir: {e}"))?;
    let root = dir.path().join("root");
    for sub in ["lock", "outside"] {
        std::fs::create_dir_all(root.join(sub)).map_err(|e| format!("{sub}: {e}"))?;
    }
    let log = dir.path().join("witness.log");
    // Everyone starts together once all are spawned; the supervisor first,
    // so the apps meet its lock from the start.
    let start = now_ms() + 300;
    let stop = start + opts.duration.as_millis();
    let mut jobs: Vec<Job> = (0..opts.procs)
        .map(|i| Job {
            method: Some(opts.method),
            root: root.clone(),
            log: log.clone(),
            id: i.to_string(),
            start_ms: start + 20,
            stop_ms: stop,
            hold: opts.hold,
            stale: opts.stale,
        })
        .collect();
    if opts.supervisor {
        jobs.push(Job {
            method: None,
            id: "sup".into(),
            start_ms: start,
            hold: opts.supervisor_hold,
            ..jobs[0].clone()
        });
    }
    let children: Vec<Child> = jobs
        .iter()
        .map(|job| spawn(exe, job))
        .collect::<Result<_, _>>()?;
    let mut entered = Vec::new();
    let mut failed = Vec::new();
    for (job, child) in jobs.iter().zip(children) {
        let out = child
            .wait_with_output()
            .map_err(|e| format!("worker {}: {e}", job.id))?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.trim().parse::<u64>() {
            Ok(n) if out.status.success() => entered.push(n),
            _ => failed.push(format!(
                "worker {}: {} {}",
                job.id,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("; "));
    }
    let text = std::fs::read_to_string(&log).map_err(|e| format!("witness log: {e}"))?;
    Ok(Report {
        count: witness::count(&text)?,
        entered,
        model_unsafe: model.broken > 0,
    })
}

fn spawn(exe: &Path, job: &Job) -> Result<Child, String> {
    let method = job.method.map_or("supervisor", Method::name);
    Command::new(exe)
        .arg("--worker")
        .args([
            method.to_string(),
            job.root.display().to_string(),
            job.log.display().to_string(),
            job.id.clone(),
            job.start_ms.to_string(),
            job.stop_ms.to_string(),
            job.hold.as_micros().to_string(),
            job.stale.as_micros().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", exe.display()))
}

/// The job `--worker` arguments describe (as [`run`] passes them).
pub fn job_from_args(args: &[String]) -> Result<Job, String> {
    let [method, root, log, id, start, stop, hold, stale] = args else {
        return Err(format!("--worker takes 8 arguments, got {}", args.len()));
    };
    let num = |s: &str| s.parse::<u128>().map_err(|e| format!("{s:?}: {e}"));
    let micros = |s: &str| num(s).map(|n| Duration::from_micros(n as u64));
    Ok(Job {
        method: match method.as_str() {
            "supervisor" => None,
            name => Some(Method::from_name(name).ok_or_else(|| format!("no method {name:?}"))?),
        },
        root: root.into(),
        log: log.into(),
        id: id.clone(),
        start_ms: num(start)?,
        stop_ms: num(stop)?,
        hold: micros(hold)?,
        stale: micros(stale)?,
    })
}
