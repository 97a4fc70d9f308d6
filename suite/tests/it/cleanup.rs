//! A run leaves nothing behind: no process it started (supervisors,
//! services, including those of a crashed supervisor) and no scratch dir,
//! whether it ends, is interrupted, or is killed (then the next run reaps
//! what it left). Each run gets its own TMPDIR and is told apart by its own
//! mark, so other runs on the machine do not matter.

use crate::common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{lockcheck_command, marked_alive, owner_of, scratch_dirs};
use lockcheck_reaper::{Owner, Scratch};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The cases that restart or crash the supervisor, on profiles where they
/// run (P3 only exists on the old ones).
const CRASHY: &[&str] = &[
    "--case",
    "P3",
    "--case",
    "C1",
    "--case",
    "O4",
    "--case",
    "L3",
    "--profile",
    "2.8.2@1.20.0",
    "--profile",
    "4.1.1@1.26.0",
    "--profile",
    "13.1.0@2.88.0",
    "--profile",
    "17.3.5@5.1.0",
];

/// `lockcheck run ARGS` with its own TMPDIR and runs dir, output captured.
fn start_run(tmp: &Scratch, args: &[&str]) -> Child {
    let runs = tmp.path().join("runs");
    let base = ["run", "--no-progress", "--runs-dir", runs.to_str().unwrap()];
    let mut cmd = lockcheck_command(&[&base[..], args].concat());
    cmd.env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start lockcheck run")
}

/// Wait until the run has a fixture service running.
fn wait_for_a_service(owner: &Owner) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marked_alive(owner)
        .iter()
        .any(|(_, cmd)| cmd.contains(" fixture "))
    {
        assert!(Instant::now() < deadline, "the run never started a service");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_nothing_left(owner: &Owner, tmp: &Scratch) {
    assert_eq!(
        marked_alive(owner),
        vec![],
        "processes of run {owner} still alive"
    );
    assert_eq!(
        scratch_dirs(tmp.path()),
        Vec::<String>::new(),
        "scratch dirs left"
    );
    assert!(
        !tmp.path().join("runs").exists(),
        "nothing kept, so no runs dir"
    );
}

/// The cell dirs under the runs dir.
fn cell_dirs(tmp: &Scratch) -> Vec<std::path::PathBuf> {
    let Ok(runs) = std::fs::read_dir(tmp.path().join("runs")) else {
        return Vec::new();
    };
    runs.flatten()
        .flat_map(|run| {
            std::fs::read_dir(run.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|cell| cell.path())
        .collect()
}

#[test]
fn cells_that_restart_or_crash_the_supervisor_leave_nothing() {
    let tmp = Scratch::new("cleanup-test").unwrap();
    let run = start_run(&tmp, CRASHY);
    let owner = owner_of(&run);
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("P3 /data cleared at start    hazard"),
        "{stdout}"
    );
    assert_nothing_left(&owner, &tmp);
}

#[test]
fn sigint_stops_the_run_cleans_up_and_reports_what_finished() {
    let tmp = Scratch::new("cleanup-test").unwrap();
    let run = start_run(&tmp, &[]);
    let owner = owner_of(&run);
    wait_for_a_service(&owner);
    kill(Pid::from_raw(run.id() as i32), Signal::SIGINT).unwrap();
    let started = Instant::now();
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?} to stop",
        started.elapsed()
    );
    assert!(stderr.contains("stopped by SIGINT"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("L1 exclusive"),
        "the matrix is printed: {stdout}"
    );
    assert!(
        !stdout.contains("FAIL"),
        "interrupted cells are not failures: {stdout}"
    );
    assert_nothing_left(&owner, &tmp);
}

#[test]
fn a_run_after_a_killed_one_reaps_what_it_left() {
    let tmp = Scratch::new("cleanup-test").unwrap();
    // As a CI time-out that kills the whole process group does: SIGKILL to
    // its supervisors and the run; the services, in groups of their own,
    // survive.
    let mut killed = start_run(&tmp, &[]);
    let dead = owner_of(&killed);
    wait_for_a_service(&dead);
    for (pid, cmd) in marked_alive(&dead) {
        if cmd.contains(" refsup ") {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(
        !cell_dirs(&tmp).is_empty(),
        "a killed run leaves its cell dirs"
    );

    let next = start_run(&tmp, &["--case", "L2", "--profile", "17.3.5@5.1.0"]);
    let out = next.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("removed what an earlier killed run left"),
        "{stderr}"
    );
    assert_nothing_left(&dead, &tmp);
    // The services re-parented to this test binary: collect them.
    lockcheck_reaper::reap_adopted();
}
