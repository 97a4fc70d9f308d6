//! App ids, service names and config vars; see `lockcheck_fuzz::names`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockcheck_fuzz::{check_names, Names};

fuzz_target!(|names: Names| {
    if let Err(e) = check_names(&names) {
        panic!("{e}\ninput: {names:?}");
    }
});
