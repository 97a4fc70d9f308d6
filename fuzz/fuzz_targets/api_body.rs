//! Bytes as the JSON body of every API endpoint that takes one; see
//! `lockcheck_fuzz::api_body`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lockcheck_fuzz::check_api_body;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = check_api_body(data) {
        panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data));
    }
});
