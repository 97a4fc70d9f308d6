//! `is_held` and `inspect`: lstat facts, never following links.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rstest::rstest;
use updatelock::{inspect, is_held, EntryKind};

#[derive(Debug, Clone, Copy)]
enum Entry {
    File,
    Dir,
    Symlink,
    DanglingSymlink,
    Fifo,
    Missing,
    UnderRegularFile,
}

/// Make `entry` at `<dir>/updates.lock` (or below a file) and return the lock path.
fn make(dir: &Path, entry: Entry) -> std::path::PathBuf {
    let path = dir.join("updates.lock");
    let target = dir.join("target");
    match entry {
        Entry::File => fs::write(&path, b"").unwrap(),
        Entry::Dir => fs::create_dir(&path).unwrap(),
        Entry::Symlink => {
            fs::write(&target, b"").unwrap();
            symlink(&target, &path).unwrap();
        }
        Entry::DanglingSymlink => symlink(&target, &path).unwrap(),
        Entry::Fifo => {
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap()
        }
        Entry::Missing => {}
        Entry::UnderRegularFile => {
            fs::write(&target, b"").unwrap();
            return target.join("updates.lock");
        }
    }
    path
}

#[rstest]
#[case::file(Entry::File, true)]
#[case::dir(Entry::Dir, true)]
#[case::symlink(Entry::Symlink, true)]
#[case::dangling_symlink(Entry::DanglingSymlink, true)]
#[case::fifo(Entry::Fifo, true)]
#[case::missing(Entry::Missing, false)]
#[case::under_regular_file(Entry::UnderRegularFile, false)]
fn is_held_means_any_entry(#[case] entry: Entry, #[case] held: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = make(dir.path(), entry);
    assert_eq!(is_held(&path).unwrap(), held, "{entry:?}");
    assert_eq!(inspect(&path).unwrap().is_some(), held, "{entry:?}");
}

#[rstest]
#[case::file(Entry::File, EntryKind::File)]
#[case::dir(Entry::Dir, EntryKind::Directory)]
#[case::symlink(Entry::Symlink, EntryKind::Symlink)]
#[case::dangling_symlink(Entry::DanglingSymlink, EntryKind::Symlink)]
#[case::fifo(Entry::Fifo, EntryKind::Other)]
fn inspect_reports_the_kind(#[case] entry: Entry, #[case] kind: EntryKind) {
    let dir = tempfile::tempdir().unwrap();
    let path = make(dir.path(), entry);
    assert_eq!(inspect(&path).unwrap().unwrap().kind, kind, "{entry:?}");
}

#[test]
fn inspect_reports_owner_mode_and_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updates.lock");
    let file = fs::File::create(&path).unwrap();
    let mtime = UNIX_EPOCH + Duration::new(1_600_000_000, 123_456_789);
    file.set_modified(mtime).unwrap();
    drop(file);
    nix::unistd::chown(
        &path,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65533)),
    )
    .unwrap();
    // After chown, which may clear set-id bits: setuid must be reported too.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o4440)).unwrap();

    let holder = inspect(&path).unwrap().unwrap();
    assert_eq!(holder.kind, EntryKind::File);
    assert_eq!((holder.uid, holder.gid), (65534, 65533));
    assert_eq!(holder.mode, 0o4440);
    assert_eq!(holder.mtime, mtime);
}

#[test]
fn inspect_describes_the_link_not_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    fs::write(&target, b"").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    fs::File::options()
        .write(true)
        .open(&target)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let path = dir.path().join("updates.lock");
    symlink(&target, &path).unwrap();

    let holder = inspect(&path).unwrap().unwrap();
    assert_eq!(holder.kind, EntryKind::Symlink);
    assert_eq!(holder.mode, 0o777, "symlinks are 0777 on Linux");
    assert_ne!(holder.mtime, old, "reported the target's mtime");
}
