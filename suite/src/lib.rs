//! `lockcheck`: the black-box conformance suite for update locks. It judges a
//! supervisor (the embedded reference or any other) only by what is visible
//! from outside: the HTTP API, the files under its root, and the processes it
//! runs, case by case (one per SPEC behaviour) and profile by profile.

#![warn(missing_docs)]

pub mod case;
pub mod cases;
pub mod cleanup;
pub mod cli;
pub mod client;
pub mod ctx;
pub mod exit_codes;
pub mod expectations;
pub mod gate;
pub mod outcome;
pub mod profiles;
pub mod release;
pub mod report;
pub mod runner;
pub mod steps;
pub mod sut;
