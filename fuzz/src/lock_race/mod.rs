//! The `lock_race` target: refsup's [`TakeAll`](refsup::locking::TakeAll),
//! stepped one syscall at a time, interleaved with apps taking the same
//! lock paths by every [`Method`] apps use (exclusive create, `mkdir`,
//! `symlink`, `touch`, `flock`, stale stealing), apps that crash while
//! holding, time passing, and supervisor crashes.
//!
//! After every op the paths that op can have changed are `lstat`ed (never
//! following links) and compared with the model, so every entry is known to
//! be a user's, the live supervisor's or a crashed one's; at the end of each
//! run the whole temp dir is walked once and must match (nothing appeared
//! anywhere else). Checked:
//!
//! - (a) a take that returns `Acquired` claims exactly the entries it
//!   created, one per lock path, each a regular file owned by the rules' uid
//!   (from 16.2.0 plus the crashed supervisor's nobody-owned files it
//!   adopted), and no user entry sits at any of its lock paths;
//! - (b) a take that ends `Blocked` leaves none of its entries behind, and no
//!   supervisor step removes an entry it did not create unless `force` is on
//!   and the entry is at one of its lock paths (never a directory where the
//!   profile cannot remove one);
//! - (c) the supervisor creates nothing but its lock paths, and one step
//!   changes at most one entry;
//! - (d) exclusion: no two apps believe they hold the same lock path, and
//!   while the supervisor holds every lock of a non-forced take (it kills the
//!   app's services next) no app believes it holds one of them;
//! - (e) no locker removes an entry whose creator still holds it.
//!
//! A break in a run where only compliant methods ([`Settings::compliant`],
//! by default the exclusive ones) acted is a bug ([`run`] returns `Err`).
//! A break after a non-compliant method acted is that method's
//! counterexample ([`Outcome::Unsafe`]), not a fuzzer crash.

mod checks;
mod fixture;
pub mod method;
mod model;
mod race;
mod settings;
mod stepper;
mod trace;

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use lockgates::Profile;
use refsup::fault::Faults;

pub use method::{Method, STALE_AFTER};
pub use settings::Settings;
pub use stepper::Stepper;
pub use trace::{table, Row};

use race::Race;

/// Every scenario runs under each profile: locks owned by nobody that adopt
/// a crashed supervisor's leftovers (16.2.0+), locks owned by nobody with no
/// adoption (13.1.0 - 16.1.x), and locks owned by root with one lock file and
/// unremovable directory locks (6.x).
pub const PROFILES: [&str; 3] = ["17.3.5@5.1.0", "15.0.0@2.80.0", "6.6.8@2.12.0"];
/// Ops past this many are ignored, to keep one input cheap: every
/// counterexample found so far needs fewer than 10, and a take of the
/// largest app needs 10 steps.
pub const MAX_OPS: usize = 32;
/// The app has `services % MAX_SERVICES + 1` services.
pub const MAX_SERVICES: u8 = 4;
/// Apps taking locks: `user % MAX_USERS`.
pub const MAX_USERS: u8 = 2;
/// Lock file names the users try, whichever the profile honours; `file`
/// indexes this modulo its length.
pub const FILES: [&str; 2] = ["updates.lock", "resin-updates.lock"];
const APP_ID: u32 = 1;
/// Steps allowed to finish a take after the last op.
const DRAIN_STEPS: usize = 10_000;

/// One fuzz input: an app and what happens to its locks. Its `Debug` output
/// is a reproducer: paste it into a test and call [`run`].
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The app has `services % 4 + 1` services (1..=4); the fuzz target
    /// runs it under `PROFILES[services / 4 % 3]` ([`run_one`]).
    pub services: u8,
    /// What happens, in order; the first [`MAX_OPS`] are used.
    pub ops: Vec<Op>,
}

/// One event. `user` is reduced modulo [`MAX_USERS`], `svc` modulo the
/// number of services and `file` modulo [`FILES`]`.len()`, so every value
/// is valid.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// One step of the running take (at most one syscall); when the
    /// supervisor holds all locks instead, it releases them (the update is
    /// applied); otherwise nothing.
    SupervisorStep,
    /// The supervisor starts taking all of the app's locks; ignored while a
    /// take runs or the locks are held (one operation per app).
    StartTake {
        /// Remove user entries in the way (O4); the users whose entries it
        /// removes are killed.
        force: bool,
    },
    /// The supervisor dies: its take and held locks are forgotten and the
    /// entries it made stay behind (the restart cleanup is not modelled).
    CrashSupervisor,
    /// App `user` takes the lock of service `svc`, file `file`, by `method`;
    /// ignored if it already believes it holds it.
    Take {
        /// Which app.
        user: u8,
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
        /// How.
        method: Method,
    },
    /// App `user` releases that lock the way the method it took it with
    /// does; nothing if it does not believe it holds it.
    Release {
        /// Which app.
        user: u8,
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
    },
    /// App `user` dies: its entries stay, its `flock`s end.
    CrashUser {
        /// Which app.
        user: u8,
    },
    /// Ten minutes pass: every entry at a lock path gets an mtime that much
    /// older (what a stale-lock stealer looks at).
    TimePasses,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every invariant held.
    Held,
    /// An invariant broke after a non-compliant method acted: the proof that
    /// the method is unsafe.
    Unsafe(Counterexample),
}

/// A broken invariant and what caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// The profile it broke under.
    pub profile: String,
    /// The index of the op after which it broke (`ops.len()` while
    /// finishing the take after the last op).
    pub op: usize,
    /// The broken invariant, in words.
    pub reason: String,
    /// The non-compliant methods that had acted by then.
    pub methods: Vec<Method>,
}

/// Decode fuzzer bytes as `fuzz_target!` does (`arbitrary_take_rest`);
/// `None` for bytes the fuzzer would skip.
pub fn scenario_from_bytes(data: &[u8]) -> Option<Scenario> {
    Scenario::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// [`PROFILES`], parsed once.
fn profiles() -> &'static [Profile] {
    static PARSED: OnceLock<Vec<Profile>> = OnceLock::new();
    PARSED.get_or_init(|| {
        PROFILES
            .iter()
            .map(|p| p.parse().expect("PROFILES are known profiles"))
            .collect()
    })
}

/// Run `s` under every profile of [`PROFILES`], without faults, with
/// [`Settings::global`]; the error names the profile, the op and the broken
/// invariant. A counterexample of a non-compliant method is `Ok`. What the
/// replay tests run.
pub fn run(s: &Scenario) -> Result<(), String> {
    for profile in profiles() {
        check(s, profile, &Faults::default(), Settings::global(), None)?;
    }
    Ok(())
}

/// Run `s` under the one profile its `services` byte picks
/// (`PROFILES[services / 4 % 3]`): what the fuzz target runs, a third of
/// [`run`]'s work, with the fuzzer choosing the profile like any other
/// input. [`run`] reproduces any failure of it.
pub fn run_one(s: &Scenario) -> Result<(), String> {
    let all = profiles();
    let profile = &all[usize::from(s.services / MAX_SERVICES) % all.len()];
    check(s, profile, &Faults::default(), Settings::global(), None).map(drop)
}

/// Run `s` with the lock rules of `profile` bent by `faults`, judged by
/// what `profile` promises (so a fault shows up as a broken invariant).
pub fn run_with(s: &Scenario, profile: &Profile, faults: &Faults) -> Result<(), String> {
    check(s, profile, faults, Settings::global(), None).map(drop)
}

/// The one run every entry point shares: `s` under `profile` and `faults`,
/// judged with `settings`, appending a row per syscall-level event to
/// `trace` when given.
pub fn check(
    s: &Scenario,
    profile: &Profile,
    faults: &Faults,
    settings: &Settings,
    trace: Option<&mut Vec<Row>>,
) -> Result<Outcome, String> {
    let mut race = Race::new(s.services, profile, faults, settings, trace.is_some())
        .map_err(|e| format!("{profile}: setup: {e}"))?;
    let result = race.run(&s.ops[..s.ops.len().min(MAX_OPS)]);
    if let Some(trace) = trace {
        trace.append(&mut race.take_trace());
    }
    result.map_err(|e| format!("{profile}: {e}"))
}
