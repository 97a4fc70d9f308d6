//! `release`: removes any kind of entry, never following links.

use std::fs;
use std::os::unix::fs::symlink;

use nix::errno::Errno;
use rstest::rstest;
use updatelock::{release, LockError};

#[derive(Debug, Clone, Copy)]
enum Entry {
    File,
    EmptyDir,
    SymlinkToFile,
    SymlinkToDir,
    DanglingSymlink,
}

#[rstest]
#[case::file(Entry::File)]
#[case::empty_dir(Entry::EmptyDir)]
#[case::symlink_to_file(Entry::SymlinkToFile)]
#[case::symlink_to_dir(Entry::SymlinkToDir)]
#[case::dangling_symlink(Entry::DanglingSymlink)]
fn removes_the_entry_itself(#[case] entry: Entry) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updates.lock");
    let target = dir.path().join("target");
    match entry {
        Entry::File => fs::write(&path, b"").unwrap(),
        Entry::EmptyDir => fs::create_dir(&path).unwrap(),
        Entry::SymlinkToFile => {
            fs::write(&target, b"precious").unwrap();
            symlink(&target, &path).unwrap();
        }
        Entry::SymlinkToDir => {
            fs::create_dir(&target).unwrap();
            symlink(&target, &path).unwrap();
        }
        Entry::DanglingSymlink => symlink(&target, &path).unwrap(),
    }

    assert!(release(&path).unwrap(), "{entry:?}");
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "{entry:?} still there"
    );
    match entry {
        Entry::SymlinkToFile => assert_eq!(fs::read(&target).unwrap(), b"precious"),
        Entry::SymlinkToDir => assert!(fs::metadata(&target).unwrap().is_dir()),
        Entry::DanglingSymlink => assert!(fs::symlink_metadata(&target).is_err()),
        Entry::File | Entry::EmptyDir => {}
    }
}

#[rstest]
#[case::missing("updates.lock")]
#[case::under_a_regular_file("file/updates.lock")]
fn nothing_there_is_ok_false(#[case] rel: &str) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file"), b"").unwrap();
    assert!(!release(&dir.path().join(rel)).unwrap());
    assert!(fs::symlink_metadata(dir.path().join("file")).is_ok());
}

#[test]
fn non_empty_directory_is_an_error_and_survives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updates.lock");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"").unwrap();
    let err = release(&path).unwrap_err();
    match &err {
        LockError::Io { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(Errno::ENOTEMPTY as i32))
        }
        other => panic!("expected Io(ENOTEMPTY), got {other:?}"),
    }
    assert_eq!(err.path(), path);
    assert!(path.join("inside").exists());
}

#[test]
fn second_release_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updates.lock");
    fs::write(&path, b"").unwrap();
    assert!(release(&path).unwrap());
    assert!(!release(&path).unwrap());
}
