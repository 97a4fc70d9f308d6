//! The integration tests of `lockcheck`: one test binary (one link) whose
//! modules each cover one concern.

/// A run leaves nothing behind: cells that crash the supervisor, SIGINT, a
/// run after a killed one.
mod cleanup;
/// The lockcheck CLI: usage errors, output files, the CI gate, external targets, evidence.
mod cli;
mod common;
/// Containers on the real engine: refsup in a container, real tools inside services, the suite over the engine.
mod containers;
/// Expectations files: parsing, errors, applying to a report, stale entries.
mod expectations;
/// The fault catalogue: each injected bug caught by exactly its own cases.
mod faults;
/// `lockcheck gate` on the real lock tools from Debian's packages.
mod gate;
/// helios judged against its report (when HELIOS_BIN is set).
mod helios;
/// The conformance matrix: every case on every default profile.
mod matrix;
/// The case registry: exactly one case per SPEC id.
mod registry;
/// The four renderings of a report: human matrix, JSON, JUnit XML, HTML.
mod report_formats;
