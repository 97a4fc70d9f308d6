//! `Beneath`: lock operations that never follow a link out of their root.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use updatelock::{Beneath, EntryKind, LockError, TakeOptions};

/// A root with `services/1/main/` inside, and a sentinel dir outside it.
struct Tree {
    _tmp: TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn tree() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(root.join("services/1/main")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(outside.join("updates.lock"), "precious").unwrap();
    Tree {
        _tmp: tmp,
        root,
        outside,
    }
}

/// Replace `dir` (under the root) with a symlink to the outside dir.
fn plant_link(t: &Tree, dir: &str) -> PathBuf {
    let path = t.root.join(dir);
    fs::remove_dir_all(&path).unwrap();
    symlink(&t.outside, &path).unwrap();
    path
}

fn outside_untouched(t: &Tree) {
    let mode = fs::metadata(&t.outside).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o700, "the outside dir was chmodded");
    let names: Vec<_> = fs::read_dir(&t.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["updates.lock"], "the outside dir changed");
    assert_eq!(
        fs::read_to_string(t.outside.join("updates.lock")).unwrap(),
        "precious"
    );
}

fn is_escape(e: &LockError) -> bool {
    matches!(e, LockError::Escape { .. })
}

#[test]
fn ordinary_paths_work_like_the_plain_functions() {
    let t = tree();
    let b = Beneath::new(&t.root);
    let lock = t.root.join("services/1/main/updates.lock");
    let taken = b.take(&lock, &TakeOptions::default()).unwrap();
    assert_eq!(taken.path(), lock);
    assert!(b.is_held(&lock).unwrap());
    assert!(b
        .take(&lock, &TakeOptions::default())
        .unwrap_err()
        .is_held());
    assert_eq!(b.inspect(&lock).unwrap().unwrap().kind, EntryKind::File);
    assert!(b.release(&lock).unwrap());
    assert!(!b.release(&lock).unwrap());
    assert!(b.inspect(&lock).unwrap().is_none());
    // Missing parents: nothing there, and take says why.
    let deep = t.root.join("services/2/x/updates.lock");
    assert!(!b.is_held(&deep).unwrap());
    assert!(!b.release(&deep).unwrap());
    let err = b.take(&deep, &TakeOptions::default()).unwrap_err();
    assert!(matches!(err, LockError::Io { .. }), "{err:?}");
    assert_eq!(err.path(), deep);
}

#[test]
fn create_dir_all_makes_missing_dirs_and_sets_the_leaf_mode() {
    let t = tree();
    let b = Beneath::new(&t.root);
    let dir = t.root.join("services/7/web");
    b.create_dir_all(&dir, 0o777).unwrap();
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o777);
    // Idempotent.
    b.create_dir_all(&dir, 0o777).unwrap();
}

#[rstest::rstest]
#[case::service_dir("services/1/main")]
#[case::app_dir("services/1")]
#[case::services_root("services")]
fn a_linked_dir_is_refused_by_every_operation(#[case] linked: &str) {
    let t = tree();
    plant_link(&t, linked);
    let b = Beneath::new(&t.root);
    let lock = t.root.join("services/1/main/updates.lock");
    let err = b.take(&lock, &TakeOptions::default()).unwrap_err();
    assert!(is_escape(&err), "take: {err:?}");
    let err = b.release(&lock).unwrap_err();
    assert!(is_escape(&err), "release: {err:?}");
    let err = b.inspect(&lock).unwrap_err();
    assert!(is_escape(&err), "inspect: {err:?}");
    let err = b
        .create_dir_all(&t.root.join("services/1/main"), 0o777)
        .unwrap_err();
    assert!(is_escape(&err), "create_dir_all: {err:?}");
    let err = b
        .find_locks(&t.root.join(linked), &["updates.lock"])
        .unwrap_err();
    assert!(is_escape(&err), "find_locks: {err:?}");
    outside_untouched(&t);
}

#[test]
fn find_locks_reports_a_linked_dir_but_never_descends_it() {
    let t = tree();
    fs::write(t.root.join("services/1/main/updates.lock"), "").unwrap();
    plant_link(&t, "services/1/main");
    fs::create_dir_all(t.root.join("services/2/db")).unwrap();
    fs::write(t.root.join("services/2/db/updates.lock"), "").unwrap();
    let b = Beneath::new(&t.root);
    let found = b
        .find_locks(&t.root.join("services"), &["updates.lock", "main"])
        .unwrap();
    let paths: Vec<&Path> = found.iter().map(|f| f.path.as_path()).collect();
    assert_eq!(
        paths,
        [
            t.root.join("services/1/main").as_path(),
            t.root.join("services/2/db/updates.lock").as_path()
        ]
    );
    assert_eq!(found[0].holder.kind, EntryKind::Symlink);
    outside_untouched(&t);
}

#[test]
fn paths_outside_the_root_or_with_dot_dot_are_refused() {
    let t = tree();
    let b = Beneath::new(&t.root);
    for path in [
        t.outside.join("updates.lock"),
        t.root.join("services/../../outside/updates.lock"),
    ] {
        let err = b.take(&path, &TakeOptions::default()).unwrap_err();
        assert!(is_escape(&err), "{}: {err:?}", path.display());
        assert!(is_escape(&b.release(&path).unwrap_err()));
    }
    outside_untouched(&t);
}

#[test]
fn a_final_symlink_is_held_and_released_as_a_link() {
    let t = tree();
    let b = Beneath::new(&t.root);
    let lock = t.root.join("services/1/main/updates.lock");
    symlink(t.outside.join("updates.lock"), &lock).unwrap();
    assert!(b
        .take(&lock, &TakeOptions::default())
        .unwrap_err()
        .is_held());
    assert_eq!(b.inspect(&lock).unwrap().unwrap().kind, EntryKind::Symlink);
    assert!(b.release(&lock).unwrap());
    outside_untouched(&t);
}

#[test]
fn remove_tree_removes_a_dir_but_only_unlinks_links() {
    let t = tree();
    let b = Beneath::new(&t.root);
    fs::write(t.root.join("services/1/main/updates.lock"), "").unwrap();
    symlink(&t.outside, t.root.join("services/1/escape")).unwrap();
    assert!(b.remove_tree(&t.root.join("services/1")).unwrap());
    assert!(!t.root.join("services/1").exists());
    assert!(!b.remove_tree(&t.root.join("services/1")).unwrap());
    outside_untouched(&t);
    // A linked parent is refused, the outside left alone.
    plant_link(&t, "services");
    let err = b
        .remove_tree(&t.root.join("services/updates.lock"))
        .unwrap_err();
    assert!(is_escape(&err), "{err:?}");
    outside_untouched(&t);
}
