//! What a profile promises for a case, and what a run saw.

use serde::{Deserialize, Serialize};

/// What a profile promises for one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Promise {
    /// The target must do what the contract says.
    Pass,
    /// The profile has a documented unsafe behaviour; the target must
    /// reproduce it (reported, not failed).
    Hazard,
    /// The behaviour does not exist in this profile.
    NotApplicable,
}

impl Promise {
    /// `Hazard` when the profile has the documented unsafe behaviour, else `Pass`.
    pub fn hazard_if(hazard: bool) -> Promise {
        if hazard {
            Promise::Hazard
        } else {
            Promise::Pass
        }
    }

    /// `promise` where the behaviour exists in the profile, else `NotApplicable`.
    pub fn applies_if(exists: bool, promise: Promise) -> Promise {
        if exists {
            promise
        } else {
            Promise::NotApplicable
        }
    }
}

/// The result of one cell (case x profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The target did what the profile promises.
    Pass,
    /// It did not.
    Fail,
    /// It reproduced the documented hazard the profile promises.
    Hazard,
    /// Not run: the behaviour does not exist in the profile, or the target
    /// cannot show it (the detail says which).
    NotApplicable,
}

impl Outcome {
    /// The matrix cell text: `pass`, `FAIL`, `hazard`, `n/a`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Hazard => "hazard",
            Outcome::NotApplicable => "n/a",
        }
    }

    /// Whether the promise was met (everything but a failure).
    pub fn met(self) -> bool {
        self != Outcome::Fail
    }
}
