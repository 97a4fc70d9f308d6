//! `lockcheck hold`: run a command while holding an update lock, taken with
//! one of the fixture app's methods (default `excl`, the reference
//! library). The gate drives the reference library through it, and an app
//! can use it like `flock(1)`:
//! `lockcheck hold /tmp/balena/updates.lock -- ./migrate.sh`.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use fixture_app::lock_method::{self, Method};

use crate::exit_codes;

/// `lockcheck hold` flags.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// How to take the lock (the fixture app's methods).
    #[arg(long, value_enum, default_value_t = Method::Excl)]
    method: Method,
    /// Wait up to this many ms for a held lock (default: refuse at once).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    wait_ms: u64,
    /// The lock path.
    path: PathBuf,
    /// The command to run while holding it, and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Exit status when the lock is held by someone else.
pub const HELD: u8 = 1;

/// Take the lock, run the command, release; the command's exit status
/// (128 + signal if it was killed), [`HELD`] if the lock was held.
pub fn run(args: HoldArgs) -> u8 {
    if args.method == Method::None {
        eprintln!("lockcheck hold: --method none takes no lock; pick another method");
        return exit_codes::USAGE;
    }
    let wait = Some(Duration::from_millis(args.wait_ms));
    let held = match lock_method::take(args.method, &args.path, wait, &mut || Ok(())) {
        Ok(Some(held)) => held,
        Ok(None) => {
            eprintln!(
                "lockcheck hold: --method {} took no lock",
                args.method.as_str()
            );
            return exit_codes::USAGE;
        }
        Err(e) => {
            eprintln!("lockcheck hold: cannot take {}: {e:#}", args.path.display());
            return HELD;
        }
    };
    let status = std::process::Command::new(&args.command[0])
        .args(&args.command[1..])
        .status();
    let released = lock_method::release(held);
    let code = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => u8::try_from(c).unwrap_or(1),
            (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
            _ => 1,
        },
        Err(e) => {
            eprintln!(
                "lockcheck hold: cannot run {}: {e}",
                args.command[0].to_string_lossy()
            );
            127
        }
    };
    if let Err(e) = released {
        eprintln!(
            "lockcheck hold: cannot release {}: {e:#}",
            args.path.display()
        );
        return 1;
    }
    code
}
