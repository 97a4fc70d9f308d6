//! The `api_body` target: bytes as the JSON body of every endpoint that
//! takes one, decoded by refsup's own extractor code
//! ([`refsup::api::check_body`]).
//!
//! Checked: no panic; an accepted body is whitespace only or exactly one
//! JSON value (serde_json's plain parser agrees it is JSON, and nothing
//! trails it) once invalid UTF-8 is replaced, as a Node body parser does:
//! serde skips the strings of fields a body type ignores without checking
//! their encoding; a rejection has a message; and decoding twice gives the
//! same answer.

use refsup::api::{check_body, Body};

/// Check one input against every body kind; `Err` names the broken rule.
pub fn check_api_body(bytes: &[u8]) -> Result<(), String> {
    let blank = bytes.iter().all(u8::is_ascii_whitespace);
    let json = serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(bytes)).is_ok();
    for body in Body::ALL {
        match check_body(body, bytes) {
            Ok(()) if !blank && !json => {
                return Err(format!(
                    "{body:?}: accepted a body that is not one JSON value"
                ))
            }
            Ok(()) => {}
            Err(message) if message.is_empty() => {
                return Err(format!("{body:?}: rejected with an empty message"))
            }
            Err(_) => {}
        }
        if check_body(body, bytes).is_ok() != check_body(body, bytes).is_ok() {
            return Err(format!("{body:?}: two decodes of the same bytes disagree"));
        }
    }
    Ok(())
}
