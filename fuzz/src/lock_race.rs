//! The `lock_race` target: refsup's [`TakeAll`], stepped one syscall at a
//! time, interleaved with user lockers (take, release, touch, mkdir, symlink)
//! and supervisor crashes, on a fresh temp dir per profile.
//!
//! After every op the whole temp dir is `lstat`ed (never following links) and
//! compared with the previous look, so every entry is known to be the
//! fixture's, a user's, the live supervisor's or a crashed one's. Checked:
//!
//! - (a) a take that returns `Acquired` claims exactly the entries it
//!   created, one per lock path, each a regular file owned by the rules' uid,
//!   (from 16.2.0 plus the crashed supervisor's nobody-owned files it
//!   adopted), and no user entry sits at any of its lock paths (under the
//!   `follow-symlinks` fault a lock taken through a user's dangling link is
//!   the link's target, which the checks report);
//! - (b) a take that ends `Blocked` leaves none of its entries behind, and no
//!   step ever removes an entry it did not create unless `force` is on and
//!   the entry is at one of its lock paths (never a directory where the
//!   profile cannot remove one);
//! - (c) the supervisor creates nothing but its lock paths;
//! - and one step changes at most one entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, FileType, OpenOptions};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use lockgates::{LockLocation, Profile};
use refsup::fault::Faults;
use refsup::layout::Layout;
use refsup::locking::{Blocked, HeldLocks, LockRules, Step, TakeAll};
use updatelock::TakeOptions;

/// Every scenario runs under each profile: locks owned by nobody that adopt
/// a crashed supervisor's leftovers (16.2.0+), locks owned by nobody with no
/// adoption (13.1.0 - 16.1.x), and locks owned by root with one lock file and
/// unremovable directory locks (6.x).
pub const PROFILES: [&str; 3] = ["17.3.5@5.1.0", "15.0.0@2.80.0", "6.6.8@2.12.0"];
/// Ops past this many are ignored, to keep one input cheap.
pub const MAX_OPS: usize = 256;
/// The app has `services % MAX_SERVICES + 1` services.
pub const MAX_SERVICES: u8 = 4;
/// Lock file names the users try, whichever the profile honours; `file`
/// indexes this modulo its length.
pub const FILES: [&str; 2] = ["updates.lock", "resin-updates.lock"];
const APP_ID: u32 = 1;
/// Steps allowed to finish a take after the last op.
const DRAIN_STEPS: usize = 10_000;

/// One fuzz input: an app and what happens to its locks. Its `Debug` output
/// is a reproducer: paste it into a test and call [`run`].
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The app has `services % 4 + 1` services (1..=4).
    pub services: u8,
    /// What happens, in order; the first [`MAX_OPS`] are used.
    pub ops: Vec<Op>,
}

/// One event. `svc` is reduced modulo the number of services and `file`
/// modulo [`FILES`]`.len()`, so every value is valid.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// One step of the running take (at most one syscall); when the
    /// supervisor holds all locks instead, it releases them (the update is
    /// applied); otherwise nothing.
    SupervisorStep,
    /// A user takes the lock by exclusive create (`updatelock::take`).
    UserTake {
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
    },
    /// A user removes the entry at the lock path if that user created it.
    UserRelease {
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
    },
    /// A user `touch`es the lock path (`open(O_CREAT)`, following links).
    UserTouch {
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
    },
    /// A user makes an empty directory at the lock path.
    UserMkdir {
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
    },
    /// A user makes a symlink at the lock path to a file outside the lock
    /// dirs, which exists (the user creates it first) unless `dangling`.
    UserSymlink {
        /// Service index.
        svc: u8,
        /// Lock file index.
        file: u8,
        /// Whether the link's target is left missing.
        dangling: bool,
    },
    /// The supervisor starts taking all of the app's locks; ignored while a
    /// take runs or the locks are held (one operation per app).
    StartTake {
        /// Remove user entries in the way (O4).
        force: bool,
    },
    /// The supervisor dies: its take and held locks are forgotten and the
    /// entries it made stay behind (the restart cleanup is not modelled).
    CrashSupervisor,
}

/// Decode fuzzer bytes as `fuzz_target!` does (`arbitrary_take_rest`);
/// `None` for bytes the fuzzer would skip.
pub fn scenario_from_bytes(data: &[u8]) -> Option<Scenario> {
    Scenario::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// Run `s` under every profile of [`PROFILES`], without faults; the error
/// names the profile, the op and the broken invariant.
pub fn run(s: &Scenario) -> Result<(), String> {
    for profile in PROFILES {
        let profile: Profile = profile.parse().map_err(|e| format!("{e}"))?;
        run_with(s, &profile, &Faults::default())?;
    }
    Ok(())
}

/// Run `s` with the lock rules of `profile` bent by `faults`, judged by
/// what `profile` promises (so a fault shows up as a broken invariant).
pub fn run_with(s: &Scenario, profile: &Profile, faults: &Faults) -> Result<(), String> {
    let mut race =
        Race::new(s.services, profile, faults).map_err(|e| format!("{profile}: setup: {e}"))?;
    for (i, op) in s.ops.iter().take(MAX_OPS).enumerate() {
        race.op(*op)
            .map_err(|e| format!("{profile}: op {i} {op:?}: {e}"))?;
    }
    race.drain()
        .map_err(|e| format!("{profile}: finishing after the last op: {e}"))
}

/// Who made an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The temp dir, the lock dirs, the outside dir.
    Fixture,
    /// A user op.
    User,
    /// The live supervisor (a running take or held locks).
    Supervisor,
    /// A supervisor that crashed.
    Orphan,
}

/// What `lstat` says about one entry; `(kind, ino)` is its identity.
#[derive(Clone, Copy, Debug)]
struct Entry {
    kind: FileType,
    ino: u64,
    uid: u32,
}

impl Entry {
    fn same(&self, other: &Entry) -> bool {
        self.kind == other.kind && self.ino == other.ino
    }
}

fn kind_name(kind: FileType) -> &'static str {
    if kind.is_file() {
        "regular file"
    } else if kind.is_dir() {
        "directory"
    } else if kind.is_symlink() {
        "symlink"
    } else {
        "special file"
    }
}

/// What one op changed.
#[derive(Default)]
struct Diff {
    created: Vec<PathBuf>,
    removed: Vec<(PathBuf, Entry, Origin)>,
}

struct Race {
    rules: LockRules,
    /// The profile adopts nobody-owned lock files as its own (16.2.0): a
    /// crashed supervisor's are taken over and released, not blocking.
    adopts: bool,
    /// The profile lets force remove a directory lock (L5).
    dirs_removable: bool,
    _dir: tempfile::TempDir,
    base: PathBuf,
    outside: PathBuf,
    services: usize,
    /// Lock paths users act on: `svc * FILES.len() + file`.
    slots: Vec<PathBuf>,
    /// The paths the supervisor takes, in take order.
    requested: Vec<PathBuf>,
    origin: BTreeMap<PathBuf, Origin>,
    seen: BTreeMap<PathBuf, Entry>,
    take: Option<(TakeAll, bool)>,
    held: Option<HeldLocks>,
}

impl Race {
    fn new(services: u8, profile: &Profile, faults: &Faults) -> Result<Race, String> {
        // tmpfs where there is one: it is where lock dirs live on a device,
        // and it keeps the fuzzer fast.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| format!("temp dir: {e}"))?;
        let base = dir.path().to_path_buf();
        let profile_layout = Layout::new(base.join("root"), profile.clone());
        // Link targets live inside the device root but outside every lock
        // dir: refsup's confinement would refuse a target outside the root
        // before the L6 fault could show.
        let outside = base.join("root").join("outside");
        let layout = profile_layout;
        let services = usize::from(services % MAX_SERVICES + 1);
        let mut slots = Vec::new();
        let mut requested = Vec::new();
        for svc in 0..services {
            let name = format!("svc{svc}");
            let lock_dir = layout.service_lock_dir(APP_ID, &name);
            fs::create_dir_all(&lock_dir).map_err(|e| format!("{}: {e}", lock_dir.display()))?;
            // Before 7.0.0 every service shares the app's one lock dir: each
            // path once, as the supervisor takes it.
            for slot in FILES.iter().map(|f| lock_dir.join(f)) {
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
            for path in profile
                .lock_files()
                .iter()
                .filter(|f| f.location == LockLocation::ServiceDir)
                .map(|f| layout.lock_path(APP_ID, &name, f))
            {
                if !requested.contains(&path) {
                    requested.push(path);
                }
            }
        }
        fs::create_dir_all(&outside).map_err(|e| format!("{}: {e}", outside.display()))?;
        let seen = snapshot(&base)?;
        Ok(Race {
            rules: LockRules::new(profile, faults, layout.confined().clone()),
            adopts: profile.adopts_leftover_locks(),
            dirs_removable: profile.directory_lock_removable(),
            origin: seen.keys().map(|p| (p.clone(), Origin::Fixture)).collect(),
            seen,
            _dir: dir,
            base,
            outside,
            services,
            slots,
            requested,
            take: None,
            held: None,
        })
    }

    fn op(&mut self, op: Op) -> Result<(), String> {
        match op {
            Op::SupervisorStep => self.supervisor_step(),
            Op::StartTake { force } => {
                if self.take.is_none() && self.held.is_none() {
                    let take = TakeAll::new(self.requested.clone(), self.rules.clone(), force);
                    self.take = Some((take, force));
                }
                Ok(())
            }
            Op::CrashSupervisor => {
                self.take = None;
                if let Some(held) = self.held.take() {
                    held.leave_behind();
                }
                for origin in self.origin.values_mut() {
                    if *origin == Origin::Supervisor {
                        *origin = Origin::Orphan;
                    }
                }
                Ok(())
            }
            user => {
                self.user(user);
                let diff = self.observe(Origin::User)?;
                match diff.removed.iter().find(|(_, _, o)| *o != Origin::User) {
                    Some((path, _, origin)) => Err(format!(
                        "harness bug: a user op removed {} ({origin:?})",
                        path.display()
                    )),
                    None => Ok(()),
                }
            }
        }
    }

    /// Carry out a user op; its failures (EEXIST, EISDIR ...) are the point.
    fn user(&self, op: Op) {
        let (svc, file) = match op {
            Op::UserTake { svc, file }
            | Op::UserRelease { svc, file }
            | Op::UserTouch { svc, file }
            | Op::UserMkdir { svc, file }
            | Op::UserSymlink { svc, file, .. } => (
                usize::from(svc) % self.services,
                usize::from(file) % FILES.len(),
            ),
            _ => return,
        };
        // Services sharing one lock dir (before 7.0.0) share its slots.
        let path = &self.slots[(svc * FILES.len() + file) % self.slots.len()];
        match op {
            Op::UserTake { .. } => {
                let _ = updatelock::take(path, &TakeOptions::default());
            }
            Op::UserRelease { .. } if self.origin.get(path) == Some(&Origin::User) => {
                let _ = updatelock::release(path);
            }
            Op::UserTouch { .. } => {
                let _ = touch(path);
            }
            Op::UserMkdir { .. } => {
                let _ = fs::create_dir(path);
            }
            Op::UserSymlink { dangling, .. } => {
                if fs::symlink_metadata(path).is_ok() {
                    return;
                }
                let suffix = if dangling { "-dangling" } else { "" };
                let target = self
                    .outside
                    .join(format!("svc{svc}-{}{suffix}", FILES[file]));
                if !dangling {
                    let _ = touch(&target);
                }
                let _ = symlink(&target, path);
            }
            _ => {}
        }
    }

    fn supervisor_step(&mut self) -> Result<(), String> {
        if let Some((mut take, force)) = self.take.take() {
            let step = take.step();
            let diff = self.observe(Origin::Supervisor)?;
            if diff.created.len() + diff.removed.len() > 1 {
                return Err(format!(
                    "one step changed {} entries (created {:?}, removed {:?})",
                    diff.created.len() + diff.removed.len(),
                    diff.created,
                    diff.removed.iter().map(|r| &r.0).collect::<Vec<_>>()
                ));
            }
            self.check_created(&diff.created)?;
            self.check_removed(&diff.removed, force)?;
            match step {
                Step::Continue => self.take = Some((take, force)),
                Step::Acquired(held) => {
                    self.check_acquired(&held)?;
                    self.held = Some(held);
                }
                Step::Blocked(blocked) => self.check_blocked(&blocked)?,
            }
        } else if let Some(held) = self.held.take() {
            held.release()
                .map_err(|e| format!("releasing the held locks: {e}"))?;
            let diff = self.observe(Origin::Supervisor)?;
            if let Some(path) = diff.created.first() {
                return Err(format!("releasing created {}", path.display()));
            }
            self.check_removed(&diff.removed, false)?;
            self.none_left("after releasing the held locks")?;
        }
        Ok(())
    }

    /// Finish a running take and release what it holds.
    fn drain(&mut self) -> Result<(), String> {
        for _ in 0..DRAIN_STEPS {
            if self.take.is_none() && self.held.is_none() {
                return Ok(());
            }
            self.supervisor_step()?;
        }
        Err(format!("the take did not finish in {DRAIN_STEPS} steps"))
    }

    /// Look at everything again; new entries are `actor`'s.
    fn observe(&mut self, actor: Origin) -> Result<Diff, String> {
        let now = snapshot(&self.base)?;
        let mut diff = Diff::default();
        for (path, old) in &self.seen {
            if !now.get(path).is_some_and(|e| e.same(old)) {
                let origin = self.origin.remove(path).unwrap_or(Origin::Fixture);
                diff.removed.push((path.clone(), *old, origin));
            }
        }
        for (path, new) in &now {
            if !self.seen.get(path).is_some_and(|e| e.same(new)) {
                self.origin.insert(path.clone(), actor);
                diff.created.push(path.clone());
            }
        }
        self.seen = now;
        Ok(diff)
    }

    /// (a) and (c) for what one step created.
    fn check_created(&self, created: &[PathBuf]) -> Result<(), String> {
        for path in created {
            let Some(entry) = self.seen.get(path) else {
                continue;
            };
            if !entry.kind.is_file() || entry.uid != self.rules.owner.uid {
                return Err(format!(
                    "(a) the supervisor created {} as a {} owned by uid {}, not a regular file owned by uid {}",
                    path.display(),
                    kind_name(entry.kind),
                    entry.uid,
                    self.rules.owner.uid
                ));
            }
            // No version follows a link at a lock path (L6): a file made
            // anywhere else, a link's target included, is a bug.
            if !self.requested.contains(path) {
                return Err(format!(
                    "(c) the supervisor created {} outside its lock paths",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// (b) for what the supervisor removed.
    fn check_removed(
        &self,
        removed: &[(PathBuf, Entry, Origin)],
        force: bool,
    ) -> Result<(), String> {
        for (path, entry, origin) in removed {
            let whose = match origin {
                Origin::Supervisor => continue,
                // Adopted from a crashed supervisor: its own, released with
                // the rest.
                Origin::Orphan if self.adopts && self.requested.contains(path) => continue,
                Origin::User => "the user's",
                Origin::Orphan => "a crashed supervisor's",
                Origin::Fixture => {
                    return Err(format!(
                        "(b) the supervisor removed the fixture {}",
                        path.display()
                    ))
                }
            };
            if !force {
                return Err(format!(
                    "(b) the supervisor removed {whose} {} {} without force",
                    kind_name(entry.kind),
                    path.display()
                ));
            }
            if !self.requested.contains(path) {
                return Err(format!(
                    "(b) force removed {whose} {} {}, which is not one of its lock paths",
                    kind_name(entry.kind),
                    path.display()
                ));
            }
            if entry.kind.is_dir() && !self.dirs_removable {
                return Err(format!(
                    "(b) force removed {whose} directory {} on a profile that cannot (L5)",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// (a): `Acquired` claims what it created, one entry per lock path.
    fn check_acquired(&self, held: &HeldLocks) -> Result<(), String> {
        let claimed: BTreeSet<&PathBuf> = held.paths().iter().collect();
        let mut created: BTreeSet<&PathBuf> = self.entries(Origin::Supervisor).collect();
        if self.adopts {
            // Adopted leftovers of a crashed supervisor count as taken.
            created.extend(
                self.entries(Origin::Orphan)
                    .filter(|p| claimed.contains(p) && self.requested.contains(p)),
            );
        }
        if claimed != created || held.paths().len() != self.requested.len() {
            return Err(format!(
                "(a) Acquired claims {claimed:?} for {} lock paths, but the entries it made are {created:?}",
                self.requested.len()
            ));
        }
        if held.paths() != self.requested {
            return Err(format!(
                "(a) Acquired claims {:?}, not its lock paths {:?}",
                held.paths(),
                self.requested
            ));
        }
        for path in &self.requested {
            let origin = self.origin.get(path);
            let adopted = self.adopts && origin == Some(&Origin::Orphan);
            if origin != Some(&Origin::Supervisor) && !adopted {
                let entry = self.seen.get(path);
                return Err(format!(
                    "(a) Acquired, but {} is {} made by {origin:?}",
                    path.display(),
                    entry.map_or("missing".to_string(), |e| format!(
                        "a {}",
                        kind_name(e.kind)
                    )),
                ));
            }
        }
        Ok(())
    }

    /// (b): a blocked take rolled everything back.
    fn check_blocked(&self, blocked: &Blocked) -> Result<(), String> {
        if !self.requested.contains(&blocked.path) {
            return Err(format!(
                "Blocked on {}, which is not one of its lock paths",
                blocked.path.display()
            ));
        }
        self.none_left(&format!(
            "(b) Blocked on {} ({})",
            blocked.path.display(),
            blocked.reason
        ))
    }

    fn none_left(&self, when: &str) -> Result<(), String> {
        let left: Vec<&PathBuf> = self.entries(Origin::Supervisor).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{when}: the supervisor's entries {left:?} are left behind"
            ))
        }
    }

    fn entries(&self, origin: Origin) -> impl Iterator<Item = &PathBuf> {
        self.origin
            .iter()
            .filter(move |(_, o)| **o == origin)
            .map(|(p, _)| p)
    }
}

/// `touch`: open with `O_CREAT` (no `O_EXCL`, links followed).
fn touch(path: &Path) -> std::io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

/// Every entry under `base`, `lstat`ed.
fn snapshot(base: &Path) -> Result<BTreeMap<PathBuf, Entry>, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(base).follow_links(false) {
        let entry = entry.map_err(|e| format!("walking {}: {e}", base.display()))?;
        let meta = entry
            .metadata()
            .map_err(|e| format!("lstat {}: {e}", entry.path().display()))?;
        out.insert(
            entry.into_path(),
            Entry {
                kind: meta.file_type(),
                ino: meta.ino(),
                uid: meta.uid(),
            },
        );
    }
    Ok(out)
}
