//! `TakeAll` against a small model (proptest-state-machine): random
//! sequences of user entries (file, directory, symlink dangling or not),
//! user releases, supervisor takes (forced or not) run to the end,
//! releases and supervisor crashes, on three lock paths under each of three
//! profiles, shrunk to a minimal failing sequence. After every step the
//! take's result, and each path's kind and owner, agree with the model: all
//! or nothing, never through a link, adopting a crashed supervisor's files
//! from 16.2.0, force clearing what it may.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use lockgates::Profile;
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use refsup::fault::Faults;
use refsup::locking::{HeldLocks, LockRules, TakeAll};
use tempfile::TempDir;
use updatelock::Beneath;

const PATHS: usize = 3;
const PROFILES: [&str; 3] = ["17.3.5@5.1.0", "15.0.0@2.80.0", "6.6.8@2.12.0"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Link,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    User,
    Supervisor,
    /// A supervisor that crashed holding it.
    Orphan,
}

#[derive(Clone, Debug)]
struct Model {
    profile: usize,
    at: [Option<(Kind, Who)>; PATHS],
    targets: [bool; PATHS],
    /// Paths the supervisor holds, in take order.
    held: Option<Vec<usize>>,
    /// The last take: `Ok` acquired, `Err(i)` blocked on path `i`; `None`
    /// when the last transition was no take.
    last_take: Option<Result<(), usize>>,
}

#[derive(Clone, Debug)]
enum Transition {
    UserFile(usize),
    UserDir(usize),
    UserLink { i: usize, dangling: bool },
    UserRelease(usize),
    Take { force: bool },
    Release,
    Crash,
}

struct Rules {
    adopt: bool,
    dirs_removable: bool,
    /// The supervisor can chown its files to the profile's owner (as root,
    /// or when that is us).
    can_chown: bool,
    uid: u32,
}

fn rules(profile: usize) -> Rules {
    let p: Profile = PROFILES[profile].parse().unwrap();
    let uid = p.lock_owner_uid();
    Rules {
        adopt: p.adopts_leftover_locks(),
        dirs_removable: p.directory_lock_removable(),
        can_chown: nix::unistd::geteuid().is_root() || nix::unistd::geteuid().as_raw() == uid,
        uid,
    }
}

struct Supervisor;

impl ReferenceStateMachine for Supervisor {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        (0..PROFILES.len())
            .prop_map(|profile| Model {
                profile,
                at: [None; PATHS],
                targets: [false; PATHS],
                held: None,
                last_take: None,
            })
            .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        let i = 0..PATHS;
        prop_oneof![
            1 => i.clone().prop_map(Transition::UserFile),
            1 => i.clone().prop_map(Transition::UserDir),
            1 => (i.clone(), any::<bool>())
                .prop_map(|(i, dangling)| Transition::UserLink { i, dangling }),
            1 => i.prop_map(Transition::UserRelease),
            2 => any::<bool>().prop_map(|force| Transition::Take { force }),
            2 => Just(Transition::Release),
            1 => Just(Transition::Crash),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        m.last_take = None;
        match *t {
            Transition::UserFile(i) => user(&mut m, i, Kind::File),
            Transition::UserDir(i) => user(&mut m, i, Kind::Dir),
            Transition::UserLink { i, dangling } => {
                m.targets[i] |= !dangling;
                user(&mut m, i, Kind::Link);
            }
            Transition::UserRelease(i) => {
                if m.at[i].is_some_and(|(_, w)| w == Who::User) {
                    m.at[i] = None;
                }
            }
            Transition::Take { force } if m.held.is_none() => take(&mut m, force),
            Transition::Take { .. } => {}
            Transition::Release => {
                for i in m.held.take().unwrap_or_default() {
                    m.at[i] = None;
                }
            }
            Transition::Crash => {
                m.held = None;
                for (_, who) in m.at.iter_mut().flatten() {
                    if *who == Who::Supervisor {
                        *who = Who::Orphan;
                    }
                }
            }
        }
        m
    }
}

fn user(m: &mut Model, i: usize, kind: Kind) {
    if m.at[i].is_none() {
        m.at[i] = Some((kind, Who::User));
    }
}

/// The take, run to its end with nothing interleaved.
fn take(m: &mut Model, force: bool) {
    let r = rules(m.profile);
    let mut taken = Vec::new();
    for i in 0..PATHS {
        let ok = match m.at[i] {
            None => r.can_chown,
            // 16.2.0+: a nobody-owned regular file (a crashed supervisor's)
            // is adopted.
            Some((Kind::File, Who::Orphan)) if r.adopt && r.uid == lockgates::NOBODY_UID => true,
            Some((kind, _)) if force && (kind != Kind::Dir || r.dirs_removable) => {
                // Cleared, then created like a free path.
                m.at[i] = None;
                r.can_chown
            }
            Some(_) => false,
        };
        if !ok {
            // Everything taken so far (adopted files too) is removed; what
            // force cleared stays cleared.
            for j in taken {
                m.at[j] = None;
            }
            m.last_take = Some(Err(i));
            return;
        }
        m.at[i] = Some((Kind::File, Who::Supervisor));
        taken.push(i);
    }
    m.held = Some(taken);
    m.last_take = Some(Ok(()));
}

struct Disk {
    _dir: TempDir,
    rules: LockRules,
    paths: Vec<PathBuf>,
    targets: Vec<PathBuf>,
    held: Option<HeldLocks>,
}

impl StateMachineTest for Disk {
    type SystemUnderTest = Disk;
    type Reference = Supervisor;

    fn init_test(m: &Model) -> Disk {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let locks = root.join("locks");
        fs::create_dir_all(&locks).unwrap();
        fs::create_dir_all(root.join("targets")).unwrap();
        let profile: Profile = PROFILES[m.profile].parse().unwrap();
        Disk {
            rules: LockRules::new(&profile, &Faults::default(), Beneath::new(&root)),
            paths: (0..PATHS)
                .map(|i| locks.join(format!("{i}.lock")))
                .collect(),
            targets: (0..PATHS)
                .map(|i| root.join("targets").join(format!("t{i}")))
                .collect(),
            held: None,
            _dir: dir,
        }
    }

    fn apply(mut disk: Disk, m: &Model, t: Transition) -> Disk {
        match t {
            Transition::UserFile(i) => {
                let _ = updatelock::take(&disk.paths[i], &updatelock::TakeOptions::default());
            }
            Transition::UserDir(i) => {
                let _ = fs::create_dir(&disk.paths[i]);
            }
            Transition::UserLink { i, dangling } => {
                let target = if dangling {
                    disk.targets[i].with_extension("dangling")
                } else {
                    fs::write(&disk.targets[i], "").unwrap();
                    disk.targets[i].clone()
                };
                let _ = std::os::unix::fs::symlink(target, &disk.paths[i]);
            }
            Transition::UserRelease(i) => {
                // The user remembers what it made: the model's bookkeeping
                // (after this step the path is free iff it was the user's).
                // Whether the disk agrees is what the invariants check.
                if m.at[i].is_none() {
                    updatelock::release(&disk.paths[i]).unwrap();
                }
            }
            Transition::Take { force } => {
                if disk.held.is_none() {
                    let take = TakeAll::new(disk.paths.clone(), disk.rules.clone(), force);
                    let got = match take.run() {
                        Ok(held) => {
                            disk.held = Some(held);
                            Ok(())
                        }
                        Err(b) => Err(disk.paths.iter().position(|p| *p == b.path).unwrap()),
                    };
                    assert_eq!(Some(got), m.last_take, "{t:?}");
                }
            }
            Transition::Release => {
                if let Some(held) = disk.held.take() {
                    held.release().unwrap();
                }
            }
            Transition::Crash => {
                if let Some(held) = disk.held.take() {
                    held.leave_behind();
                }
            }
        }
        disk
    }

    fn check_invariants(disk: &Disk, m: &Model) {
        for i in 0..PATHS {
            let path = &disk.paths[i];
            let seen = fs::symlink_metadata(path).ok().map(|meta| {
                let kind = if meta.is_dir() {
                    Kind::Dir
                } else if meta.file_type().is_symlink() {
                    Kind::Link
                } else {
                    Kind::File
                };
                (kind, meta.uid())
            });
            let expected = m.at[i].map(|(kind, who)| {
                let uid = if who == Who::User {
                    0
                } else {
                    disk.rules.owner.uid
                };
                (kind, uid)
            });
            if nix::unistd::geteuid().is_root() {
                assert_eq!(seen, expected, "{}", path.display());
            } else {
                assert_eq!(
                    seen.map(|s| s.0),
                    expected.map(|e| e.0),
                    "{}",
                    path.display()
                );
            }
            // A take never follows a link: a target exists only if a user
            // made it.
            assert_eq!(disk.targets[i].exists(), m.targets[i], "target {i}");
            assert!(!disk.targets[i].with_extension("dangling").exists());
        }
        assert_eq!(
            disk.held.as_ref().map(|h| h.paths().to_vec()),
            m.held
                .as_ref()
                .map(|h| h.iter().map(|&i| disk.paths[i].clone()).collect())
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn take_all_matches_its_model(sequential 1..30 => Disk);
}
