//! The one table of update-lock version gates, and the [`Profile`] type that
//! answers every behaviour question of the contract from it.
//!
//! The reference supervisor (`refsup`) and the conformance suite both read this
//! crate, so what the reference does and what the suite promises can never
//! disagree: a correction to a gate is a one-line change to `gates.toml`.

#![warn(missing_docs)]

mod behaviour;
mod error;
mod gate;
mod lock_files;
mod profile;
mod readme;
mod table;

pub use behaviour::{OverrideName, OverrideSource, NOBODY_UID, ROOT_UID};
pub use error::ProfileError;
pub use gate::Gate;
pub use lock_files::{LockFile, LockLocation, LOCK_NAMES};
pub use profile::Profile;
pub use readme::readme_table;
pub use table::{gate_table, GateRow, GateTable, RefuseRow, VersionSet};
