//! The supervisor's lock discipline: which entries count as held under a
//! profile's rules, and taking all of an app's locks as a step machine that
//! does at most one mutating syscall per step, so a fuzzer can interleave
//! other lockers between any two steps.

mod held_locks;
mod rules;
mod take_all;

pub use held_locks::HeldLocks;
pub use rules::LockRules;
pub use take_all::{Blocked, Step, TakeAll};
