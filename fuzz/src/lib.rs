//! The bodies of the fuzz targets, as a library so a plain `#[test]` on
//! stable replays the committed corpus and the hand-written scenarios
//! (`tests/replay.rs`) through exactly the code the fuzzer runs.
//!
//! - [`lock_race`]: refsup's `TakeAll`, stepped one syscall at a time,
//!   interleaved with apps locking by every method on a temp dir ([`run`]).
//! - [`target_state`]: hostile JSON through `TargetState` parsing and
//!   `validate()` ([`check_target_state`]).
//! - [`api_body`], [`profile_input`], [`names`]: every API request body,
//!   the `SUP@OS` profile parser, app ids, service names and config vars.
//! - [`explore`]: every schedule of a small configuration, and the shortest
//!   counterexample; [`schedule`]: the text form that replays a run.
//! - [`stress`]: real processes hammering one path, counted by a witness.

pub mod api_body;
pub mod explore;
pub mod lock_race;
pub mod names;
pub mod profile_input;
pub mod schedule;
pub mod stress;
pub mod target_state;

pub use api_body::check_api_body;
pub use lock_race::{
    check, run, run_one, run_with, scenario_from_bytes, Counterexample, Method, Op, Outcome, Row,
    Scenario, Settings,
};
pub use names::{check_names, Names};
pub use profile_input::check_profile;
pub use target_state::check_target_state;
