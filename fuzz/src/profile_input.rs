//! The `profile` target: a string as a `SUP@OS` profile, as `--profile`,
//! the expectations file and every report read it.
//!
//! Checked for every string that parses: it prints back to a string that
//! parses to the same profile (also through serde); every gate and every
//! behaviour question answers without a panic; the lock owner is root or
//! nobody; lock paths stay relative plain names. A refusal has a message.

use std::path::Component;

use lockgates::Profile;

/// Check one input; `Err` names the broken rule.
pub fn check_profile(text: &str) -> Result<(), String> {
    let profile: Profile = match text.parse() {
        Ok(p) => p,
        Err(e) if e.to_string().is_empty() => {
            return Err(format!("{text:?}: refused with an empty message"))
        }
        Err(_) => return Ok(()),
    };
    let shown = profile.to_string();
    match shown.parse::<Profile>() {
        Ok(again) if again == profile => {}
        other => {
            return Err(format!(
                "{text:?} prints as {shown:?}, which parses to {other:?}"
            ))
        }
    }
    let json = serde_json::to_string(&profile).map_err(|e| format!("serialising: {e}"))?;
    match serde_json::from_str::<Profile>(&json) {
        Ok(again) if again == profile => {}
        other => return Err(format!("{text:?}: serde round trip gave {other:?}")),
    }
    let _ = profile.gates();
    let _ = profile.beyond_known();
    let uid = profile.lock_owner_uid();
    if uid != lockgates::ROOT_UID && uid != lockgates::NOBODY_UID {
        return Err(format!("{shown}: lock owner uid {uid}"));
    }
    for file in profile.lock_files() {
        let path = profile.lock_path(1, "main", &file);
        if !path.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(format!(
                "{shown}: lock path {} is not relative plain names",
                path.display()
            ));
        }
    }
    let _ = (
        profile.override_names(),
        profile.lock_env_vars(),
        profile.retry_delay(u32::MAX),
        profile.ignored_lock_files(),
    );
    Ok(())
}
