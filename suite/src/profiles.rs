//! The default profile set: every version gate on both sides.

use anyhow::Result;
use lockgates::Profile;

/// Profiles `lockcheck run` uses when none is given: every gate of
/// `gates.toml` has a profile on each side of its boundary (a test checks).
pub const DEFAULT_PROFILES: &[&str] = &[
    "1.2.1@1.0.0",
    "2.4.0@1.20.0",
    "2.8.2@1.20.0",
    "4.1.1@1.26.0",
    "4.1.1@2.0.6",
    "6.6.8@2.9.0",
    "7.16.6@2.15.1",
    "7.22.0@2.26.0",
    "7.25.0@2.29.0",
    "9.3.0@2.29.2",
    "9.15.7@2.31.5",
    "12.11.34@2.85.0",
    "13.1.0@2.88.0",
    "14.4.10@2.95.0",
    "16.2.8@2.113.0",
    "16.2.9@2.113.0",
    "16.5.0@2.113.0",
    "16.12.7@4.0.0",
    "17.3.5@5.1.0",
];

/// Parse profile strings, naming the first bad one.
/// A supervisor newer than the gate table knows is run as the newest known
/// one, with a warning line on stderr.
pub fn parse_all(list: &[String]) -> Result<Vec<Profile>> {
    let profiles = list
        .iter()
        .map(|s| s.parse::<Profile>().map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<Result<Vec<Profile>>>()?;
    for p in &profiles {
        if let Some(warning) = p.beyond_known() {
            eprintln!("lockcheck: warning: {warning}");
        }
    }
    Ok(profiles)
}

/// The default set, parsed.
pub fn defaults() -> Vec<Profile> {
    DEFAULT_PROFILES
        .iter()
        .map(|p| p.parse().expect("default profiles are valid"))
        .collect()
}
