//! The conformance matrix as tests: every case on every default profile
//! against the embedded reference, parameterised with rstest. Each cell must
//! meet exactly the outcome its profile promises.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use lockcheck::case;
use lockcheck::outcome::{Outcome, Promise};
use lockcheck::runner::{run_cell, RunConfig};
use lockcheck::sut::Embedded;
use rstest::rstest;

#[rstest]
fn conformance(
    #[values(
        "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "P1", "P2", "P3", "P4", "P5", "U1",
        "U2", "U3", "U4", "U5", "R1", "R2", "R3", "R4", "R5", "O1", "O2", "O3", "O4", "C1", "C2",
        "C3"
    )]
    id: &str,
    #[values(
        "1.2.1@1.0.0",
        "2.4.0@1.20.0",
        "2.8.2@1.20.0",
        "4.1.1@1.26.0",
        "4.1.1@2.0.6",
        "6.6.8@2.9.0",
        "7.16.6@2.15.1",
        "7.22.0@2.26.0",
        "7.25.0@2.29.0",
        "9.3.0@2.29.2",
        "9.15.7@2.31.5",
        "12.11.34@2.85.0",
        "13.1.0@2.88.0",
        "14.4.10@2.95.0",
        "16.2.8@2.113.0",
        "16.2.9@2.113.0",
        "16.5.0@2.113.0",
        "16.12.7@4.0.0",
        "17.3.5@5.1.0"
    )]
    profile: &str,
) {
    let case = case::all()
        .into_iter()
        .find(|c| c.id == id)
        .expect("case registered");
    let profile: lockgates::Profile = profile.parse().unwrap();
    let target = Arc::new(Embedded {
        exe: common::exe(),
        faults: vec![],
        time_scale: lockcheck::sut::EMBEDDED_TIME_SCALE,
        runtime: Default::default(),
    });
    let cfg = RunConfig {
        profiles: vec![profile.clone()],
        cases: vec![case],
        jobs: 1,
        case_timeout: Duration::from_secs(90),
        exe: common::exe(),
        progress: false,
        faults: vec![],
        patience: lockcheck::ctx::Patience {
            time_scale: lockcheck::sut::EMBEDDED_TIME_SCALE,
            ..Default::default()
        },
        runs_dir: None,
        keep_all: false,
        keep_cell: None,
        rerun_flags: None,
    };
    let cell = run_cell(target, case, &profile, &cfg);
    let want = match (case.promise)(&profile) {
        Promise::Pass => Outcome::Pass,
        Promise::Hazard => Outcome::Hazard,
        Promise::NotApplicable => Outcome::NotApplicable,
    };
    assert_eq!(
        cell.outcome,
        want,
        "{id} on {profile}: {}",
        cell.detail.unwrap_or_default()
    );
}

#[test]
fn the_matrix_lists_match_the_spec_ids_and_default_profiles() {
    let text = include_str!("matrix.rs");
    let ids = case::SPEC_IDS
        .iter()
        .map(|id| format!("\"{id}\""))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        text.replace(",\n        ", ", ").contains(&ids),
        "the #[values] case list must be SPEC_IDS"
    );
    for p in lockcheck::profiles::DEFAULT_PROFILES {
        assert!(
            text.contains(&format!("\"{p}\"")),
            "profile {p} missing from the #[values] list"
        );
    }
}

/// Every gate of `gates.toml` has a default profile on each side of its
/// boundary, so the default matrix exercises both behaviours of each.
#[test]
fn default_profiles_cover_every_gate_on_both_sides() {
    let profiles = lockcheck::profiles::defaults();
    for gate in lockgates::Gate::ALL {
        let open = profiles.iter().filter(|p| p.has(*gate)).count();
        assert!(
            open > 0 && open < profiles.len(),
            "gate {gate} is {} on every default profile",
            if open > 0 { "open" } else { "closed" }
        );
    }
}
