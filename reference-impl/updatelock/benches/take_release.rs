//! take+release cost: the library vs bare syscalls vs spawning procmail's
//! `lockfile`. A plain binary (no criterion):
//! `cargo bench -p updatelock --bench take_release`.
//!
//! The library must stay within 1.30x of bare `open(O_CREAT|O_EXCL)` +
//! `close` + `unlink`; the spawn figure shows what a shell-script lock costs.

use std::env;
use std::ffi::CString;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::libc;
use updatelock::{release, take, TakeOptions};

const ROUNDS: usize = 20;
const ITERS: usize = 2000;
const SPAWN_ITERS: usize = 200;
const BUDGET: f64 = 1.30;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("updates.lock");
    let cpath = CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    let opts = TakeOptions::default();

    // Warm up caches, the dentry and the allocator.
    library(&path, &opts, ITERS);
    bare(&cpath, ITERS);

    let mut lib_ns = Vec::with_capacity(ROUNDS);
    let mut bare_ns = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        // Alternate which goes first so drift hits both equally.
        if round % 2 == 0 {
            lib_ns.push(library(&path, &opts, ITERS));
            bare_ns.push(bare(&cpath, ITERS));
        } else {
            bare_ns.push(bare(&cpath, ITERS));
            lib_ns.push(library(&path, &opts, ITERS));
        }
    }
    let lib = median(&mut lib_ns);
    let bare = median(&mut bare_ns);
    let ratio = lib / bare;
    println!(
        "take+release, median of {ROUNDS} rounds x {ITERS} iterations, in {}",
        dir.path().display()
    );
    println!("  library            {lib:>10.0} ns/op");
    println!("  bare syscalls      {bare:>10.0} ns/op");
    println!(
        "  library/bare = {ratio:.2}x (budget {BUDGET:.2}x: {})",
        if ratio <= BUDGET { "within" } else { "OVER" }
    );

    match find_on_path("lockfile") {
        Some(lockfile) => {
            let spawn = lockfile_spawn(&lockfile, &path, SPAWN_ITERS);
            println!("  lockfile-spawn     {spawn:>10.0} ns/op ({SPAWN_ITERS} iterations, {})", lockfile.display());
            println!("  lockfile-spawn/library = {:.1}x", spawn / lib);
        }
        None => println!(
            "  lockfile-spawn     skipped: procmail's `lockfile` is not on PATH (`apt-get install procmail` provides it)"
        ),
    }
}

/// Mean ns per take+release through the library.
fn library(path: &Path, opts: &TakeOptions, iters: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        let lock = take(black_box(path), opts).expect("take");
        lock.release().expect("release");
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// Mean ns per open(O_CREAT|O_EXCL|...) + close + unlink, straight to libc.
fn bare(path: &CString, iters: usize) -> f64 {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC;
    let start = Instant::now();
    for _ in 0..iters {
        // SAFETY: `path` is a valid NUL-terminated string; the fd is ours.
        unsafe {
            let fd = libc::open(black_box(path).as_ptr(), flags, 0o644 as libc::c_uint);
            assert!(fd >= 0, "open: {}", std::io::Error::last_os_error());
            libc::close(fd);
            assert_eq!(libc::unlink(path.as_ptr()), 0, "unlink");
        }
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// Mean ns per `lockfile -r 0 PATH` spawn + unlink.
fn lockfile_spawn(lockfile: &Path, path: &Path, iters: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        let status = Command::new(lockfile)
            .args(["-r", "0"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("spawn lockfile");
        assert!(status.success(), "lockfile failed: {status}");
        assert!(release(path).expect("unlink"), "lockfile created nothing");
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    // Both middles: the same element when n is odd.
    (samples[(n - 1) / 2] + samples[n / 2]) / 2.0
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
