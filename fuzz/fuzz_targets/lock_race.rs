//! refsup's `TakeAll`, one syscall per step, racing apps that lock by every
//! method; see `lockcheck_fuzz::lock_race` for the invariants. A
//! non-compliant method's counterexample is not a crash (`LOCK_RACE_COMPLIANT`
//! decides which methods count as compliant).

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockcheck_fuzz::{run_one, Scenario};

fuzz_target!(|scenario: Scenario| {
    if let Err(e) = run_one(&scenario) {
        panic!("{e}\nreproducer: {scenario:?}");
    }
});
