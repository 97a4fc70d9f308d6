//! The fuzz targets' bodies on stable, with no fuzzer:
//!
//! - `corpus_*`: replay every file under `corpus/<target>/`;
//! - `scenario_*`: hand-written `lock_race` scenarios, one per behaviour
//!   worth pinning, each expected to hold under every profile;
//! - `fault_*`: refsup's historical-bug faults, each of which the invariants
//!   must catch (proof that the harness can fail);
//! - `unsafe_*`: the unsafe methods' breaks are reported as their
//!   counterexamples, not as bugs;
//! - `audit_*`: the incremental checks see what a whole-tree walk sees;
//! - `target_state_*`: hand-written target-state inputs.

use std::path::PathBuf;

use lockcheck_fuzz::lock_race::PROFILES;
use lockcheck_fuzz::{
    check, check_target_state, run, run_with, scenario_from_bytes, Method, Op, Outcome, Scenario,
    Settings,
};
use lockgates::Profile;
use refsup::fault::{Fault, Faults};

use Op::*;

/// App 0 takes (service `svc`, file `file`) by exclusive create.
fn take(svc: u8, file: u8) -> Op {
    take_by(0, svc, file, Method::Exclusive)
}

/// App `user` takes (service `svc`, file `file`) by `method`.
fn take_by(user: u8, svc: u8, file: u8, method: Method) -> Op {
    Take {
        user,
        svc,
        file,
        method,
    }
}

fn release(svc: u8, file: u8) -> Op {
    Release { user: 0, svc, file }
}

fn mkdir(svc: u8, file: u8) -> Op {
    take_by(0, svc, file, Method::Mkdir)
}

fn symlink(svc: u8, file: u8, dangling: bool) -> Op {
    take_by(0, svc, file, Method::Symlink { dangling })
}

fn touch(svc: u8, file: u8) -> Op {
    take_by(1, svc, file, Method::Touch)
}

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

/// Every profile's outcome of `s` with the default settings.
fn outcomes(s: &Scenario, settings: &Settings) -> Vec<Outcome> {
    PROFILES
        .iter()
        .map(|p| {
            let profile: Profile = p.parse().unwrap();
            check(s, &profile, &Faults::default(), settings, None)
                .unwrap_or_else(|e| panic!("{e}\nreproducer: {s:?}"))
        })
        .collect()
}

/// Assert every invariant holds for `s` under every profile.
fn holds(s: Scenario) {
    for outcome in outcomes(&s, &Settings::default()) {
        assert_eq!(outcome, Outcome::Held, "reproducer: {s:?}");
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
        &with_steps(&[take(2, 1), StartTake { force: false }]),
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
            take(1, 0),
            mkdir(1, 1),
        ]),
    ));
}

#[test]
fn scenario_exclusive_lockers_refused_while_held() {
    // Every exclusive method fails on the supervisor's files; nothing is
    // created and nobody else believes it holds them.
    holds(scenario(
        1,
        &[
            StartTake { force: false },
            SupervisorStep,
            SupervisorStep,
            SupervisorStep,
            take(0, 0),
            take_by(1, 0, 1, Method::Exclusive),
            mkdir(0, 0),
            symlink(0, 1, true),
            SupervisorStep,
        ],
    ));
}

#[test]
fn scenario_crashed_holder_keeps_blocking() {
    // A crashed exclusive holder's file stays: the supervisor stays blocked
    // (safe, if not live), and the other app cannot take it either.
    holds(scenario(
        1,
        &with_steps(&[
            take(0, 0),
            CrashUser { user: 0 },
            take_by(1, 0, 0, Method::Exclusive),
            StartTake { force: false },
        ]),
    ));
}

#[test]
fn scenario_force_clears_every_kind_of_entry() {
    holds(scenario(
        4,
        &with_steps(&[
            take(0, 0),
            mkdir(1, 0),
            symlink(2, 0, true),
            symlink(3, 1, false),
            StartTake { force: true },
        ]),
    ));
}

#[test]
fn scenario_force_gives_up_on_a_lock_that_keeps_coming_back() {
    let mut ops = vec![take(0, 0), StartTake { force: true }];
    for _ in 0..5 {
        ops.extend([SupervisorStep, SupervisorStep, take(0, 0)]);
    }
    holds(scenario(0, &with_steps(&ops)));
}

#[test]
fn scenario_dangling_symlink_without_force() {
    // L6: held from 16.2.9; followed (target created outside) before.
    holds(scenario(
        2,
        &with_steps(&[
            symlink(1, 0, true),
            symlink(1, 1, true),
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
        take(0, 0),
        release(0, 0),
        StartTake { force: true },
    ]);
    holds(scenario(1, &with_steps(&ops)));
}

#[test]
fn scenario_out_of_range_indices_are_reduced() {
    holds(scenario(
        255,
        &with_steps(&[
            take(255, 255),
            mkdir(200, 7),
            symlink(77, 3, false),
            Release {
                user: 0,
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
            release(0, 0),
            release(0, 1),
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
        &with_steps(&[take(0, 1), take(1, 0), StartTake { force: false }]),
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
        &with_steps(&[symlink(0, 0, true), StartTake { force: false }]),
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
            symlink(67, 83, true),
            StartTake { force: true },
            SupervisorStep,
            Release {
                user: 0,
                svc: 83,
                file: 201,
            },
            SupervisorStep,
        ],
    });
}

/// The outcome of `s` on 17.3.5@5.1.0 with the default settings.
fn outcome_now(s: &Scenario) -> Outcome {
    check(
        s,
        &current(),
        &Faults::default(),
        &Settings::default(),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn unsafe_reason(s: &Scenario, method: Method) -> String {
    match outcome_now(s) {
        Outcome::Unsafe(c) => {
            assert_eq!(c.methods, vec![method], "{c:?}");
            c.reason
        }
        Outcome::Held => panic!("expected {} to break something: {s:?}", method.name()),
    }
}

/// The supervisor holds both of service 0's locks.
const HELD: [Op; 4] = [
    StartTake { force: false },
    SupervisorStep,
    SupervisorStep,
    SupervisorStep,
];

#[test]
fn unsafe_touch_while_held_is_a_counterexample() {
    // L3: touch "succeeds" on the supervisor's file.
    let mut ops = HELD.to_vec();
    ops.push(touch(0, 0));
    let reason = unsafe_reason(&scenario(0, &ops), Method::Touch);
    assert!(
        reason.contains("(d) the supervisor holds every lock") && reason.contains("app1 (touch)"),
        "{reason}"
    );
    // The same break with touch counted as compliant is a bug report.
    let mut settings = Settings::default();
    settings.compliant.insert(Method::Touch);
    let err = check(
        &scenario(0, &ops),
        &current(),
        &Faults::default(),
        &settings,
        None,
    )
    .unwrap_err();
    assert!(err.contains("(d)"), "{err}");
}

#[test]
fn unsafe_flock_while_held_is_a_counterexample() {
    let mut ops = HELD.to_vec();
    ops.push(take_by(1, 0, 0, Method::Flock));
    let reason = unsafe_reason(&scenario(0, &ops), Method::Flock);
    assert!(reason.contains("app1 (flock) holds"), "{reason}");
}

#[test]
fn flock_against_flock_excludes() {
    // Two flockers exclude each other (the kernel says EWOULDBLOCK); flock is
    // unsafe only against the supervisor.
    let s = scenario(
        0,
        &[
            take_by(0, 0, 0, Method::Flock),
            take_by(1, 0, 0, Method::Flock),
            Release {
                user: 0,
                svc: 0,
                file: 0,
            },
            take_by(1, 0, 0, Method::Flock),
        ],
    );
    let mut settings = Settings::default();
    settings.compliant.insert(Method::Flock);
    assert_eq!(
        check(&s, &current(), &Faults::default(), &settings, None),
        Ok(Outcome::Held)
    );
}

#[test]
fn unsafe_stale_stealing_after_ten_minutes_is_a_counterexample() {
    let mut ops = HELD.to_vec();
    ops.push(take_by(1, 0, 0, Method::StealStale));
    // Fresh: refused like an exclusive create.
    assert_eq!(outcome_now(&scenario(0, &ops)), Outcome::Held);
    ops.insert(ops.len() - 1, TimePasses);
    let reason = unsafe_reason(&scenario(0, &ops), Method::StealStale);
    assert!(
        reason.contains("(e) app1 (steal-stale) removed the live supervisor's regular file"),
        "{reason}"
    );
}

#[test]
fn audit_incremental_checks_agree_with_auditing_every_op() {
    // Every op's lstat of the paths it can touch must see exactly what
    // reading every directory of the tree sees: run the corpus and a
    // scenario with every method both ways and compare outcomes.
    let full = Settings::default().with_full_audit();
    let mut scenarios: Vec<Scenario> = corpus("lock_race")
        .iter()
        .filter_map(|(_, b)| scenario_from_bytes(b))
        .collect();
    let mut ops = HELD.to_vec();
    ops.extend([
        touch(0, 0),
        TimePasses,
        take_by(0, 0, 1, Method::StealStale),
        take_by(1, 0, 0, Method::Flock),
        symlink(0, 1, false),
        CrashSupervisor,
    ]);
    scenarios.push(scenario(1, &ops));
    assert!(scenarios.len() > 5);
    for s in &scenarios {
        assert_eq!(
            outcomes(s, &Settings::default()),
            outcomes(s, &full),
            "reproducer: {s:?}"
        );
    }
}

#[test]
fn audit_catches_an_entry_no_op_made() {
    // An entry planted where no op of the model could have made it (a
    // supervisor writing outside its lock paths would do this) fails the
    // end-of-run audit, and the next run gets a clean tree again.
    let settings = Settings::default();
    let mut run = lockcheck_fuzz::lock_race::Stepper::new(
        0,
        &current(),
        &Faults::default(),
        &settings,
        false,
    )
    .unwrap();
    assert!(run.apply(StartTake { force: false }));
    std::fs::write(run.root().join("tmp").join("stray"), "").unwrap();
    let (outcome, _) = run.finish();
    let err = outcome.unwrap_err();
    assert!(err.contains("audit") && err.contains("stray"), "{err}");
    holds(scenario(0, &with_steps(&[StartTake { force: false }])));
}
