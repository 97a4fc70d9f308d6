//! `refsup`, the reference supervisor: the update-lock contract of
//! `shared/SPEC.md` as each supervisor version behaved (read from the one gate
//! table in `lockgates`), behind the real supervisor's HTTP API.
//!
//! Layers, each usable alone:
//! - [`locking`]: the supervisor's lock discipline as a step machine (one
//!   syscall per step) so a fuzzer can interleave it with other lockers;
//! - [`engine`]: reconciling the device to its target state;
//! - [`runtime`]: the seam services run behind (child processes, or
//!   containers on a Docker engine);
//! - [`api`]: the HTTP API;
//! - [`cli`]: the `refsup` command line.

#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod engine;
pub mod fault;
pub mod launch;
pub mod layout;
pub mod locking;
pub mod runtime;
pub mod store;
pub mod target;
