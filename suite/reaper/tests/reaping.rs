//! The reaper against real processes: an orphan of a killed "supervisor"
//! re-parents to the test, is killed with its scope and reaped; other
//! scopes and live owners are never touched; dead owners' things are.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use lockcheck_reaper::{
    become_subreaper, kill_marked, reap_dead_runs, wait_timeout, Filter, Mark, Owner, Scratch,
};

/// One test at a time: orphans re-parent to this whole test binary, and
/// `kill_adopted` takes them all.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A "supervisor" (sh) that starts a "service" (sleep) in its own session,
/// as the process runtime does; returns the supervisor and the service pid.
fn supervisor_with_service(mark: &Mark) -> (Child, i32) {
    let mut cmd = Command::new("sh");
    // The service prints its pid once it leads its own session.
    cmd.args([
        "-c",
        "setsid sh -c 'echo $$; exec sleep 300' & exec sleep 301",
    ])
    .stdout(Stdio::piped());
    mark.apply(&mut cmd);
    let mut child = cmd.spawn().expect("sh");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().expect("service pid"))
}

fn stat_field(pid: i32, index_after_name: usize) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    after
        .split_whitespace()
        .nth(index_after_name)
        .map(str::to_string)
}

fn gone(pid: i32) -> bool {
    stat_field(pid, 0).is_none()
}

#[test]
fn an_orphan_is_killed_with_its_scope_and_reaped() {
    let _serial = serial();
    become_subreaper().unwrap();
    let mark = Mark::new("orphan-test");
    let other = Mark::new("other-scope");
    let (mut sup, service) = supervisor_with_service(&mark);
    let (mut bystander, bystander_service) = supervisor_with_service(&other);

    // The supervisor crashes: its service re-parents to us, not to init.
    sup.kill().unwrap();
    sup.wait().unwrap();
    let me = std::process::id().to_string();
    assert_eq!(stat_field(service, 1).as_deref(), Some(me.as_str()));

    assert_eq!(kill_marked(&Filter::Scope(mark.clone())), 1);
    assert!(gone(service), "the orphan is killed and reaped, no zombie");
    assert!(!gone(bystander_service), "another scope is untouched");
    assert_eq!(kill_marked(&Filter::Scope(mark)), 0);

    // The bystander supervisor is our own child: killed, but left to its
    // Child to reap.
    assert_eq!(kill_marked(&Filter::Scope(other)), 2);
    assert!(bystander.try_wait().unwrap().is_some());
    assert!(gone(bystander_service));
}

#[test]
fn only_dead_owners_leftovers_are_reaped() {
    let _serial = serial();
    become_subreaper().unwrap();
    let me = Owner::this_process();
    let dead = Mark {
        owner: Owner {
            start_time: me.start_time + 1,
            ..me
        },
        scope: "dead-run".into(),
    };
    let live = Mark::new("live-run");
    let (mut dead_sup, dead_service) = supervisor_with_service(&dead);
    let (mut live_sup, live_service) = supervisor_with_service(&live);
    let tmp = tempfile::tempdir().unwrap();
    let live_dir = Scratch::new_in(tmp.path(), "live").unwrap();
    live_dir.set_keep(true);

    let reaped = reap_dead_runs(tmp.path());
    // At least this test's two: a killed run elsewhere on the machine (a
    // killed `cargo test`, say) leaves marked processes that are reaped too.
    // Which ones must go and which must stay is checked one by one below.
    assert!(reaped.processes >= 2, "{reaped:?}");
    assert!(dead_sup.try_wait().unwrap().is_some());
    assert!(gone(dead_service), "killed, re-parented to us and reaped");
    assert!(!gone(live_service) && live_dir.path().exists());
    assert!(live_sup.try_wait().unwrap().is_none());

    assert_eq!(kill_marked(&Filter::Scope(live)), 2);
    assert!(live_sup.try_wait().unwrap().is_some());
    live_dir.set_keep(false);
}

#[test]
fn wait_timeout_waits_for_the_exit_event() {
    let mut child = Command::new("sleep").arg("300").spawn().unwrap();
    assert!(wait_timeout(&mut child, Duration::from_millis(50))
        .unwrap()
        .is_none());
    child.kill().unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(10)).unwrap();
    assert!(status.is_some_and(|s| !s.success()));
}

#[test]
fn unmarked_orphans_are_killed_at_the_end() {
    let _serial = serial();
    become_subreaper().unwrap();
    // No mark at all: only the re-parenting tells it is ours.
    let mut sup = Command::new("sh")
        .args([
            "-c",
            "setsid sh -c 'echo $$; exec sleep 302' & exec sleep 303",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sup.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let orphan: i32 = line.trim().parse().unwrap();
    sup.kill().unwrap();
    sup.wait().unwrap();
    assert!(lockcheck_reaper::kill_adopted() >= 1);
    assert!(gone(orphan));
}
