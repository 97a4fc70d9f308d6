//! `find_locks`: recursive, sorted, never through symlinks.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use updatelock::{find_locks, EntryKind};

const NAMES: &[&str] = &["updates.lock", "resin-updates.lock"];

#[test]
fn finds_names_at_several_depths_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Created out of order, with a sibling ("a-b") that sorts differently as
    // a string than as a path.
    for sub in ["z/deep/er", "a-b", "a/x", "m"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    fs::write(root.join("z/deep/er/updates.lock"), b"").unwrap();
    fs::write(root.join("a-b/updates.lock"), b"").unwrap();
    fs::create_dir(root.join("a/x/resin-updates.lock")).unwrap();
    fs::write(root.join("updates.lock"), b"").unwrap();
    fs::write(root.join("m/other.lock"), b"").unwrap();
    fs::write(root.join("m/updates.lock.bak"), b"").unwrap();

    let found = find_locks(root, NAMES).unwrap();
    let paths: Vec<PathBuf> = found.iter().map(|f| f.path.clone()).collect();
    let mut expected: Vec<PathBuf> = [
        "a/x/resin-updates.lock",
        "a-b/updates.lock",
        "updates.lock",
        "z/deep/er/updates.lock",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    expected.sort();
    assert_eq!(paths, expected);
    let dir_lock = found
        .iter()
        .find(|f| f.path.ends_with("resin-updates.lock"))
        .unwrap();
    assert_eq!(dir_lock.holder.kind, EntryKind::Directory);
    assert!(found.windows(2).all(|w| w[0].path < w[1].path));
}

#[test]
fn does_not_descend_a_symlinked_directory() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("updates.lock"), b"").unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir(&tree).unwrap();
    symlink(&outside, tree.join("linked")).unwrap();
    // A symlinked directory whose own name matches is reported, as a symlink.
    symlink(&outside, tree.join("updates.lock")).unwrap();

    let found = find_locks(&tree, NAMES).unwrap();
    let paths: Vec<PathBuf> = found.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        paths,
        vec![tree.join("updates.lock")],
        "walked through a link"
    );
    assert_eq!(found[0].holder.kind, EntryKind::Symlink);
}

#[test]
fn reports_dangling_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    symlink(dir.path().join("nowhere"), dir.path().join("updates.lock")).unwrap();
    let found = find_locks(dir.path(), NAMES).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].holder.kind, EntryKind::Symlink);
}

#[test]
fn missing_dir_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(find_locks(&dir.path().join("missing"), NAMES)
        .unwrap()
        .is_empty());
    fs::write(dir.path().join("file"), b"").unwrap();
    assert!(find_locks(&dir.path().join("file/sub"), NAMES)
        .unwrap()
        .is_empty());
}

#[test]
fn no_names_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("updates.lock"), b"").unwrap();
    assert!(find_locks(dir.path(), &[]).unwrap().is_empty());
    assert_eq!(find_locks(dir.path(), NAMES).unwrap().len(), 1);
}
