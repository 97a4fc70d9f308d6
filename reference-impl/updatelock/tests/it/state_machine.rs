//! The lock library against a small model (proptest-state-machine): random
//! sequences of takes, releases, directories and symlinks (dangling or not)
//! on three lock paths, through the plain functions and through `Beneath`,
//! shrunk to a minimal failing sequence. After every step each path's kind,
//! `is_held` and `find_locks` agree with the model, and no symlink target
//! appears that the model did not create.

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use tempfile::TempDir;
use updatelock::{find_locks, inspect, is_held, release, take, Beneath, EntryKind, TakeOptions};

const PATHS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Link,
}

#[derive(Clone, Debug, Default)]
struct Model {
    at: [Option<Kind>; PATHS],
    /// Which symlink targets exist (a non-dangling link's target is made
    /// first).
    targets: [bool; PATHS],
    /// Whether the last transition should have succeeded.
    last_ok: bool,
}

#[derive(Clone, Debug)]
enum Transition {
    Take { i: usize, confined: bool },
    Release { i: usize, confined: bool },
    Mkdir { i: usize },
    Symlink { i: usize, dangling: bool },
}

struct Library;

impl ReferenceStateMachine for Library {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Transition> {
        let i = 0..PATHS;
        prop_oneof![
            (i.clone(), any::<bool>()).prop_map(|(i, confined)| Transition::Take { i, confined }),
            (i.clone(), any::<bool>())
                .prop_map(|(i, confined)| Transition::Release { i, confined }),
            i.clone().prop_map(|i| Transition::Mkdir { i }),
            (i, any::<bool>()).prop_map(|(i, dangling)| Transition::Symlink { i, dangling }),
        ]
        .boxed()
    }

    fn apply(mut m: Model, t: &Transition) -> Model {
        match *t {
            Transition::Take { i, .. } => create(&mut m, i, Kind::File),
            Transition::Mkdir { i } => create(&mut m, i, Kind::Dir),
            Transition::Symlink { i, dangling } => {
                m.targets[i] |= !dangling;
                create(&mut m, i, Kind::Link);
            }
            Transition::Release { i, .. } => {
                m.last_ok = m.at[i].take().is_some();
            }
        }
        m
    }
}

/// Exclusive: succeeds only where nothing is.
fn create(m: &mut Model, i: usize, kind: Kind) {
    m.last_ok = m.at[i].is_none();
    if m.last_ok {
        m.at[i] = Some(kind);
    }
}

struct Disk {
    _dir: TempDir,
    root: Beneath,
    paths: Vec<PathBuf>,
    targets: Vec<PathBuf>,
    locks: PathBuf,
}

impl StateMachineTest for Disk {
    type SystemUnderTest = Disk;
    type Reference = Library;

    fn init_test(_: &Model) -> Disk {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let locks = root.join("locks");
        let paths: Vec<PathBuf> = (0..PATHS)
            .map(|i| locks.join(format!("s{i}")).join("updates.lock"))
            .collect();
        for p in &paths {
            fs::create_dir_all(p.parent().unwrap()).unwrap();
        }
        fs::create_dir_all(root.join("targets")).unwrap();
        Disk {
            targets: (0..PATHS)
                .map(|i| root.join("targets").join(format!("t{i}")))
                .collect(),
            root: Beneath::new(&root),
            _dir: dir,
            paths,
            locks,
        }
    }

    fn apply(disk: Disk, m: &Model, t: Transition) -> Disk {
        let ok = match t {
            Transition::Take { i, confined } => {
                let res = if confined {
                    disk.root.take(&disk.paths[i], &TakeOptions::default())
                } else {
                    take(&disk.paths[i], &TakeOptions::default())
                };
                if let Err(e) = &res {
                    assert!(e.is_held(), "{t:?}: {e}");
                }
                res.is_ok()
            }
            Transition::Release { i, confined } => {
                let res = if confined {
                    disk.root.release(&disk.paths[i])
                } else {
                    release(&disk.paths[i])
                };
                res.unwrap_or_else(|e| panic!("{t:?}: {e}"))
            }
            Transition::Mkdir { i } => fs::create_dir(&disk.paths[i]).is_ok(),
            Transition::Symlink { i, dangling } => {
                let target = if dangling {
                    disk.targets[i].with_extension("dangling")
                } else {
                    fs::write(&disk.targets[i], "").unwrap();
                    disk.targets[i].clone()
                };
                std::os::unix::fs::symlink(target, &disk.paths[i]).is_ok()
            }
        };
        assert_eq!(ok, m.last_ok, "{t:?}");
        disk
    }

    fn check_invariants(disk: &Disk, m: &Model) {
        let mut held = Vec::new();
        for i in 0..PATHS {
            let path = &disk.paths[i];
            let kind = inspect(path).unwrap().map(|h| match h.kind {
                EntryKind::File => Kind::File,
                EntryKind::Directory => Kind::Dir,
                EntryKind::Symlink => Kind::Link,
                EntryKind::Other => panic!("{}: a special file", path.display()),
            });
            assert_eq!(kind, m.at[i], "{}", path.display());
            assert_eq!(is_held(path).unwrap(), m.at[i].is_some());
            assert_eq!(
                disk.root.inspect(path).unwrap().map(|h| h.kind),
                inspect(path).unwrap().map(|h| h.kind)
            );
            if m.at[i].is_some() {
                held.push(path.clone());
            }
            assert_eq!(disk.targets[i].exists(), m.targets[i], "target {i}");
            assert!(!disk.targets[i].with_extension("dangling").exists());
        }
        let found: Vec<PathBuf> = find_locks(&disk.locks, &["updates.lock"])
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(found, held);
        let confined: Vec<PathBuf> = disk
            .root
            .find_locks(&disk.locks, &["updates.lock"])
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(confined, held);
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn lock_library_matches_its_model(sequential 1..30 => Disk);
}
