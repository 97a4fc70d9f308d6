//! A profile: one supervisor version on one OS version.

use std::fmt;
use std::str::FromStr;

use semver::Version;

use crate::{gate_table, Gate, ProfileError};

/// A supervisor version plus an OS version, e.g. `17.3.5@2.115.0`. Every
/// behaviour of the contract is a function of the profile; build one with
/// [`str::parse`], which refuses garbage and combinations that never existed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Profile {
    supervisor: Version,
    os: Version,
}

impl Profile {
    /// The supervisor version.
    pub fn supervisor(&self) -> &Version {
        &self.supervisor
    }

    /// The OS version.
    pub fn os(&self) -> &Version {
        &self.os
    }

    /// Whether `gate` is open for this profile, per `gates.toml`.
    pub fn has(&self, gate: Gate) -> bool {
        gate_table().is_open(gate, &self.supervisor, &self.os)
    }

    /// A warning when the supervisor is newer than every version the table
    /// was checked against: it is taken to behave like the newest known one.
    pub fn beyond_known(&self) -> Option<String> {
        let newest = &gate_table().newest_known;
        (self.supervisor > *newest).then(|| {
            format!(
                "supervisor {} is newer than the newest version the gate table was checked against ({newest}); assuming it behaves like {newest}",
                self.supervisor
            )
        })
    }

    /// Every gate with whether it is open, in table order (for reports).
    pub fn gates(&self) -> Vec<(Gate, bool)> {
        Gate::ALL.iter().map(|&g| (g, self.has(g))).collect()
    }
}

fn parse_version(profile: &str, which: &'static str, value: &str) -> Result<Version, ProfileError> {
    let value = value.trim();
    let value = value.strip_prefix('v').unwrap_or(value);
    Version::parse(value).map_err(|e| ProfileError::Version {
        profile: profile.to_string(),
        which,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

impl FromStr for Profile {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (sup, os) = s
            .split_once('@')
            .ok_or_else(|| ProfileError::Syntax(s.to_string()))?;
        Profile::new(
            parse_version(s, "supervisor", sup)?,
            parse_version(s, "OS", os)?,
        )
    }
}

impl Profile {
    /// Build a profile from versions, refusing unsupported combinations.
    pub fn new(supervisor: Version, os: Version) -> Result<Profile, ProfileError> {
        let profile = Profile { supervisor, os };
        if let Some(row) = gate_table().refusal(&profile.supervisor, &profile.os) {
            return Err(ProfileError::Unsupported {
                profile: profile.to_string(),
                reason: row.reason.clone(),
                gate: row.id.clone(),
                source_note: row.source.clone(),
            });
        }
        Ok(profile)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.supervisor, self.os)
    }
}

impl serde::Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Profile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
