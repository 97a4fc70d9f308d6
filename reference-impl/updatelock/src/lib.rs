//! Reference implementation of *update locks*: taking, releasing and
//! inspecting the lock file an app uses to tell its device supervisor "do not
//! kill me now".
//!
//! The contract (`SPEC.md`, section 1) is deliberately simple:
//!
//! - a lock is **held** when *any* filesystem entry exists at the lock path
//!   (regular file, directory, symlink, ...), checked with `lstat`, never
//!   following links ([`is_held`], [`inspect`]);
//! - the only safe way to take one is an **exclusive create**,
//!   `open(O_CREAT|O_EXCL|O_NOFOLLOW)`, which fails if anything is there
//!   ([`take`]);
//! - releasing removes whatever entry is there, again without following links
//!   ([`release`], [`Lock::release`]).
//!
//! The crate knows nothing about supervisors, apps or versions: it is the
//! yardstick the conformance suite and the reference supervisor measure lock
//! tools against. Every error is a typed [`LockError`] naming the path.
//!
//! ```no_run
//! use std::path::Path;
//! use updatelock::{take, TakeOptions};
//!
//! let path = Path::new("/tmp/balena/updates.lock");
//! match take(path, &TakeOptions::default()) {
//!     Ok(lock) => {
//!         // ... critical section: the supervisor will not kill us ...
//!         lock.release()?;
//!     }
//!     Err(e) if e.is_held() => println!("someone else holds {}", e.path().display()),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod beneath;
mod error;
mod find;
mod inspect;
mod owner;
mod release;
mod take;

pub use beneath::Beneath;
pub use error::LockError;
pub use find::{find_locks, FoundLock};
pub use inspect::{inspect, is_held, EntryKind, Holder};
pub use owner::Owner;
pub use release::release;
pub use take::{take, Lock, TakeOptions};
