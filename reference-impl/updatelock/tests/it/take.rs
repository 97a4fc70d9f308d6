//! `take`: exclusive create, ownership, and every way it must refuse.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, geteuid, setgid, setgroups, setuid, ForkResult, Gid, Uid};
use rstest::rstest;
use tempfile::TempDir;
use updatelock::{take, LockError, Owner, TakeOptions};

fn lock_in(dir: &TempDir) -> PathBuf {
    dir.path().join("updates.lock")
}

/// The process umask, read without changing it (other test threads create files).
fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

#[test]
fn creates_a_regular_file_with_the_requested_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let opts = TakeOptions {
        mode: 0o444,
        ..TakeOptions::default()
    };
    let lock = take(&path, &opts).unwrap();
    assert_eq!(lock.path(), path);
    let meta = fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_file(), "{:?}", meta.file_type());
    assert_eq!(meta.len(), 0);
    assert_eq!(meta.mode() & 0o7777, 0o444 & !umask());
    assert_eq!(meta.uid(), geteuid().as_raw());
}

#[test]
fn default_mode_is_0644() {
    assert_eq!(TakeOptions::default().mode, 0o644);
    assert_eq!(TakeOptions::default().owner, None);
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let _lock = take(&path, &TakeOptions::default()).unwrap();
    let mode = fs::symlink_metadata(&path).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o644 & !umask());
}

#[test]
fn second_take_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let _first = take(&path, &TakeOptions::default()).unwrap();
    let err = take(&path, &TakeOptions::default()).unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err:?}");
    assert!(err.is_held());
    assert_eq!(err.path(), path);
}

#[derive(Debug, Clone, Copy)]
enum Existing {
    File,
    EmptyDir,
    SymlinkToFile,
    DanglingSymlink,
}

#[rstest]
#[case::file(Existing::File)]
#[case::empty_dir(Existing::EmptyDir)]
#[case::symlink_to_file(Existing::SymlinkToFile)]
#[case::dangling_symlink(Existing::DanglingSymlink)]
fn any_existing_entry_is_held(#[case] existing: Existing) {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let target = dir.path().join("target");
    match existing {
        Existing::File => fs::write(&path, b"user").unwrap(),
        Existing::EmptyDir => fs::create_dir(&path).unwrap(),
        Existing::SymlinkToFile => {
            fs::write(&target, b"precious").unwrap();
            symlink(&target, &path).unwrap();
        }
        Existing::DanglingSymlink => symlink(&target, &path).unwrap(),
    }
    let before = fs::symlink_metadata(&path).unwrap();

    let err = take(&path, &TakeOptions::default()).unwrap_err();
    assert!(err.is_held(), "{existing:?}: {err:?}");

    let after = fs::symlink_metadata(&path).unwrap();
    assert_eq!(before.ino(), after.ino(), "{existing:?}: entry replaced");
    match existing {
        Existing::File => assert_eq!(fs::read(&path).unwrap(), b"user"),
        Existing::EmptyDir => assert!(after.is_dir()),
        Existing::SymlinkToFile => assert_eq!(fs::read(&target).unwrap(), b"precious"),
        Existing::DanglingSymlink => assert!(
            fs::symlink_metadata(&target).is_err(),
            "the dangling symlink's target was created"
        ),
    }
}

#[test]
fn owner_nobody_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let opts = TakeOptions {
        owner: Some(Owner::NOBODY),
        ..TakeOptions::default()
    };
    let _lock = take(&path, &opts).unwrap();
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
}

#[test]
fn owner_equal_to_current_ids_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let me = Owner {
        uid: geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    };
    let _lock = take(
        &path,
        &TakeOptions {
            owner: Some(me),
            ..TakeOptions::default()
        },
    )
    .unwrap();
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (me.uid, me.gid));
}

#[test]
fn owner_constants() {
    assert_eq!(Owner::ROOT, Owner { uid: 0, gid: 0 });
    assert_eq!(
        Owner::NOBODY,
        Owner {
            uid: 65534,
            gid: 65534
        }
    );
}

#[test]
fn missing_parent_is_io_enoent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("updates.lock");
    let err = take(&path, &TakeOptions::default()).unwrap_err();
    match &err {
        LockError::Io { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(Errno::ENOENT as i32))
        }
        other => panic!("expected Io(ENOENT), got {other:?}"),
    }
    assert_eq!(err.path(), path);
}

#[test]
fn parent_is_a_file_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("file");
    fs::write(&parent, b"").unwrap();
    let path = parent.join("updates.lock");
    let err = take(&path, &TakeOptions::default()).unwrap_err();
    assert!(matches!(err, LockError::NotADirectory { .. }), "{err:?}");
    assert_eq!(err.path(), path);
}

#[test]
fn symlink_loop_in_a_parent_is_io_not_held() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    symlink(&b, &a).unwrap();
    symlink(&a, &b).unwrap();
    let path = a.join("updates.lock");
    let err = take(&path, &TakeOptions::default()).unwrap_err();
    match &err {
        LockError::Io { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(Errno::ELOOP as i32))
        }
        other => panic!("expected Io(ELOOP), got {other:?}"),
    }
}

#[test]
fn dropping_a_lock_leaves_the_file_and_release_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    drop(take(&path, &TakeOptions::default()).unwrap());
    assert!(fs::symlink_metadata(&path).is_ok(), "drop removed the lock");
    fs::remove_file(&path).unwrap();

    let lock = take(&path, &TakeOptions::default()).unwrap();
    lock.release().unwrap();
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "release left the lock"
    );
}

#[test]
fn take_keeps_no_fd_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let _lock = take(&path, &TakeOptions::default()).unwrap();
    // Another test thread may open the same inode only if it uses this tempdir: none does.
    for fd in fs::read_dir("/proc/self/fd").unwrap() {
        let fd = fd.unwrap();
        if let Ok(target) = fs::read_link(fd.path()) {
            assert_ne!(
                target,
                path,
                "fd {:?} still open on the lock",
                fd.file_name()
            );
        }
    }
}

// --- Permission, for real: a forked child drops to nobody. ---

const CHILD_PERMISSION: i32 = 10;
const CHILD_OK: i32 = 11;
const CHILD_OTHER_ERROR: i32 = 12;
const CHILD_SETUID_FAILED: i32 = 13;
const CHILD_PANICKED: i32 = 14;

/// Run `take(path, opts)` in a forked child that has become 65534:65534 and
/// return its verdict code. `None` when not root (cannot drop privileges).
fn take_as_nobody(path: &Path, opts: &TakeOptions) -> Option<i32> {
    if !geteuid().is_root() {
        eprintln!("skipped: needs root to fork a child that setuid(65534)s");
        return None;
    }
    // SAFETY: the child only makes syscalls and allocates (glibc malloc is
    // fork-safe), never touches locks another thread may hold, and _exits.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let nobody = (Uid::from_raw(65534), Gid::from_raw(65534));
                if setgroups(&[]).is_err() || setgid(nobody.1).is_err() || setuid(nobody.0).is_err()
                {
                    return CHILD_SETUID_FAILED;
                }
                match take(path, opts) {
                    Ok(_lock) => CHILD_OK,
                    Err(LockError::Permission { .. }) => CHILD_PERMISSION,
                    Err(_) => CHILD_OTHER_ERROR,
                }
            }))
            .unwrap_or(CHILD_PANICKED);
            // SAFETY: _exit is async-signal-safe and skips the parent's atexit state.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Exited(_, code) => Some(code),
            other => panic!("child did not exit normally: {other:?}"),
        },
    }
}

#[test]
fn unprivileged_take_in_root_owned_0755_dir_is_permission() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let path = lock_in(&dir);
    let Some(code) = take_as_nobody(&path, &TakeOptions::default()) else {
        return;
    };
    assert_eq!(code, CHILD_PERMISSION, "child verdict");
    assert!(fs::symlink_metadata(&path).is_err(), "a lock was created");
}

#[test]
fn failed_fchown_is_permission_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let path = lock_in(&dir);
    let opts = TakeOptions {
        owner: Some(Owner::ROOT),
        ..TakeOptions::default()
    };
    let Some(code) = take_as_nobody(&path, &opts) else {
        return;
    };
    assert_eq!(code, CHILD_PERMISSION, "child verdict");
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "the file created before the failed fchown was left behind"
    );
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A take for another owner that finds the lock held refuses without
/// making anything in the holder's dir: a retrying supervisor would
/// otherwise create and remove a private file there on every try.
#[test]
fn a_refused_take_for_another_owner_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    fs::write(&path, "").unwrap();
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
    inotify
        .add_watch(dir.path(), AddWatchFlags::IN_CREATE)
        .unwrap();
    let opts = TakeOptions {
        owner: Some(Owner::NOBODY),
        ..TakeOptions::default()
    };
    let err = take(&path, &opts).unwrap_err();
    assert!(matches!(err, LockError::Held { .. }), "{err:?}");
    match inotify.read_events() {
        Err(Errno::EAGAIN) => {}
        other => panic!("expected no entry created, got {other:?}"),
    }
}

/// A taker SIGKILLed at any instant of a take for another owner leaves
/// either nothing or a lock of that owner at the lock path: never one
/// with the creator's ids, which would look like somebody else's lock
/// (root-owned here) and block forever. Before the lock was made under a
/// private name, a kill between `open` and `fchown` left exactly that
/// (refsup's chaos test hit it).
#[test]
fn a_kill_mid_take_never_leaves_a_lock_of_the_wrong_owner() {
    if !geteuid().is_root() {
        eprintln!("skipped: needs root to give a lock to uid 65534");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = lock_in(&dir);
    let opts = TakeOptions {
        owner: Some(Owner::NOBODY),
        ..TakeOptions::default()
    };
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut seen_locks = 0;
    for round in 0..200 {
        // SAFETY: the child only makes syscalls in a loop until killed.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => loop {
                if let Ok(lock) = take(&path, &opts) {
                    let _ = lock.release();
                }
            },
            ForkResult::Parent { child } => {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                std::thread::sleep(Duration::from_micros(200 + rng % 800));
                kill(child, Signal::SIGKILL).unwrap();
                waitpid(child, None).unwrap();
            }
        }
        if let Ok(meta) = fs::symlink_metadata(&path) {
            seen_locks += 1;
            assert_eq!(
                (meta.uid(), meta.gid()),
                (65534, 65534),
                "round {round}: a kill left a lock of the wrong owner"
            );
            fs::remove_file(&path).unwrap();
        }
        // A private name left by the kill is not a lock; clear it.
        for e in fs::read_dir(dir.path()).unwrap().flatten() {
            fs::remove_file(e.path()).unwrap();
        }
    }
    assert!(seen_locks > 0, "no kill landed while a lock was held");
}

#[test]
fn unprivileged_take_for_itself_needs_no_fchown() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let path = lock_in(&dir);
    let opts = TakeOptions {
        owner: Some(Owner::NOBODY),
        ..TakeOptions::default()
    };
    let Some(code) = take_as_nobody(&path, &opts) else {
        return;
    };
    assert_eq!(code, CHILD_OK, "child verdict");
    let meta = fs::symlink_metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
}
