//! How an app takes and releases a lock: the safe way (exclusive create and
//! its cousins `mkdir` and `symlink`) and the unsafe ways apps use in the
//! wild (`touch`, `flock` on the path, stale-lock stealing by mtime). Each
//! action is the real syscalls on the real path; what it returns is whether
//! the app now *believes* it holds the lock, and what it did, for a trace.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use nix::fcntl::{Flock, FlockArg};

/// A lock is stale to a stealer when its mtime is this much older than now:
/// lockfile-progs' and dotlockfile's 5 minutes.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

/// A way to take a lock at a path.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `open(O_CREAT|O_EXCL|O_NOFOLLOW)` (`updatelock::take`); release unlinks.
    Exclusive,
    /// `mkdir`: exclusive too; release removes the directory.
    Mkdir,
    /// `symlink(target, path)`: exclusive too; the target exists (the app
    /// creates it first) unless `dangling`. Release unlinks the link.
    Symlink {
        /// Whether the link's target is left missing.
        dangling: bool,
    },
    /// `touch`: `open(O_CREAT)` without `O_EXCL`, following links; it always
    /// "gets" the lock. Release is `rm -f`.
    Touch,
    /// `flock(LOCK_EX|LOCK_NB)` on `open(O_CREAT)` of the path: excludes
    /// other flockers only; release closes the descriptor and leaves the file.
    Flock,
    /// dotlockfile / lockfile-progs: exclusive create, and when something is
    /// there with an mtime older than [`STALE_AFTER`], unlink it and create
    /// again.
    StealStale,
}

impl Method {
    /// Every method, safe ones first.
    pub const ALL: [Method; 7] = [
        Method::Exclusive,
        Method::Mkdir,
        Method::Symlink { dangling: false },
        Method::Symlink { dangling: true },
        Method::Touch,
        Method::Flock,
        Method::StealStale,
    ];

    /// The name used in traces, schedules and `LOCK_RACE_COMPLIANT`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Exclusive => "exclusive",
            Method::Mkdir => "mkdir",
            Method::Symlink { dangling: false } => "symlink",
            Method::Symlink { dangling: true } => "dangling-symlink",
            Method::Touch => "touch",
            Method::Flock => "flock",
            Method::StealStale => "steal-stale",
        }
    }

    /// The method called `name` (see [`Method::name`]).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The methods that follow the protocol (SPEC "exclusive create"): any
    /// entry at the path means held, and taking one never succeeds over an
    /// existing entry.
    pub fn is_exclusive(self) -> bool {
        matches!(
            self,
            Method::Exclusive | Method::Mkdir | Method::Symlink { .. }
        )
    }
}

/// What one lock or unlock attempt did, for a trace row.
#[derive(Debug)]
pub struct Attempt {
    /// The syscalls, as `open(O_CREAT|O_EXCL|O_NOFOLLOW)`.
    pub call: &'static str,
    /// What the last syscall returned; see [`Attempt::result`].
    pub error: Option<io::Error>,
    /// Whether the app now believes it holds the lock.
    pub holds: bool,
    /// The `flock` holding the lock, for [`Method::Flock`].
    pub flock: Option<Flock<File>>,
}

impl Attempt {
    fn new(call: &'static str, res: io::Result<()>) -> Attempt {
        Attempt {
            call,
            holds: res.is_ok(),
            error: res.err(),
            flock: None,
        }
    }

    /// `ok`, or the error's name (`EEXIST`, ...); formatted only for traces.
    pub fn result(&self) -> String {
        match &self.error {
            None => "ok".to_string(),
            Some(e) => match e.raw_os_error() {
                Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
                None => e.to_string(),
            },
        }
    }
}

/// Take the lock at `path` by `method`. `target` is where a symlink points
/// (created first unless dangling).
pub fn lock(method: Method, path: &Path, target: &Path) -> Attempt {
    match method {
        Method::Exclusive => Attempt::new("open(O_CREAT|O_EXCL|O_NOFOLLOW)", exclusive(path)),
        Method::Mkdir => Attempt::new("mkdir", std::fs::create_dir(path)),
        Method::Symlink { dangling } => {
            if !dangling {
                let _ = touch(target);
            }
            Attempt::new("symlink", std::os::unix::fs::symlink(target, path))
        }
        Method::Touch => Attempt::new("open(O_CREAT) [touch]", touch(path)),
        Method::Flock => flock(path),
        Method::StealStale => steal_stale(path, STALE_AFTER),
    }
}

/// Release a lock taken by `method` (the app believes it holds it).
pub fn unlock(method: Method, path: &Path, flock: Option<Flock<File>>) -> Attempt {
    match method {
        Method::Flock => {
            // Closing the descriptor ends the flock; the file stays, as
            // `flock path cmd` leaves it.
            drop(flock);
            Attempt::new("close [flock]", Ok(()))
        }
        Method::Touch => Attempt::new("unlink [rm -f]", rm_f(path)),
        _ => Attempt::new(
            "unlink/rmdir",
            updatelock::release(path)
                .map(drop)
                .map_err(|e| io::Error::other(e.to_string())),
        ),
    }
}

fn exclusive(path: &Path) -> io::Result<()> {
    match updatelock::take(path, &updatelock::TakeOptions::default()) {
        Ok(lock) => {
            // The app holds it until its release op; dropping a Lock keeps
            // the file.
            drop(lock);
            Ok(())
        }
        Err(e) if e.is_held() => Err(io::Error::from_raw_os_error(libc_eexist())),
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

fn libc_eexist() -> i32 {
    nix::errno::Errno::EEXIST as i32
}

/// `touch`: open with `O_CREAT` (no `O_EXCL`, links followed).
pub fn touch(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

/// `rm -f`: unlink whatever is there (not a directory); missing is fine.
fn rm_f(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        res => res,
    }
}

fn flock(path: &Path) -> Attempt {
    const CALL: &str = "open(O_CREAT)+flock(LOCK_EX|LOCK_NB)";
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return Attempt::new(CALL, Err(e)),
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Attempt {
            call: CALL,
            error: None,
            holds: true,
            flock: Some(lock),
        },
        Err((_, errno)) => Attempt::new(CALL, Err(errno.into())),
    }
}

/// Exclusive create; on `EEXIST`, steal an entry whose mtime is older than
/// `stale` (unlink, create again): [`Method::StealStale`] with
/// [`STALE_AFTER`], shorter in the real-process stress.
pub fn steal_stale(path: &Path, stale: Duration) -> Attempt {
    match exclusive(path) {
        Ok(()) => return Attempt::new("open(O_CREAT|O_EXCL)", Ok(())),
        Err(e) if e.raw_os_error() != Some(libc_eexist()) => {
            return Attempt::new("open(O_CREAT|O_EXCL)", Err(e))
        }
        Err(_) => {}
    }
    let stale = std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map(|t| {
            SystemTime::now()
                .duration_since(t)
                .is_ok_and(|age| age > stale)
        })
        .unwrap_or(false);
    if !stale {
        return Attempt::new(
            "open(O_CREAT|O_EXCL); lstat: fresh",
            Err(io::Error::from_raw_os_error(libc_eexist())),
        );
    }
    let _ = rm_f(path);
    Attempt::new(
        "open(O_CREAT|O_EXCL); lstat: stale; unlink; open(O_CREAT|O_EXCL)",
        exclusive(path),
    )
}
