//! Exhaustive exploration of small configurations: every interleaving of
//! the supervisor's take (one syscall per step) with two apps' few ops, each
//! run on the real filesystem through the same checks as the fuzzer
//! ([`crate::lock_race`]). It proves a method safe for a configuration (no
//! schedule breaks an invariant) or finds its shortest counterexample.
//!
//! No partial-order reduction: the configurations are small enough to run
//! every schedule (hundreds to a few thousand) in seconds.

mod dfs;

pub use dfs::Dfs;

use lockgates::Profile;
use refsup::fault::Faults;

use crate::lock_race::{Method, Op, Outcome, Row, Settings, Stepper};
use crate::schedule::{encode, Schedule};

/// A configuration: a profile, the supervisor's take, and two apps'
/// programs (the ops each runs in order).
#[derive(Debug, Clone)]
pub struct Config {
    /// Which supervisor.
    pub profile: Profile,
    /// The scenario's services byte (`0` is one service).
    pub services: u8,
    /// Whether the supervisor's take is forced.
    pub force: bool,
    /// App 0's and app 1's ops.
    pub apps: [Vec<Op>; 2],
}

impl Config {
    /// The default configuration: 17.3.5@5.1.0, one service, a non-forced
    /// take, and both apps locking `updates.lock` by `method` then
    /// releasing it; a stealer first lets ten minutes pass (an update that
    /// takes long, or a lock left behind).
    pub fn two_apps(method: Method) -> Config {
        let app = |user: u8| {
            let mut ops = Vec::new();
            if method == Method::StealStale {
                ops.push(Op::TimePasses);
            }
            ops.push(Op::Take {
                user,
                svc: 0,
                file: 0,
                method,
            });
            ops.push(Op::Release {
                user,
                svc: 0,
                file: 0,
            });
            ops
        };
        Config {
            profile: "17.3.5@5.1.0".parse().expect("a known profile"),
            services: 0,
            force: false,
            apps: [app(0), app(1)],
        }
    }
}

/// What exploring a configuration found.
#[derive(Debug)]
pub struct Report {
    /// Complete schedules run (each to its end or to its first break).
    pub schedules: usize,
    /// Schedules that broke an invariant.
    pub broken: usize,
    /// The shortest of those (fewest ops; the first found among equals).
    pub shortest: Option<Found>,
}

/// One counterexample.
#[derive(Debug, Clone)]
pub struct Found {
    /// The run, replayable with `replay`.
    pub schedule: Schedule,
    /// The broken invariant.
    pub reason: String,
}

impl Found {
    /// The run again, traced: step, locker, syscall, result.
    pub fn trace(&self) -> Result<Vec<Row>, String> {
        replay(&self.schedule).map(|(_, rows)| rows)
    }

    /// The one-line command that replays it.
    pub fn command(&self) -> String {
        format!(
            "cargo run --manifest-path fuzz/Cargo.toml --bin replay -- '{}'",
            encode(&self.schedule)
        )
    }
}

/// Run `schedule` once, traced. Every method counts as compliant, so any
/// break is reported as `Err`.
pub fn replay(schedule: &Schedule) -> Result<(Result<Outcome, String>, Vec<Row>), String> {
    let profile: Profile = schedule.profile.parse().map_err(|e| format!("{e}"))?;
    let settings = Settings::all_compliant();
    let mut run = Stepper::new(
        schedule.scenario.services,
        &profile,
        &Faults::default(),
        &settings,
        true,
    )?;
    for op in &schedule.scenario.ops {
        if !run.apply(*op) {
            break;
        }
    }
    Ok(run.finish())
}

/// Every schedule of `config`.
pub fn explore(config: &Config) -> Result<Report, String> {
    let settings = Settings::all_compliant();
    let faults = Faults::default();
    let mut dfs = Dfs::new();
    let mut report = Report {
        schedules: 0,
        broken: 0,
        shortest: None,
    };
    while dfs.begin() {
        report.schedules += 1;
        let mut run = Stepper::new(config.services, &config.profile, &faults, &settings, false)?;
        let mut pc = [0usize; 2];
        let mut started = false;
        let mut ops = Vec::new();
        let mut ok = true;
        loop {
            // Actors that can go: the supervisor (start, then step while its
            // take runs or its locks are held), and each app with ops left.
            let mut ready: Vec<Option<usize>> = Vec::with_capacity(3);
            if !started || run.supervisor_busy() {
                ready.push(None);
            }
            for (app, ops) in config.apps.iter().enumerate() {
                if pc[app] < ops.len() {
                    ready.push(Some(app));
                }
            }
            if ready.is_empty() {
                break;
            }
            let op = match ready[dfs.choose(ready.len())] {
                None if !started => {
                    started = true;
                    Op::StartTake {
                        force: config.force,
                    }
                }
                None => Op::SupervisorStep,
                Some(app) => {
                    pc[app] += 1;
                    config.apps[app][pc[app] - 1]
                }
            };
            ops.push(op);
            if !run.apply(op) {
                ok = false;
                break;
            }
        }
        let (outcome, _) = run.finish();
        let reason = match outcome {
            Ok(Outcome::Held) if ok => continue,
            Ok(Outcome::Held) => "a break the judge did not report".to_string(),
            Ok(Outcome::Unsafe(c)) => c.reason,
            Err(reason) => reason,
        };
        report.broken += 1;
        if report
            .shortest
            .as_ref()
            .is_none_or(|f| ops.len() < f.schedule.scenario.ops.len())
        {
            report.shortest = Some(Found {
                schedule: Schedule {
                    profile: config.profile.to_string(),
                    scenario: crate::lock_race::Scenario {
                        services: config.services,
                        ops,
                    },
                },
                reason,
            });
        }
    }
    Ok(report)
}
