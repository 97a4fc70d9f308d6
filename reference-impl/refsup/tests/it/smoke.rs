//! End to end on the process runtime: target state -> service running -> a
//! user lock blocks the update (downloaded, not applied) -> lock removed ->
//! new release running; and a crashed refsup adopts its services on restart.

use crate::common;

use common::{running, service, target, wait_for, wait_release, Refsup};

const PROFILE: &str = "17.3.5@5.1.0";

#[test]
fn a_user_lock_blocks_the_update_until_it_is_removed() {
    let r = Refsup::start(PROFILE, &[]);
    let (s, _) = r.post(
        "/v2/local/target-state",
        &target("aaa", &[("main", &["sleep", "1000"])]),
    );
    assert_eq!(s, 200);
    let pid1 = wait_release(&r, "aaa");

    // The app takes its lock the way the contract says (exclusive create).
    let lock = r.lock_dir(1, "main").join("updates.lock");
    let user_lock = updatelock::take(&lock, &updatelock::TakeOptions::default()).unwrap();

    let (s, _) = r.post(
        "/v2/local/target-state",
        &target("bbb", &[("main", &["sleep", "1001"])]),
    );
    assert_eq!(s, 200);
    // U1: downloaded, pending, blocked by exactly our lock.
    wait_for(20, "update downloaded and blocked", || {
        let (_, dev) = r.get("/v1/device");
        let (_, apps) = r.get("/v2/applications/state");
        let blocked = apps["app"]["blocked"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (dev["update_downloaded"] == true
            && dev["update_pending"] == true
            && blocked.contains("updates.lock"))
        .then_some(())
    });
    assert_eq!(
        service(&r, "main"),
        Some(("aaa".into(), "Running".into(), pid1)),
        "killed while locked"
    );
    assert!(
        lock.exists(),
        "the supervisor must never remove a user lock"
    );

    user_lock.release().unwrap();
    let pid2 = wait_release(&r, "bbb");
    assert_ne!(pid1, pid2, "the new release runs in a new process");
    let (_, dev) = r.get("/v1/device");
    assert_eq!(dev["update_pending"], false);
    assert!(!lock.exists(), "no supervisor lock left behind");
}

#[test]
fn a_crashed_supervisor_adopts_its_services_and_keeps_its_target() {
    let (r, pid) = running(PROFILE, &[]);
    let (root, _dir) = r.crash();
    let r2 = Refsup::start_on(&root, PROFILE, &[]);
    let (_, t) = r2.get("/v2/local/target-state");
    assert_eq!(
        t["state"]["local"]["apps"]["1"]["commit"], "aaa",
        "accepted target survives SIGKILL"
    );
    let again = wait_for(20, "adopted service listed", || service(&r2, "main"));
    assert_eq!(
        again,
        ("aaa".into(), "Running".into(), pid),
        "adopted, not started twice"
    );
    let (_, dev) = r2.get("/v1/device");
    assert_eq!(dev["boot_count"], 1, "a supervisor restart is not a reboot");
}

#[test]
fn sigterm_ends_a_pause_and_stops_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let pause = dir.path().join("pause");
    let (mut r, pid) = running(PROFILE, &["--pause-after-lock", pause.to_str().unwrap()]);
    r.post(
        "/v2/local/target-state",
        &target("bbb", &[("main", &["sleep", "1001"])]),
    );
    wait_for(20, "the pause after taking locks", || {
        pause.exists().then_some(())
    });
    unsafe { libc::kill(r.child.id() as i32, libc::SIGTERM) };
    let status = r.child.wait().unwrap();
    assert!(
        status.success(),
        "refsup exits cleanly on SIGTERM even while paused: {status}"
    );
    let pid = pid.unwrap() as i32;
    assert_eq!(
        unsafe { libc::kill(pid, 0) },
        -1,
        "the service process {pid} was stopped"
    );
}

#[test]
fn apps_sharing_a_name_are_both_listed() {
    let r = Refsup::start(PROFILE, &[]);
    let mut state = target("aaa", &[("main", &["sleep", "1000"])]);
    state["local"]["apps"]["2"] = state["local"]["apps"]["1"].clone();
    assert_eq!(r.post("/v2/local/target-state", &state).0, 200);
    wait_for(20, "both apps running", || {
        (r.containers().len() == 2).then_some(())
    });
    let (_, apps) = r.get("/v2/applications/state");
    let ids: Vec<_> = apps
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["appId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{apps}");
    assert!(ids.contains(&1) && ids.contains(&2), "{apps}");
}
