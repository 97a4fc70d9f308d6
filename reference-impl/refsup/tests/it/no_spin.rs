//! A blocked update is retried when a lock dir changes, but a retry must not
//! itself churn the lock dirs (its own creates and unlinks would wake the
//! reconciler again, forever). Measured with the reconcile pass counters.

use crate::common;

use common::{target, wait_for, Refsup};
use serde_json::json;

/// Passes started while we trigger `rounds` passes ourselves, one at a time.
fn passes_during_rounds(r: &Refsup, rounds: u64) -> u64 {
    let started = |r: &Refsup| {
        r.get("/v1/device").1["reconcile_passes_started"]
            .as_u64()
            .unwrap()
    };
    let first = started(r);
    for _ in 0..rounds {
        let s0 = started(r);
        r.post("/v1/update", &json!({}));
        wait_for(20, "a reconcile pass", || {
            (r.get("/v1/device").1["reconcile_passes_finished"]
                .as_u64()
                .unwrap()
                > s0)
                .then_some(())
        });
    }
    started(r) - first
}

fn blocked_by(r: &Refsup, what: &str) {
    wait_for(20, what, || {
        let (_, apps) = r.get("/v2/applications/state");
        apps["app"]["blocked"].is_string().then_some(())
    });
}

fn two_services(commit: &str) -> serde_json::Value {
    target(
        commit,
        &[("a", &["sleep", "1000"]), ("b", &["sleep", "1001"])],
    )
}

#[test]
fn a_partial_take_is_not_retried_in_a_loop() {
    for extra in [&[][..], &["--fault", "kill-before-all-locks"][..]] {
        let r = Refsup::start("17.3.5@5.1.0", extra);
        r.post("/v2/local/target-state", &two_services("aaa"));
        wait_for(20, "both running", || {
            (r.containers().len() == 2).then_some(())
        });
        // b's lock makes every take fail part-way, after a's locks.
        std::fs::write(r.lock_dir(1, "b").join("updates.lock"), "").unwrap();
        r.post(
            "/v2/local/target-state",
            &target(
                "bbb",
                &[("a", &["sleep", "2000"]), ("b", &["sleep", "2001"])],
            ),
        );
        blocked_by(&r, "the update blocked by b's lock");
        let passes = passes_during_rounds(&r, 10);
        assert!(
            passes <= 20,
            "{extra:?}: {passes} passes for 10 triggers: the blocked update spins"
        );
    }
}

#[test]
fn an_override_against_an_unremovable_directory_lock_does_not_spin() {
    let r = Refsup::start("14.0.9@2.95.0", &[]);
    r.post("/v2/local/target-state", &two_services("aaa"));
    wait_for(20, "both running", || {
        (r.containers().len() == 2).then_some(())
    });
    std::fs::create_dir(r.lock_dir(1, "b").join("updates.lock")).unwrap();
    let mut next = two_services("bbb");
    next["local"]["apps"]["1"]["services"]["a"]["command"] = json!(["sleep", "2000"]);
    next["local"]["config"] = json!({"RESIN_SUPERVISOR_OVERRIDE_LOCK": "1"});
    r.post("/v2/local/target-state", &next);
    blocked_by(&r, "the update blocked by the directory lock");
    let passes = passes_during_rounds(&r, 10);
    assert!(
        passes <= 20,
        "{passes} passes for 10 triggers: the forced retry spins"
    );
    assert!(
        r.lock_dir(1, "b").join("updates.lock").is_dir(),
        "a directory lock is unremovable before 14.0.10"
    );
}
