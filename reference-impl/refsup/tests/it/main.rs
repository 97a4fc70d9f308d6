//! The integration tests of `refsup`: one test binary (one link) whose
//! modules each cover one concern.

/// Bad input at the API: a 4xx with a message, never a panic.
mod api_input;
/// Bounded chaos: concurrent POSTs and API calls, SIGKILLs, restarts (issue 7).
mod chaos;
/// The command line: every user mistake is one line on stderr and exit 2.
mod cli;
mod common;
/// The Docker runtime against a real engine (skipped without one).
mod docker_runtime;
/// Hostile input and concurrency: one regression test per defect of issue 7.
mod hostile;
/// No service outlives refsup: SIGTERM right after a restart, harness marks.
mod leftovers;
/// A blocked retry never churns the lock dirs or spins.
mod no_spin;
/// API operations that take locks themselves: restarts and shutdown.
mod operations;
/// The process runtime against real processes: start, env, stop, adopt.
mod process_runtime;
/// End to end: target state, service running, lock, update, release.
mod smoke;
/// A forced take gives up on a lock that keeps coming back.
mod take_all_force_limit;
/// `TakeAll` against a small model (proptest-state-machine).
mod take_all_state_machine;
