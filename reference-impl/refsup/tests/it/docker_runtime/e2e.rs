//! End to end: the refsup binary with `--runtime docker`, driven through
//! its API: a service runs as a container; an update waits for a lock file
//! made in the host lock dir without touching the service, and applies
//! once it is gone; a reboot stops and starts the containers; a refsup
//! killed with SIGKILL is adopted by the next.

use serde_json::{json, Value};

use super::engine::{self, Cleanup};
use super::POLITE;
use crate::common::{wait_for, Refsup};

const PROFILE: &str = "17.3.5@5.1.0";

/// A one-app target whose service `main` runs the test image.
fn target(image: &str, commit: &str, release: u64, command: &[&str]) -> Value {
    json!({"local": {"name": "dev", "config": {}, "apps": {"1": {
        "name": "app", "commit": commit, "releaseId": release,
        "services": {"main": {"image": image, "command": command,
            "labels": {engine::TEST_LABEL: "1"}}}}}}})
}

/// (containerId, commit, status) of service `main`.
fn main_service(r: &Refsup) -> Option<(String, String, String)> {
    let field = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    r.containers()
        .into_iter()
        .find(|c| c["serviceName"] == "main")
        .map(|c| {
            (
                field(&c, "containerId"),
                field(&c, "commit"),
                field(&c, "status"),
            )
        })
}

/// Wait until `main` runs `commit`; returns its container id.
fn wait_running(r: &Refsup, commit: &str) -> String {
    wait_for(60, &format!("main running {commit}"), || {
        main_service(r).filter(|(_, c, st)| c == commit && st == "Running")
    })
    .0
}

fn flags<'a>(url: &'a str, device: &'a str) -> [&'a str; 6] {
    [
        "--runtime",
        "docker",
        "--engine",
        url,
        "--device-id",
        device,
    ]
}

/// Whether the engine runs container `id` (`None`: no such container).
fn engine_running(url: &str, id: &str) -> Option<bool> {
    inspect(url, id).map(|(running, _)| running)
}

/// (running, labels) of container `id` on the engine.
fn inspect(url: &str, id: &str) -> Option<(bool, std::collections::HashMap<String, String>)> {
    let (url, id) = (url.to_string(), id.to_string());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let docker = refsup::runtime::docker::connect(&url).await.unwrap();
                let c = docker.inspect_container(&id, None).await.ok()?;
                let running = c.state.and_then(|s| s.running) == Some(true);
                Some((running, c.config?.labels.unwrap_or_default()))
            })
    })
    .join()
    .unwrap()
}

#[test]
fn an_update_waits_for_a_lock_in_the_host_lock_dir_then_applies() {
    let device = engine::new_device();
    let Some(engine) = engine::engine() else {
        return;
    };
    let _cleanup = Cleanup::new(engine, &[&device]);
    let r = Refsup::start(PROFILE, &flags(&engine.url, &device));
    let (s, body) = r.post(
        "/v2/local/target-state",
        &target(&engine.image, "aaa", 1, POLITE),
    );
    assert_eq!(s, 200, "{body}");
    let first = wait_running(&r, "aaa");
    let (running, labels) = inspect(&engine.url, &first).unwrap();
    assert!(running);
    // The harness marks refsup (LOCKCHECK_RUN, LOCKCHECK_CELL=<root>);
    // refsup puts the marks on its containers for the suite's cleanup.
    assert_eq!(
        labels.get(refsup::runtime::docker::labels::CELL),
        Some(&r.root.display().to_string())
    );
    assert!(labels.contains_key(refsup::runtime::docker::labels::RUN));
    assert_eq!(labels[refsup::runtime::docker::labels::DEVICE], device);

    let lock = r.lock_dir(1, "main").join("updates.lock");
    std::fs::write(&lock, "").unwrap();
    let mut next = POLITE.to_vec();
    next[2] = "trap 'exit 0' TERM; sleep 1001 & wait";
    let (s, _) = r.post(
        "/v2/local/target-state",
        &target(&engine.image, "bbb", 2, &next),
    );
    assert_eq!(s, 200);
    wait_for(30, "the update blocked by the lock", || {
        let (_, apps) = r.get("/v2/applications/state");
        apps["app"]["blocked"]
            .as_str()
            .is_some_and(|b| b.contains("updates.lock"))
            .then_some(())
    });
    assert_eq!(
        main_service(&r),
        Some((first.clone(), "aaa".into(), "Running".into())),
        "not killed while locked"
    );
    assert_eq!(engine_running(&engine.url, &first), Some(true));
    assert!(lock.exists(), "the user's lock is never removed");

    std::fs::remove_file(&lock).unwrap();
    let second = wait_running(&r, "bbb");
    assert_ne!(second, first, "a new container");
    assert_eq!(
        engine_running(&engine.url, &first),
        None,
        "the old one is removed"
    );
    assert_eq!(engine_running(&engine.url, &second), Some(true));
}

#[test]
fn a_reboot_restarts_the_containers_and_a_crashed_refsup_is_adopted() {
    let device = engine::new_device();
    let Some(engine) = engine::engine() else {
        return;
    };
    let _cleanup = Cleanup::new(engine, &[&device]);
    let r = Refsup::start(PROFILE, &flags(&engine.url, &device));
    let (s, _) = r.post(
        "/v2/local/target-state",
        &target(&engine.image, "aaa", 1, POLITE),
    );
    assert_eq!(s, 200);
    let id = wait_running(&r, "aaa");

    assert_eq!(r.post("/v1/reboot", &json!({})).0, 202);
    wait_for(60, "the reboot", || {
        (r.get("/v1/device").1["boot_count"] == 2).then_some(())
    });
    assert_eq!(
        wait_running(&r, "aaa"),
        id,
        "the same container, started again"
    );
    assert!(
        r.lock_dir(1, "main").is_dir(),
        "lock dir made again after /tmp was wiped"
    );

    let (root, _dir) = r.crash();
    assert_eq!(
        engine_running(&engine.url, &id),
        Some(true),
        "outlives a SIGKILLed refsup"
    );
    let r2 = Refsup::start_on(&root, PROFILE, &flags(&engine.url, &device));
    assert_eq!(wait_running(&r2, "aaa"), id, "adopted, not started twice");
    assert_eq!(r2.get("/v1/device").1["boot_count"], 2, "not a reboot");
    drop(r2);
    assert_eq!(
        engine_running(&engine.url, &id),
        Some(false),
        "refsup's SIGTERM stops its containers"
    );
}
