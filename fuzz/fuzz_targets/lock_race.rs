//! refsup's `TakeAll`, one syscall per step, racing user lockers; see
//! `lockcheck_fuzz::lock_race` for the invariants.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockcheck_fuzz::{run, Scenario};

fuzz_target!(|scenario: Scenario| {
    if let Err(e) = run(&scenario) {
        panic!("{e}\nreproducer: {scenario:?}");
    }
});
