//! One OS process hammering the lock path with one method until a deadline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lockgates::Profile;
use refsup::fault::Faults;
use refsup::locking::{LockRules, TakeAll};
use updatelock::Beneath;

use super::witness::Witness;
use crate::lock_race::method::{self, Method};

/// What a worker does.
#[derive(Debug, Clone)]
pub struct Job {
    /// `None`: the supervisor (refsup's `TakeAll` for 17.3.5@5.1.0).
    pub method: Option<Method>,
    /// The device root; the lock is `root/lock/updates.lock`.
    pub root: PathBuf,
    /// The witness log.
    pub log: PathBuf,
    /// Holder id in the log.
    pub id: String,
    /// Start and stop, as milliseconds since the epoch.
    pub start_ms: u128,
    /// See `start_ms`.
    pub stop_ms: u128,
    /// How long a holder stays in its critical section.
    pub hold: Duration,
    /// A stealer's staleness threshold.
    pub stale: Duration,
}

/// The lock path under `root`.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join("lock").join("updates.lock")
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// Run `job`; the number of critical sections entered.
pub fn work(job: &Job) -> Result<u64, String> {
    let path = lock_path(&job.root);
    let mut witness = Witness::open(&job.log, &job.id).map_err(|e| format!("witness: {e}"))?;
    let target = job.root.join("outside").join(&job.id);
    let rules = supervisor_rules(&job.root)?;
    while now_ms() < job.start_ms {
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut entered = 0;
    while now_ms() < job.stop_ms {
        match job.method {
            None => match TakeAll::new(vec![path.clone()], rules.clone(), false).run() {
                Ok(held) => {
                    entered += 1;
                    critical(&mut witness, job.hold)?;
                    held.release()
                        .map_err(|e| format!("supervisor release: {e}"))?;
                }
                Err(_) => pause(),
            },
            Some(method) => {
                let attempt = match method {
                    Method::StealStale => method::steal_stale(&path, job.stale),
                    m => method::lock(m, &path, &target),
                };
                if attempt.holds {
                    entered += 1;
                    critical(&mut witness, job.hold)?;
                    method::unlock(method, &path, attempt.flock);
                } else {
                    pause();
                }
            }
        }
    }
    Ok(entered)
}

fn critical(witness: &mut Witness, hold: Duration) -> Result<(), String> {
    witness.enter().map_err(|e| format!("witness: {e}"))?;
    let until = Instant::now() + hold;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    witness.leave().map_err(|e| format!("witness: {e}"))
}

/// Not taken: let the holder run.
fn pause() {
    std::thread::sleep(Duration::from_micros(50));
}

fn supervisor_rules(root: &Path) -> Result<LockRules, String> {
    let profile: Profile = "17.3.5@5.1.0".parse().map_err(|e| format!("{e}"))?;
    Ok(LockRules::new(
        &profile,
        &Faults::default(),
        Beneath::new(root),
    ))
}
