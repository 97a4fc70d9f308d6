//! Taking and releasing every lock of one app with refsup's real `TakeAll`,
//! for apps of 1, 10, 100 and 1000 services. A plain binary (no criterion):
//! `cargo bench -p refsup --bench app_locks`.
//!
//! The cost per service must stay flat: the 1000-service app may cost at most
//! 2.00x per service what the 1-service app does. The per-lock cost is also
//! compared with bare `open(O_CREAT|O_EXCL)` + `close` + `unlink` of as many
//! files in the same dirs, and with the same plus the `fchown` to nobody that
//! the 17.3.5 rules add to every take (we run as root, so it is not skipped).
//!
//! The lock dirs live on tmpfs on a device, so the temp dir is made in
//! `/dev/shm` when it exists (else in `$TMPDIR`): on a disk filesystem the
//! numbers measure the journal and the page cache more than the code.

use std::ffi::CString;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lockgates::Profile;
use nix::libc;
use refsup::fault::Faults;
use refsup::layout::Layout;
use refsup::locking::{LockRules, TakeAll};

const SIZES: [usize; 4] = [1, 10, 100, 1000];
const ROUNDS: usize = 21;
/// Locks taken per timed sample, whatever the app size.
const LOCKS_PER_SAMPLE: usize = 4000;
const PROFILE: &str = "17.3.5@5.1.0";
const BUDGET: f64 = 2.00;

fn main() {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    let profile: Profile = PROFILE.parse().expect("profile");
    let layout = Layout::new(dir.path().to_path_buf(), profile.clone());
    let rules = LockRules::new(
        &profile,
        &Faults::default(),
        updatelock::Beneath::new(dir.path()),
    );
    println!(
        "take+release of all locks of one app ({PROFILE}: {} lock files per service, owner uid {}), \
         median of {ROUNDS} rounds x ~{LOCKS_PER_SAMPLE} locks, in {}",
        profile.lock_files().len(),
        rules.owner.uid,
        dir.path().display()
    );
    println!(
        "  {:>8} {:>6} {:>16} {:>13} {:>13} {:>13} {:>10} {:>10}",
        "services",
        "locks",
        "per service",
        "per lock",
        "bare",
        "bare+fchown",
        "vs bare",
        "vs +fchown"
    );

    let (mut per_service, mut bare_per_service) = (Vec::new(), Vec::new());
    for (app_id, &services) in (1u32..).zip(SIZES.iter()) {
        let paths = lock_paths(&layout, &profile, app_id, services);
        let cpaths: Vec<CString> = paths.iter().map(|p| cstring(p)).collect();
        let iters = (LOCKS_PER_SAMPLE / paths.len()).max(1);

        // Warm up the dentries and the allocator.
        take_all(&paths, &rules, iters);
        bare(&cpaths, None, iters);

        let owner = Some(rules.owner.uid);
        let (mut lib_ns, mut bare_ns, mut chown_ns) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Rotate which goes first so drift hits all equally.
            for k in 0..3 {
                match (round + k) % 3 {
                    0 => lib_ns.push(take_all(&paths, &rules, iters)),
                    1 => bare_ns.push(bare(&cpaths, None, iters)),
                    _ => chown_ns.push(bare(&cpaths, owner, iters)),
                }
            }
        }
        let app = median(&mut lib_ns);
        let bare_app = median(&mut bare_ns);
        let chown_app = median(&mut chown_ns);
        let locks = paths.len() as f64;
        let service_us = app / services as f64 / 1e3;
        per_service.push(service_us);
        bare_per_service.push(bare_app / services as f64);
        println!(
            "  {services:>8} {:>6} {service_us:>13.2} µs {:>10.2} µs {:>10.2} µs {:>10.2} µs {:>9.2}x {:>9.2}x",
            paths.len(),
            app / locks / 1e3,
            bare_app / locks / 1e3,
            chown_app / locks / 1e3,
            app / bare_app,
            app / chown_app
        );
    }
    let flat = per_service[SIZES.len() - 1] / per_service[0];
    println!(
        "  flat: 1000/1 = {flat:.2}x (budget {BUDGET:.2}x: {})",
        if flat <= BUDGET { "within" } else { "OVER" }
    );
    println!(
        "  (bare syscalls alone: 1000/1 = {:.2}x, the filesystem's share)",
        bare_per_service[SIZES.len() - 1] / bare_per_service[0]
    );
}

/// The app's lock paths as the engine builds them: per service, the
/// profile's lock files in take order, under pre-created lock dirs.
fn lock_paths(layout: &Layout, profile: &Profile, app_id: u32, services: usize) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for i in 0..services {
        let service = format!("service{i}");
        std::fs::create_dir_all(layout.service_lock_dir(app_id, &service)).expect("lock dir");
        for file in profile.lock_files() {
            paths.push(layout.lock_path(app_id, &service, &file));
        }
    }
    paths
}

/// Mean ns per take-all + release-all of `paths` through `TakeAll`.
fn take_all(paths: &[PathBuf], rules: &LockRules, iters: usize) -> f64 {
    let inputs: Vec<(Vec<PathBuf>, LockRules)> = (0..iters)
        .map(|_| (paths.to_vec(), rules.clone()))
        .collect();
    let start = Instant::now();
    for (paths, rules) in inputs {
        let held = TakeAll::new(black_box(paths), rules, false)
            .run()
            .expect("no lock is held");
        held.release().expect("release");
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// Mean ns per open(O_CREAT|O_EXCL|...) (+ fchown to `owner`) + close +
/// unlink of every path.
fn bare(paths: &[CString], owner: Option<u32>, iters: usize) -> f64 {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC;
    let start = Instant::now();
    for _ in 0..iters {
        for path in paths {
            // SAFETY: `path` is a valid NUL-terminated string; the fd is ours.
            unsafe {
                let fd = libc::open(black_box(path).as_ptr(), flags, 0o644 as libc::c_uint);
                assert!(fd >= 0, "open: {}", std::io::Error::last_os_error());
                if let Some(id) = owner {
                    assert_eq!(libc::fchown(fd, id, id), 0, "fchown");
                }
                libc::close(fd);
            }
        }
        for path in paths.iter().rev() {
            // SAFETY: as above.
            assert_eq!(unsafe { libc::unlink(path.as_ptr()) }, 0, "unlink");
        }
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("path without NUL")
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    (samples[(n - 1) / 2] + samples[n / 2]) / 2.0
}
