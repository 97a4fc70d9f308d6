//! Container tests against the real engine: refsup in a container (as the
//! real supervisor runs: engine socket and host root mounted) managing
//! service containers, locks taken inside them with the real tools, the
//! engine's own events as the witness of kills, and the suite run against
//! containers (`--runtime docker`, `--engine tcp://...`). Without an engine
//! each test prints "skipped: no container engine" once and passes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockcheck::report::human::failures_text;
use lockcheck::report::Report;
use lockgates::LockLocation;
use rstest::rstest;
use serde_json::json;

use crate::common::docker::{
    exists, idle_service, run_in, start_refsup, tcp_engine, wait_until, DockerEnv, RefsupContainer,
};
use crate::common::{lockcheck, lockcheck_with_evidence};
use crate::docker_or_skip;

const NEW: &str = "17.3.5@5.1.0";

/// One app (id 1) with these idle services at release `commit`.
fn app(env: &DockerEnv, commit: &str, services: &[&str]) -> serde_json::Value {
    let mut svcs = serde_json::Map::new();
    for s in services {
        svcs.insert(s.to_string(), idle_service(env, commit));
    }
    json!({"1": {"name": "app1", "commit": commit, "releaseId": 1, "services": svcs}})
}

/// Deploy `services` at `commit` and wait until they run.
fn deploy_app(sup: &RefsupContainer, env: &DockerEnv, commit: &str, services: &[&str]) {
    assert_eq!(sup.deploy(app(env, commit, services)), 200);
    let want: Vec<(&str, &str)> = services.iter().map(|s| (*s, commit)).collect();
    sup.wait_applied(&want);
    // The pass that applied it releases the supervisor's own locks after the
    // apps read as applied; a lock taken before that pass ends can be the
    // supervisor's (nobody-owned from 16.2.0) and vanish under the test.
    settled(sup);
}

/// Wait for a whole reconcile pass begun after this call.
fn settled(sup: &RefsupContainer) {
    let started = sup.get("/v1/device")["reconcile_passes_started"]
        .as_u64()
        .expect("reference counters");
    sup.post("/v1/update", json!({}));
    wait_until(Duration::from_secs(30), "a reconcile pass", || {
        sup.get("/v1/device")["reconcile_passes_finished"]
            .as_u64()
            .unwrap_or(0)
            > started
    });
}

/// The one running container of `service`.
fn running(sup: &RefsupContainer, env: &DockerEnv, service: &str) -> String {
    sup.service_containers(env, service)
        .pop()
        .unwrap_or_else(|| panic!("no container of {service}"))
}

/// A test's refsup container leaves none of its service containers behind
/// when the test ends (refsup is killed, its services are not).
#[test]
fn refsup_container_dropped_leaves_no_service_container() {
    let env = docker_or_skip!();
    let sup = start_refsup(env, NEW, &[]);
    deploy_app(&sup, env, "r1", &["a", "b"]);
    let device = sup.device_id.clone();
    let refsup_id = sup.container.id().to_string();
    let services = sup.service_containers(env, "a").len() + sup.service_containers(env, "b").len();
    assert_eq!(
        services, 2,
        "expected the two service containers to run first"
    );
    drop(sup);
    let label = format!("io.lockcheck.device={device}");
    let left = env
        .engine
        .block_on(lockcheck::sut::engine::cell::labelled(&env.engine, &label))
        .expect("list containers");
    assert!(left.is_empty(), "service containers left behind: {left:?}");
    let refsup_left = env
        .engine
        .block_on(env.engine.docker().inspect_container(&refsup_id, None));
    assert!(refsup_left.is_err(), "the refsup container was left behind");
}

/// `/tmp/balena` and `/tmp/resin` are one host dir (the profile's), and
/// `/data` is mounted exactly where the profile has the OS 1.x data lock.
#[rstest]
#[case::new(NEW)]
#[case::os1("1.2.1@1.0.0")]
#[case::resin_dirs("7.16.6@2.15.1")]
fn lock_paths_inside_the_container(#[case] profile: &str) {
    let env = docker_or_skip!();
    let sup = start_refsup(env, profile, &[]);
    deploy_app(&sup, env, "r1", &["main"]);
    let id = running(&sup, env, "main");
    let touched = run_in(env, &id, None, &["touch", "/tmp/balena/seen-inside"]);
    assert_eq!(touched.code, 0, "{touched:?}");
    let other = run_in(env, &id, None, &["test", "-e", "/tmp/resin/seen-inside"]);
    assert_eq!(
        other.code, 0,
        "/tmp/resin is not the same dir as /tmp/balena"
    );
    let host = sup.lock_dir(1, "main").join("seen-inside");
    assert!(exists(&host), "expected {} on the host", host.display());
    let has_data = sup
        .profile
        .lock_files()
        .iter()
        .any(|f| f.location == LockLocation::AppData);
    let data = run_in(env, &id, None, &["test", "-d", "/data"]);
    assert_eq!(
        data.code == 0,
        has_data,
        "/data mounted: {}",
        data.code == 0
    );
}

/// Engine events (`kill`, `die`, `stop`) of this refsup's service containers.
fn watch_kills(sup: &RefsupContainer, env: &DockerEnv) -> Arc<Mutex<Vec<String>>> {
    use futures_util::StreamExt;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let label = format!("io.lockcheck.device={}", sup.device_id);
    let filters = std::collections::HashMap::from([
        ("type", vec!["container".to_string()]),
        ("label", vec![label]),
        ("event", vec!["kill".into(), "die".into(), "stop".into()]),
    ]);
    let opts = bollard::query_parameters::EventsOptionsBuilder::default()
        .filters(&filters)
        .build();
    let (engine, out) = (env.engine.clone(), seen.clone());
    let ready = Arc::new(std::sync::Barrier::new(2));
    let ready2 = ready.clone();
    env.engine.spawn(async move {
        let mut events = engine.docker().events(Some(opts));
        ready2.wait();
        while let Some(Ok(e)) = events.next().await {
            let name = e
                .actor
                .and_then(|a| a.attributes)
                .and_then(|a| a.get("io.balena.service-name").cloned())
                .unwrap_or_default();
            out.lock()
                .unwrap()
                .push(format!("{} {name}", e.action.unwrap_or_default()));
        }
    });
    ready.wait();
    seen
}

/// A lock taken inside one service with procmail's `lockfile` blocks the
/// whole release: the engine reports no kill of either service until it is
/// removed, then the release applies (and the engine reports the kills).
#[test]
fn real_tool_lock_inside_one_service_blocks_the_release() {
    let env = docker_or_skip!();
    let sup = start_refsup(env, NEW, &[]);
    deploy_app(&sup, env, "r1", &["a", "b"]);
    let b = running(&sup, env, "b");
    let took = run_in(
        env,
        &b,
        None,
        &["lockfile", "-1", "-r0", "/tmp/balena/updates.lock"],
    );
    assert_eq!(took.code, 0, "lockfile failed: {took:?}");
    let kills = watch_kills(&sup, env);
    assert_eq!(sup.deploy(app(env, "r2", &["a", "b"])), 200);
    settled(&sup);
    settled(&sup);
    assert_eq!(sup.get("/v1/device")["update_pending"], true);
    assert!(
        kills.lock().unwrap().is_empty(),
        "a service was killed while locked: {:?}",
        kills.lock().unwrap()
    );
    let again = run_in(
        env,
        &b,
        None,
        &["lockfile", "-1", "-r0", "/tmp/balena/updates.lock"],
    );
    assert_ne!(again.code, 0, "the tool took a held lock twice");
    let rm = run_in(env, &b, None, &["rm", "-f", "/tmp/balena/updates.lock"]);
    assert_eq!(rm.code, 0);
    sup.wait_applied(&[("a", "r2"), ("b", "r2")]);
    let seen = kills.lock().unwrap().clone();
    for svc in ["a", "b"] {
        assert!(
            seen.iter().any(|e| e.ends_with(&format!(" {svc}"))),
            "the engine reported no stop of {svc} after release: {seen:?}"
        );
    }
}

/// A lock taken by a service running as uid 65534 is owned by 65534 inside
/// and on the host. Before 16.2.0 it blocks the update like any other; from
/// 16.2.0 the supervisor takes a nobody-owned lock for its own leftover and
/// deletes it when the app settles (the C3 hazard): with passes about every
/// second at this time scale it is gone without any update, and the update
/// then goes ahead.
#[rstest]
#[case::blocks("14.4.10@2.95.0", true)]
#[case::taken_over(NEW, false)]
fn lock_taken_as_uid_65534(#[case] profile: &str, #[case] blocks: bool) {
    let env = docker_or_skip!();
    let sup = start_refsup(env, profile, &[]);
    deploy_app(&sup, env, "r1", &["main"]);
    let id = running(&sup, env, "main");
    // Taken and looked at in one exec: a 16.2.0+ pass may delete it at once.
    let took = run_in(
        env,
        &id,
        Some("65534"),
        &[
            "sh",
            "-c",
            "flock -n /tmp/balena/updates.lock true && stat -c %u /tmp/balena/updates.lock",
        ],
    );
    assert_eq!(took.code, 0, "as uid 65534: {took:?}");
    assert_eq!(
        String::from_utf8_lossy(&took.stdout).trim(),
        "65534",
        "owner seen inside: {took:?}"
    );
    let host = sup.lock_dir(1, "main").join("updates.lock");
    let host_uid = || {
        host.symlink_metadata()
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
    };
    if blocks {
        assert_eq!(host_uid(), Some(65534), "owner seen from the host");
        assert_eq!(sup.deploy(app(env, "r2", &["main"])), 200);
        settled(&sup);
        assert_eq!(sup.get("/v1/device")["update_pending"], true);
        assert!(exists(&host), "the user's lock must stay while it blocks");
        std::fs::remove_file(&host).unwrap();
        sup.wait_applied(&[("main", "r2")]);
    } else {
        // Seen from the host while it lasts: never another owner.
        assert!(
            matches!(host_uid(), None | Some(65534)),
            "owner seen from the host: {:?}",
            host_uid()
        );
        wait_until(
            Duration::from_secs(30),
            "the nobody-owned lock taken over and deleted",
            || !exists(&host),
        );
        assert_eq!(sup.deploy(app(env, "r2", &["main"])), 200);
        sup.wait_applied(&[("main", "r2")]);
    }
}

/// A reboot wipes `/tmp` locks: gone on the host and in the restarted
/// service container.
#[test]
fn reboot_wipes_tmp_locks() {
    let env = docker_or_skip!();
    let sup = start_refsup(env, NEW, &[]);
    deploy_app(&sup, env, "r1", &["main"]);
    let id = running(&sup, env, "main");
    assert_eq!(
        run_in(env, &id, None, &["touch", "/tmp/balena/updates.lock"]).code,
        0
    );
    let boot = sup.get("/v1/device")["boot_count"].as_u64().unwrap();
    assert_eq!(sup.post("/v1/reboot", json!({"force": true})), 202);
    wait_until(Duration::from_secs(60), "the reboot", || {
        sup.get("/v1/device")["boot_count"].as_u64() > Some(boot)
    });
    sup.wait_applied(&[("main", "r1")]);
    let host = sup.lock_dir(1, "main").join("updates.lock");
    assert!(
        !exists(&host),
        "the /tmp lock survived the reboot on the host"
    );
    let id = running(&sup, env, "main");
    let seen = run_in(env, &id, None, &["test", "-e", "/tmp/balena/updates.lock"]);
    assert_ne!(
        seen.code, 0,
        "the lock survived the reboot inside the container"
    );
}

/// The refsup container is SIGKILLed while it holds its locks (paused
/// after taking them) and started again: from 16.2.0 it adopts its own
/// leftover locks, applies, and removes them (C1).
#[test]
fn refsup_container_killed_holding_locks_recovers() {
    let env = docker_or_skip!();
    let mut sup = start_refsup(env, NEW, &["--pause-after-lock", "/mnt/root/paused"]);
    deploy_app(&sup, env, "r1", &["main"]);
    let pause = sup.root.path().join("paused");
    std::fs::remove_file(&pause).ok();
    assert_eq!(sup.deploy(app(env, "r2", &["main"])), 200);
    wait_until(
        Duration::from_secs(30),
        "refsup to pause holding its locks",
        || exists(&pause),
    );
    let lock = sup.lock_dir(1, "main").join("updates.lock");
    assert!(exists(&lock), "refsup paused without its lock");
    let id = sup.container.id().to_string();
    env.engine
        .block_on(
            env.engine.docker().kill_container(
                &id,
                Some(
                    bollard::query_parameters::KillContainerOptionsBuilder::default()
                        .signal("SIGKILL")
                        .build(),
                ),
            ),
        )
        .expect("SIGKILL the refsup container");
    assert!(exists(&lock), "the lock went with the crash");
    std::fs::remove_file(&pause).ok();
    let before = sup.url.clone();
    sup.container.start().expect("start refsup again");
    let mut url = before.clone();
    wait_until(Duration::from_secs(30), "refsup to listen again", || {
        url = crate::common::docker::api_url(&sup.container);
        url != before || sup_answers(&url)
    });
    sup.url = url;
    let again = sup;
    wait_until(
        Duration::from_secs(60),
        "the update after the crash",
        || {
            // The hook pauses again when it retakes the locks: let it go on.
            std::fs::remove_file(&pause).ok();
            let list = again.get("/v2/state/status")["containers"].clone();
            list.as_array().is_some_and(|l| {
                l.iter().any(|c| {
                    c["serviceName"] == "main" && c["commit"] == "r2" && c["status"] == "Running"
                })
            }) && again.get("/v1/device")["update_pending"] == false
        },
    );
    assert!(!exists(&lock), "the adopted leftover lock stayed");
}

/// Whether a refsup API answers at `url`.
fn sup_answers(url: &str) -> bool {
    lockcheck::client::Client::new(url, None)
        .get("/ping")
        .is_ok()
}

/// `--case-timeout` of the container matrix runs. On CI (twice) the first
/// cells of both runs waited more than 20 s for their release to apply, and
/// the external run's cells took 35 s on average, against 3 s here: they
/// start while a dozen other container tests hit the engine at once. Their
/// events get lockcheck's default for containers (60 s), and the default 90 s
/// per cell would fail a slow cell of several waits as hung. A cell that
/// really hangs still fails, and its kept `steps.log` and `refsup.log` are
/// printed.
const CONTAINER_CASE_TIMEOUT: &str = "300";

/// `lockcheck run --target-url ... --engine tcp://...` judges refsup in a
/// container through its engine over TCP: fixture image built there, files
/// through an observer container, logs from the containers.
#[test]
fn external_target_observed_through_its_engine_over_tcp() {
    let env = docker_or_skip!();
    let sup = start_refsup(env, NEW, &[]);
    let engine = tcp_engine();
    let root = sup.root.path().display().to_string();
    let (code, out, err, evidence) = lockcheck_with_evidence(&[
        "run",
        "--target-url",
        &sup.url,
        "--root",
        &root,
        "--engine",
        &engine.url,
        "--profile",
        NEW,
        "--time-scale",
        "0.001",
        "--case-timeout",
        CONTAINER_CASE_TIMEOUT,
        "--case",
        "L[2567]",
        "--case",
        "U2",
        "--case",
        "P4",
        "--no-progress",
    ]);
    assert_eq!(
        code, 0,
        "stdout:\n{out}\nstderr:\n{err}\nkept evidence:\n{evidence}"
    );
    assert!(out.contains("engine tcp://127.0.0.1:"), "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
}

/// `lockcheck run --runtime docker` gives the process runtime's matrix.
#[test]
fn docker_runtime_matrix_matches_the_process_runtime() {
    let _env = docker_or_skip!();
    let profiles = ["1.2.1@1.0.0", "13.1.0@2.88.0", NEW];
    let run = |runtime: &str| {
        let mut args = vec![
            "run",
            "--runtime",
            runtime,
            "--case-timeout",
            CONTAINER_CASE_TIMEOUT,
            // Half the default: the engine is the bottleneck (README,
            // Benchmarks: 3 jobs are about as fast as 6), and the other
            // container tests share it.
            "--jobs",
            "3",
            "--format",
            "json",
            "--no-progress",
        ];
        for p in &profiles {
            args.extend(["--profile", p]);
        }
        let (code, out, err, evidence) = lockcheck_with_evidence(&args);
        let report: Report = match serde_json::from_str(&out) {
            Ok(report) => report,
            Err(e) => {
                panic!("--runtime {runtime}: exit {code}, no JSON report ({e}):\n{out}\n{err}")
            }
        };
        // A failing run names its failing cells and their detail, not the
        // whole report, so a CI log that keeps only a page still shows them.
        assert_eq!(
            code,
            0,
            "--runtime {runtime}:\n{}\nstderr:\n{err}\nkept evidence:\n{evidence}",
            failures_text(&report)
        );
        let mut cells: Vec<(String, String, String)> = report
            .cells
            .into_iter()
            .map(|c| (c.case, c.profile, c.outcome.label().to_string()))
            .collect();
        cells.sort();
        cells
    };
    let docker = run("docker");
    let process = run("process");
    assert!(!docker.is_empty());
    assert_eq!(docker, process);
}

/// No engine: one line, exit 2, and the process runtime still works.
#[test]
fn docker_runtime_without_an_engine_is_a_usage_error() {
    let (code, _, err) = lockcheck(&[
        "run",
        "--runtime",
        "docker",
        "--engine",
        "unix:///nonexistent/docker.sock",
        "--profile",
        NEW,
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no container engine at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}
