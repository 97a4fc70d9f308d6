//! `lockcheck gate`: whether a lock tool is safe to share a lock path with
//! the supervisor (SPEC section 5). A tool is given as command templates
//! (or picked from the built-in profiles in `suite/tools/`); probes run
//! real copies of it against fresh temp dirs and a live reference
//! supervisor, and the verdict is computed from what they measured.
//!
//! - [`template`], [`tool`], [`profiles`]: what a tool is and how to drive it;
//! - [`sandbox`], [`snapshot`], [`critical`], [`witness`], [`holder`],
//!   [`spawn_guard`]: running copies of it and observing them from outside;
//! - [`probes`]: one file per probe; [`probe`]: their rows;
//! - [`verdict`], [`report`], [`run`]: deciding and telling;
//! - [`hold_cmd`]: `lockcheck hold`, the reference library as a tool.

pub mod critical;
pub mod hold_cmd;
pub mod holder;
pub mod installed;
pub mod probe;
pub mod probes;
pub mod profiles;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod snapshot;
pub mod spawn_guard;
pub mod template;
pub mod tool;
pub mod verdict;
pub mod witness;

pub use hold_cmd::HoldArgs;
pub use run::{run, GateArgs};
