//! Why a profile string was refused.

/// Every way a `supervisor@os` profile can be refused, each with a message a
/// user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The string is not `SUPERVISOR@OS`.
    #[error("profile '{0}' is not of the form SUPERVISOR@OS (e.g. 17.3.5@2.115.0)")]
    Syntax(String),
    /// One side is not a semantic version.
    #[error(
        "profile '{profile}': {which} version '{value}' is not a version like 1.2.3: {reason}"
    )]
    Version {
        /// The whole profile string.
        profile: String,
        /// `supervisor` or `OS`.
        which: &'static str,
        /// The offending text.
        value: String,
        /// What the version parser said.
        reason: String,
    },
    /// The combination never existed (a `refuse` row of the table matched).
    #[error("unsupported profile {profile}: {reason} (gate {gate}, source: {source_note})")]
    Unsupported {
        /// The profile as given.
        profile: String,
        /// The table's reason.
        reason: String,
        /// The refuse row's id.
        gate: String,
        /// Where the rule comes from.
        source_note: String,
    },
}
