//! The fuzz targets' bodies on stable, with no fuzzer:
//!
//! - `corpus_*`: replay every file under `corpus/<target>/`;
//! - `scenario_*`: hand-written `lock_race` scenarios, one per behaviour
//!   worth pinning, each expected to hold under every profile;
//! - `fault_*`: refsup's historical-bug faults, each of which the invariants
//!   must catch (proof that the harness can fail);
//! - `target_state_*`: hand-written target-state inputs.

use std::path::PathBuf;

use lockcheck_fuzz::{check_target_state, run, run_with, scenario_from_bytes, Op, Scenario};
use lockgates::Profile;
use refsup::fault::{Fault, Faults};

use Op::*;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn corpus_lock_race() {
    for (path, bytes) in corpus("lock_race") {
        if let Some(scenario) = scenario_from_bytes(&bytes) {
            if let Err(e) = run(&scenario) {
                panic!("{}: {e}\nreproducer: {scenario:?}", path.display());
            }
        }
    }
}

#[test]
fn corpus_target_state() {
    let files = corpus("target_state");
    assert!(!files.is_empty(), "the seed corpus is committed");
    for (path, bytes) in files {
        if let Err(e) = check_target_state(&bytes) {
            panic!("{}: {e}", path.display());
        }
    }
}

fn scenario(services: u8, ops: &[Op]) -> Scenario {
    Scenario {
        services,
        ops: ops.to_vec(),
    }
}

/// Assert `s` holds under every profile.
fn holds(s: Scenario) {
    if let Err(e) = run(&s) {
        panic!("{e}\nreproducer: {s:?}");
    }
}

/// Steps enough for any take here to finish.
const STEPS: [Op; 24] = [SupervisorStep; 24];

fn with_steps(ops: &[Op]) -> Vec<Op> {
    let mut all = ops.to_vec();
    all.extend_from_slice(&STEPS);
    all
}

#[test]
fn scenario_uncontended_take_and_release() {
    holds(scenario(3, &with_steps(&[StartTake { force: false }])));
}

#[test]
fn scenario_user_lock_in_last_service_blocks_and_rolls_back() {
    holds(scenario(
        3,
        &with_steps(&[UserTake { svc: 2, file: 1 }, StartTake { force: false }]),
    ));
}

#[test]
fn scenario_user_takes_mid_take() {
    // The user's exclusive create lands between two of the supervisor's.
    holds(scenario(
        2,
        &with_steps(&[
            StartTake { force: false },
            SupervisorStep,
            UserTake { svc: 1, file: 0 },
            UserTouch { svc: 1, file: 1 },
        ]),
    ));
}

#[test]
fn scenario_touch_while_held_changes_nothing() {
    // L3: touch "succeeds" on the supervisor's file; nothing is created.
    holds(scenario(
        1,
        &[
            StartTake { force: false },
            SupervisorStep,
            SupervisorStep,
            SupervisorStep,
            UserTouch { svc: 0, file: 0 },
            UserTake { svc: 0, file: 1 },
            UserMkdir { svc: 0, file: 0 },
            SupervisorStep,
        ],
    ));
}

#[test]
fn scenario_force_clears_every_kind_of_entry() {
    holds(scenario(
        4,
        &with_steps(&[
            UserTake { svc: 0, file: 0 },
            UserMkdir { svc: 1, file: 0 },
            UserSymlink {
                svc: 2,
                file: 0,
                dangling: true,
            },
            UserSymlink {
                svc: 3,
                file: 1,
                dangling: false,
            },
            StartTake { force: true },
        ]),
    ));
}

#[test]
fn scenario_force_gives_up_on_a_lock_that_keeps_coming_back() {
    let mut ops = vec![UserTake { svc: 0, file: 0 }, StartTake { force: true }];
    for _ in 0..5 {
        ops.extend([SupervisorStep, SupervisorStep, UserTake { svc: 0, file: 0 }]);
    }
    holds(scenario(0, &with_steps(&ops)));
}

#[test]
fn scenario_dangling_symlink_without_force() {
    // L6: held from 16.2.9; followed (target created outside) before.
    holds(scenario(
        2,
        &with_steps(&[
            UserSymlink {
                svc: 1,
                file: 0,
                dangling: true,
            },
            UserSymlink {
                svc: 1,
                file: 1,
                dangling: true,
            },
            StartTake { force: false },
        ]),
    ));
}

#[test]
fn scenario_crash_mid_take_then_force() {
    holds(scenario(
        2,
        &with_steps(&[
            StartTake { force: false },
            SupervisorStep,
            SupervisorStep,
            CrashSupervisor,
            StartTake { force: false },
            SupervisorStep,
            StartTake { force: true },
        ]),
    ));
}

#[test]
fn scenario_crash_while_holding_then_user_and_force() {
    let mut ops = vec![StartTake { force: false }];
    ops.extend_from_slice(&STEPS[..8]);
    ops.extend([
        CrashSupervisor,
        UserTake { svc: 0, file: 0 },
        UserRelease { svc: 0, file: 0 },
        StartTake { force: true },
    ]);
    holds(scenario(1, &with_steps(&ops)));
}

#[test]
fn scenario_out_of_range_indices_are_reduced() {
    holds(scenario(
        255,
        &with_steps(&[
            UserTake {
                svc: 255,
                file: 255,
            },
            UserMkdir { svc: 200, file: 7 },
            UserSymlink {
                svc: 77,
                file: 3,
                dangling: false,
            },
            UserRelease {
                svc: 255,
                file: 255,
            },
            StartTake { force: true },
        ]),
    ));
}

#[test]
fn scenario_user_release_only_removes_own_entries() {
    holds(scenario(
        1,
        &[
            StartTake { force: false },
            SupervisorStep,
            SupervisorStep,
            SupervisorStep,
            UserRelease { svc: 0, file: 0 },
            UserRelease { svc: 0, file: 1 },
            SupervisorStep,
        ],
    ));
}

#[test]
fn scenario_bytes_decode_and_never_panic() {
    for bytes in [
        &[][..],
        &[0],
        &[255; 64],
        b"any old bytes at all, as the fuzzer sends",
    ] {
        if let Some(s) = scenario_from_bytes(bytes) {
            run(&s).unwrap();
        }
    }
}

fn current() -> Profile {
    "17.3.5@5.1.0".parse().unwrap()
}

#[test]
fn fault_rollback_removes_user_lock_is_caught() {
    // L8, reported on 4.1.1: the rollback also unlinked the lock paths past
    // the one that blocked it, so a user's lock further on was removed.
    let s = scenario(
        2,
        &with_steps(&[
            UserTake { svc: 0, file: 1 },
            UserTake { svc: 1, file: 0 },
            StartTake { force: false },
        ]),
    );
    let err = run_with(
        &s,
        &current(),
        &Faults::new([Fault::RollbackRemovesUserLock]),
    )
    .unwrap_err();
    assert!(
        err.contains("(b) the supervisor removed the user's regular file"),
        "{err}"
    );
    assert!(err.contains("without force"), "{err}");
}

#[test]
fn fault_follow_symlinks_is_caught() {
    // L6: from 16.2.9 a dangling link is held; following it creates the
    // target outside the lock dir.
    let s = scenario(
        1,
        &with_steps(&[
            UserSymlink {
                svc: 0,
                file: 0,
                dangling: true,
            },
            StartTake { force: false },
        ]),
    );
    let err = run_with(&s, &current(), &Faults::new([Fault::FollowSymlinks])).unwrap_err();
    assert!(err.contains("(c) the supervisor created"), "{err}");
    assert!(err.contains("outside its lock paths"), "{err}");
}

#[test]
fn target_state_hand_written() {
    let ok = br#"{"local":{"name":"dev","config":{"BALENA_HOST_CONFIG_gpu_mem":"16"},"apps":{"1":{"name":"app","commit":"abc123","releaseId":7,"services":{"main":{"image":"fixture-app:1","command":["sleep","1000"],"environment":{},"labels":{"io.balena.update.strategy":"download-then-kill"},"user":"0"}}}}}}"#;
    let hostile: [&[u8]; 8] = [
        br#"{"local":{"apps":{"../1":{"commit":"a","services":{}}}}}"#,
        br#"{"local":{"apps":{"1":{"commit":"a","services":{"..":{"image":"x"}}}}}}"#,
        br#"{"local":{"apps":{"1":{"commit":"a","services":{"a/../../b":{"image":"x"}}}}}}"#,
        br#"{"local":{"apps":{"1":{"commit":"a","services":{"/etc":{"image":"x"}}}}}}"#,
        br#"{"local":{"apps":{"1":{"commit":"a","services":{"a\u0000b":{"image":"x"}}}}}}"#,
        br#"{"local":{"apps":{"4294967296":{"commit":"a","services":{}}}}}"#,
        br#"{"local":{"apps":{"1":{"commit":"../x","services":{}}}}}"#,
        b"\xff\xfe not json",
    ];
    check_target_state(ok).unwrap();
    let state: refsup::target::TargetState = serde_json::from_slice(ok).unwrap();
    state.validate().unwrap();
    for input in hostile {
        check_target_state(input).unwrap();
        if let Ok(state) = serde_json::from_slice::<refsup::target::TargetState>(input) {
            assert!(
                state.validate().is_err(),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn regression_link_removed_while_its_target_is_taken() {
    // Found by the fuzzer (first run): before 16.2.9 the supervisor takes
    // the target of a dangling link; the user then removing the link is the
    // modelled hazard, not a broken claim. Harness fix: judge the lock path
    // only where the claim is the path itself.
    holds(Scenario {
        services: 52,
        ops: vec![
            SupervisorStep,
            UserSymlink { svc: 67, file: 83, dangling: true },
            StartTake { force: true },
            SupervisorStep,
            UserRelease { svc: 83, file: 201 },
            SupervisorStep,
        ],
    });
}
