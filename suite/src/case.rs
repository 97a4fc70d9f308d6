//! A conformance case: a plain `fn` with `#[case(...)]` on it
//! (`lockcheck-macros`), which registers it with its metadata (SPEC id,
//! title, its doc comment as the SPEC text it checks, what each profile
//! promises, what it needs from the target) for `inventory` to collect.

use lockgates::Profile;

use crate::ctx::Ctx;
use crate::outcome::Promise;

/// What a case needs from a target beyond the API and the root's files. A
/// target that lacks it gets `n/a` with the reason, never a quiet pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The `--pause-after-lock` test hook (pause between taking locks and killing).
    PauseHook,
    /// The `--pause-between-steps` test hook (pause after one locking step
    /// released its locks, before the next takes them).
    StepPauseHook,
    /// Killing and restarting the supervisor process.
    Restart,
}

impl Need {
    /// Why a target without it cannot run the case.
    pub fn missing_reason(self) -> &'static str {
        match self {
            Need::PauseHook => "target has no pause-after-lock hook",
            Need::StepPauseHook => "target has no pause-between-steps hook",
            Need::Restart => "the suite cannot restart this target's supervisor",
        }
    }
}

/// A case body: Ok when the target did what the profile promises; an error
/// says what was expected and what was seen.
pub type CaseResult = anyhow::Result<()>;

/// One conformance case.
pub struct Case {
    /// SPEC id, e.g. `L1`.
    pub id: &'static str,
    /// Module path of its body, e.g. `locking::l1_exclusive`.
    pub name: &'static str,
    /// Short title.
    pub title: &'static str,
    /// The SPEC text it checks.
    pub spec: &'static str,
    /// What a profile promises (the n/a profiles are not run).
    pub promise: fn(&Profile) -> Promise,
    /// What the target must offer.
    pub needs: &'static [Need],
    /// The check.
    pub body: fn(&mut Ctx) -> CaseResult,
}

inventory::collect!(Case);

impl Case {
    /// The case name without the crate prefix.
    pub fn short_name(&self) -> &'static str {
        self.name
            .strip_prefix("lockcheck::cases::")
            .unwrap_or(self.name)
    }
}

/// Every SPEC behaviour id, in SPEC order: each must have exactly one case.
pub const SPEC_IDS: &[&str] = &[
    "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "P1", "P2", "P3", "P4", "P5", "U1", "U2",
    "U3", "U4", "U5", "R1", "R2", "R3", "R4", "R5", "O1", "O2", "O3", "O4", "C1", "C2", "C3",
];

/// Every registered case, in SPEC order.
pub fn all() -> Vec<&'static Case> {
    let mut cases: Vec<&'static Case> = inventory::iter::<Case>.into_iter().collect();
    cases.sort_by_key(|c| {
        SPEC_IDS
            .iter()
            .position(|id| *id == c.id)
            .unwrap_or(usize::MAX)
    });
    cases
}
