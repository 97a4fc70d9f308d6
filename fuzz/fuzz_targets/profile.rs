//! A string as a `SUP@OS` profile; see `lockcheck_fuzz::profile_input`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockcheck_fuzz::check_profile;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = check_profile(text) {
            panic!("{e}");
        }
    }
});
