//! Bytes as a target-state JSON body, parsed and validated as refsup does;
//! see `lockcheck_fuzz::target_state` for the invariants.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockcheck_fuzz::check_target_state;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = check_target_state(data) {
        panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data));
    }
});
