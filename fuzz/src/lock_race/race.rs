//! One run: the supervisor's step machine and the apps, on a fixture, with
//! the model of who made what and who believes it holds what.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use lockgates::Profile;
use nix::fcntl::Flock;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use refsup::fault::Faults;
use refsup::locking::{HeldLocks, LockRules, Step, TakeAll};

use super::fixture::{each_entry, list, Fixture};
use super::method::{self, Method};
use super::model::{Diff, Entry, Origin};
use super::trace::Row;
use super::{Counterexample, Op, Outcome, Settings, DRAIN_STEPS, FILES, MAX_USERS};

/// An app's belief that it holds slot `slot`.
pub(super) struct Belief {
    pub user: u8,
    pub slot: usize,
    pub method: Method,
    /// Held for [`Method::Flock`]; dropping it ends the lock.
    pub flock: Option<Flock<File>>,
}

pub(super) struct Race<'s> {
    pub fx: Rc<Fixture>,
    profile: Profile,
    pub rules: LockRules,
    settings: &'s Settings,
    /// The profile adopts nobody-owned lock files as its own (16.2.0): a
    /// crashed supervisor's are taken over and released, not blocking.
    pub adopts: bool,
    /// The profile lets force remove a directory lock (L5).
    pub dirs_removable: bool,
    services: usize,
    /// The slots the supervisor takes, in take order.
    pub requested: Vec<usize>,
    /// Per watched path: the entry there and who made it.
    pub state: Vec<Option<(Entry, Origin)>>,
    pub beliefs: Vec<Belief>,
    take: Option<(TakeAll, bool)>,
    /// Held locks and whether the take was forced.
    pub held: Option<(HeldLocks, bool)>,
    /// Non-compliant methods that have acted.
    tainted: BTreeSet<Method>,
    step: usize,
    trace: Option<Vec<Row>>,
    /// The end-of-run audit passed: the tree is the fixture plus the model.
    audited: bool,
}

/// An invariant broke.
pub(super) struct Break(pub String);

impl<'s> Race<'s> {
    pub fn new(
        services: u8,
        profile: &Profile,
        faults: &Faults,
        settings: &'s Settings,
        tracing: bool,
    ) -> Result<Race<'s>, String> {
        let fx = Fixture::shared(profile)?;
        let services = usize::from(services % super::MAX_SERVICES + 1);
        Ok(Race {
            rules: LockRules::new(profile, faults, fx.layout.confined().clone()),
            adopts: profile.adopts_leftover_locks(),
            dirs_removable: profile.directory_lock_removable(),
            requested: fx.requested[services - 1].clone(),
            state: vec![None; fx.paths.len()],
            fx,
            profile: profile.clone(),
            settings,
            services,
            beliefs: Vec::new(),
            take: None,
            held: None,
            tainted: BTreeSet::new(),
            step: 0,
            trace: tracing.then(Vec::new),
            audited: false,
        })
    }

    /// Every op, then the take finished; `Err` for a bug, `Unsafe` for a
    /// non-compliant method's counterexample.
    pub fn run(&mut self, ops: &[Op]) -> Result<Outcome, String> {
        let mut result = Ok(());
        for (i, op) in ops.iter().enumerate() {
            result = self.apply(i, *op);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = self.finish(ops.len());
        }
        self.judge(result)
    }

    /// Op number `i`, checked.
    pub fn apply(&mut self, i: usize, op: Op) -> Result<(), Break> {
        self.step = i;
        self.op(op)
            .and_then(|()| self.audit_if(self.settings.audit_every_op))
            .map_err(|b| Break(format!("op {i} {op:?}: {}", b.0)))
    }

    /// After `n` ops: finish the take, release, and audit the whole tree.
    pub fn finish(&mut self, n: usize) -> Result<(), Break> {
        self.step = n;
        let result = self
            .drain()
            .and_then(|()| self.audit_if(true))
            .map_err(|b| Break(format!("finishing after the last op: {}", b.0)));
        self.audited = result.is_ok();
        result
    }

    /// A break is a bug unless a non-compliant method had acted.
    pub fn judge(&self, result: Result<(), Break>) -> Result<Outcome, String> {
        match result {
            Ok(()) => Ok(Outcome::Held),
            Err(Break(reason)) if !self.tainted.is_empty() => Ok(Outcome::Unsafe(Counterexample {
                profile: self.profile.to_string(),
                op: self.step,
                reason,
                methods: self.tainted.iter().copied().collect(),
            })),
            Err(Break(reason)) => Err(reason),
        }
    }

    /// A take is running or its locks are held.
    pub fn supervisor_busy(&self) -> bool {
        self.take.is_some() || self.held.is_some()
    }

    pub fn take_trace(&mut self) -> Vec<Row> {
        self.trace.take().unwrap_or_default()
    }

    /// Record a row (locker, call, result) when tracing; `f` only runs then.
    fn row(&mut self, f: impl FnOnce(&Self) -> [String; 3]) {
        if self.trace.is_none() {
            return;
        }
        let [locker, call, result] = f(self);
        let step = self.step;
        if let Some(trace) = &mut self.trace {
            trace.push(Row {
                step,
                locker,
                call,
                result,
            });
        }
    }

    fn op(&mut self, op: Op) -> Result<(), Break> {
        match op {
            Op::SupervisorStep => self.supervisor_step(),
            Op::StartTake { force } => {
                let started = self.take.is_none() && self.held.is_none();
                if started {
                    let paths = self
                        .requested
                        .iter()
                        .map(|&k| self.fx.paths[k].clone())
                        .collect();
                    let take = TakeAll::new(paths, self.rules.clone(), force);
                    self.take = Some((take, force));
                }
                self.row(|_| {
                    [
                        "supervisor".into(),
                        format!("start take{}", if force { " (force)" } else { "" }),
                        if started {
                            "ok"
                        } else {
                            "ignored: one operation per app"
                        }
                        .into(),
                    ]
                });
                Ok(())
            }
            Op::CrashSupervisor => {
                self.take = None;
                if let Some((held, _)) = self.held.take() {
                    held.leave_behind();
                }
                for (_, origin) in self.state.iter_mut().flatten() {
                    if *origin == Origin::Supervisor {
                        *origin = Origin::Orphan;
                    }
                }
                self.row(|_| {
                    [
                        "supervisor".into(),
                        "crash".into(),
                        "its entries stay".into(),
                    ]
                });
                Ok(())
            }
            Op::Take {
                user,
                svc,
                file,
                method,
            } => {
                let (user, k) = self.slot(user, svc, file);
                self.take_lock(user, k, method)
            }
            Op::Release { user, svc, file } => {
                let (user, k) = self.slot(user, svc, file);
                self.release_lock(user, k)
            }
            Op::CrashUser { user } => {
                let user = user % MAX_USERS;
                self.kill(user);
                self.row(|_| {
                    [
                        format!("app{user}"),
                        "crash".into(),
                        "its entries stay, its flocks end".into(),
                    ]
                });
                Ok(())
            }
            Op::TimePasses => self.time_passes(),
        }
    }

    fn slot(&self, user: u8, svc: u8, file: u8) -> (u8, usize) {
        let svc = usize::from(svc) % self.services;
        let file = usize::from(file) % FILES.len();
        (user % MAX_USERS, self.fx.slot_of[svc][file])
    }

    fn take_lock(&mut self, user: u8, k: usize, method: Method) -> Result<(), Break> {
        if self.beliefs.iter().any(|b| b.user == user && b.slot == k) {
            self.row(|r| {
                [
                    format!("app{user}"),
                    format!("{} {}", method.name(), r.fx.name(k)),
                    "ignored: holds it".into(),
                ]
            });
            return Ok(());
        }
        if !self.settings.compliant.contains(&method) {
            self.tainted.insert(method);
        }
        let dangling = matches!(method, Method::Symlink { dangling: true });
        let target = self.fx.target(k, dangling);
        let attempt = method::lock(method, &self.fx.paths[k], &self.fx.paths[target]);
        let diff = self.observe(&self.touched_by_user(k), Origin::User(user))?;
        self.row(|r| {
            [
                format!("app{user}"),
                format!("{} {}", attempt.call, r.fx.name(k)),
                attempt.result(),
            ]
        });
        self.check_user_removed(user, method, &diff)?;
        if attempt.holds {
            self.beliefs.push(Belief {
                user,
                slot: k,
                method,
                flock: attempt.flock,
            });
        }
        self.check_exclusion()
    }

    fn release_lock(&mut self, user: u8, k: usize) -> Result<(), Break> {
        let Some(i) = self
            .beliefs
            .iter()
            .position(|b| b.user == user && b.slot == k)
        else {
            self.row(|r| {
                [
                    format!("app{user}"),
                    format!("release {}", r.fx.name(k)),
                    "ignored: does not hold it".into(),
                ]
            });
            return Ok(());
        };
        let belief = self.beliefs.remove(i);
        let attempt = method::unlock(belief.method, &self.fx.paths[k], belief.flock);
        let diff = self.observe(&self.touched_by_user(k), Origin::User(user))?;
        self.row(|r| {
            [
                format!("app{user}"),
                format!("{} {}", attempt.call, r.fx.name(k)),
                attempt.result(),
            ]
        });
        self.check_user_removed(user, belief.method, &diff)?;
        self.check_exclusion()
    }

    /// App `user` dies: beliefs end, flocks close.
    fn kill(&mut self, user: u8) {
        self.beliefs.retain(|b| b.user != user);
    }

    fn time_passes(&mut self) -> Result<(), Break> {
        let then = SystemTime::now() - Duration::from_secs(600);
        let since = then
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let ts = TimeSpec::from_duration(since);
        for (i, slot) in self.state.iter().enumerate() {
            if slot.is_some() {
                utimensat(
                    None,
                    &self.fx.paths[i],
                    &ts,
                    &ts,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(|e| Break(format!("utimensat {}: {e}", self.fx.paths[i].display())))?;
            }
        }
        self.row(|_| {
            [
                "time".into(),
                "utimensat(every entry, now - 10 min)".into(),
                "ok".into(),
            ]
        });
        Ok(())
    }

    fn supervisor_step(&mut self) -> Result<(), Break> {
        if let Some((mut take, force)) = self.take.take() {
            let step = take.step();
            let touched = self.touched_by_supervisor();
            let diff = self.observe(&touched, Origin::Supervisor)?;
            self.row(|r| {
                let result = match &step {
                    Step::Continue => "continue".into(),
                    Step::Acquired(held) => format!("Acquired {} locks", held.paths().len()),
                    Step::Blocked(b) => format!("Blocked ({})", b.reason),
                };
                ["supervisor".into(), r.describe(&diff), result]
            });
            self.check_one_change(&diff)?;
            self.check_created(&diff.created)?;
            self.check_removed(&diff.removed, force)?;
            if force {
                // A forced take kills the services whose locks it removed.
                for (_, _, origin) in &diff.removed {
                    if let Origin::User(u) = origin {
                        self.kill(*u);
                    }
                }
            }
            match step {
                Step::Continue => self.take = Some((take, force)),
                Step::Acquired(held) => {
                    self.check_acquired(&held)?;
                    if force {
                        let doomed: Vec<u8> = self
                            .beliefs
                            .iter()
                            .filter(|b| self.requested.contains(&b.slot))
                            .map(|b| b.user)
                            .collect();
                        for u in doomed {
                            self.kill(u);
                        }
                    }
                    self.held = Some((held, force));
                }
                Step::Blocked(blocked) => self.check_blocked(&blocked)?,
            }
            self.check_exclusion()
        } else if let Some((held, _)) = self.held.take() {
            let released = held.release();
            let diff = self.observe(&self.requested.clone(), Origin::Supervisor)?;
            self.row(|r| {
                let result = match &released {
                    Ok(()) => "ok".into(),
                    Err(e) => e.to_string(),
                };
                [
                    "supervisor".into(),
                    format!("release: {}", r.describe(&diff)),
                    result,
                ]
            });
            released.map_err(|e| Break(format!("releasing the held locks: {e}")))?;
            if let Some(&k) = diff.created.first() {
                return Err(Break(format!(
                    "releasing created {}",
                    self.fx.paths[k].display()
                )));
            }
            self.check_removed(&diff.removed, false)?;
            self.none_left("after releasing the held locks")
        } else {
            Ok(())
        }
    }

    /// Finish a running take and release what it holds.
    fn drain(&mut self) -> Result<(), Break> {
        for _ in 0..DRAIN_STEPS {
            if self.take.is_none() && self.held.is_none() {
                return Ok(());
            }
            self.supervisor_step()?;
        }
        Err(Break(format!(
            "the take did not finish in {DRAIN_STEPS} steps"
        )))
    }

    /// What an app's op on slot `k` can change: the slot and its link targets.
    fn touched_by_user(&self, k: usize) -> [usize; 3] {
        [k, self.fx.target(k, false), self.fx.target(k, true)]
    }

    /// What a supervisor step can change: its lock paths, and the targets of
    /// links there (a version that followed them would create one).
    fn touched_by_supervisor(&self) -> Vec<usize> {
        let mut touched = self.requested.clone();
        for &k in &self.requested {
            if self.state[k].is_some_and(|(e, _)| e.kind.is_symlink()) {
                touched.extend([self.fx.target(k, false), self.fx.target(k, true)]);
            }
        }
        touched
    }

    /// `lstat` the watched paths `which`; what appeared is `actor`'s.
    pub fn observe(&mut self, which: &[usize], actor: Origin) -> Result<Diff, Break> {
        let mut diff = Diff::default();
        for &i in which {
            let (dir, name) = &self.fx.slot_dir[i];
            let now = Entry::at(self.fx.dirs[*dir].fd.as_raw_fd(), name).map_err(Break)?;
            let old = self.state[i];
            match (old, now) {
                (Some((o, _)), Some(n)) if o.same(&n) => {}
                (old, now) => {
                    if let Some((entry, origin)) = old {
                        diff.removed.push((i, entry, origin));
                    }
                    self.state[i] = now.map(|n| (n, actor));
                    if now.is_some() {
                        diff.created.push(i);
                    }
                }
            }
        }
        Ok(diff)
    }

    fn describe(&self, diff: &Diff) -> String {
        let mut parts: Vec<String> = diff
            .removed
            .iter()
            .map(|(i, _, _)| format!("removed {}", self.fx.name(*i)))
            .collect();
        parts.extend(
            diff.created
                .iter()
                .map(|i| format!("created {}", self.fx.name(*i))),
        );
        if parts.is_empty() {
            "step: no entry changed".into()
        } else {
            format!("step: {}", parts.join(", "))
        }
    }

    /// With `full`, read every directory of the tree: it must hold the
    /// clean fixture plus exactly the model's entries (same kind and inode),
    /// and a directory an app made must be empty. One `readdir` per
    /// directory, no `lstat`s.
    fn audit_if(&self, full: bool) -> Result<(), Break> {
        if !full {
            return Ok(());
        }
        for (d, dir) in self.fx.dirs.iter().enumerate() {
            let mut seen = 0;
            let mut clean_seen = 0;
            let mut stray = None;
            each_entry(&dir.fd, &dir.path, |name, entry| {
                seen += 1;
                match dir.clean.get(name) {
                    Some(clean) if clean.same(&entry) => clean_seen += 1,
                    Some(_) => {
                        stray = Some(format!("the fixture's {} changed", name.to_string_lossy()))
                    }
                    None => {
                        let watched = self
                            .fx
                            .slot_dir
                            .iter()
                            .position(|(in_dir, n)| *in_dir == d && n == name);
                        let modelled = watched
                            .and_then(|i| self.state[i])
                            .is_some_and(|(m, _)| m.same(&entry));
                        if !modelled {
                            stray.get_or_insert(format!("{} ({entry:?})", name.to_string_lossy()));
                        }
                    }
                }
            })
            .map_err(Break)?;
            let modelled = self
                .state
                .iter()
                .enumerate()
                .filter(|(i, s)| s.is_some() && self.fx.slot_dir[*i].0 == d)
                .count();
            if stray.is_some()
                || clean_seen != dir.clean.len()
                || seen != dir.clean.len() + modelled
            {
                return Err(Break(format!(
                    "audit: {} holds {seen} entries, not its {} plus the model's {modelled}{}",
                    dir.path.display(),
                    dir.clean.len(),
                    stray.map_or(String::new(), |s| format!(": {s}"))
                )));
            }
        }
        // A directory an app made must stay empty.
        for (i, slot) in self.state.iter().enumerate() {
            if slot.is_some_and(|(m, _)| m.kind.is_dir()) {
                if let Some((name, _)) = list(&self.fx.paths[i]).map_err(Break)?.into_iter().next()
                {
                    return Err(Break(format!(
                        "audit: {} appeared in the app's directory {}",
                        name.to_string_lossy(),
                        self.fx.paths[i].display()
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Drop for Race<'_> {
    /// Put the fixture back as it was: remove every entry the run made (and
    /// make a new fixture next time if that fails or something is left).
    fn drop(&mut self) {
        self.take = None;
        if let Some((held, _)) = self.held.take() {
            held.leave_behind();
        }
        self.beliefs.clear();
        let mut ok = true;
        for (i, slot) in self.state.iter().enumerate() {
            if let Some((e, _)) = slot {
                let path = &self.fx.paths[i];
                let res = if e.kind.is_dir() {
                    std::fs::remove_dir(path)
                } else {
                    std::fs::remove_file(path)
                };
                ok &= res.is_ok();
            }
        }
        self.state.iter_mut().for_each(|s| *s = None);
        if !ok || (!self.audited && self.audit_if(true).is_err()) {
            Fixture::discard(&self.profile);
        }
    }
}
