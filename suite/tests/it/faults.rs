//! The fault catalogue: each bug injected into the reference (bugs that
//! never shipped as designed behaviour; what versions really did is in the
//! gate table) is caught by the case(s) it belongs to and by no other case.

use crate::common;

use std::collections::BTreeSet;

use rstest::rstest;

/// Every fault on the newest profile, where all of them are observable.
const PROFILE: &str = "17.3.5@5.1.0";

#[rstest]
// L8: the 4.1.1 report: cleanup removed a user's lock.
#[case("rollback-removes-user-lock", &["L8"])]
// U3: the 2.8.2 report: kill-then-download ignored the lock.
#[case("kill-then-download-ignores-lock", &["U3"])]
#[case("follow-symlinks", &["L6"])]
#[case("force-sticks", &["O4"])]
#[case("kill-before-all-locks", &["L1", "L7"])]
fn each_fault_is_caught_by_its_cases_only(#[case] fault: &str, #[case] expected: &[&str]) {
    let (code, out, err) = common::lockcheck(&[
        "run",
        "--profile",
        PROFILE,
        "--fault",
        fault,
        "--format",
        "json",
        "--jobs",
        "3",
    ]);
    assert_eq!(code, 1, "a caught fault fails the run: {err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let caught: BTreeSet<String> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| c["case"].as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    let details: Vec<String> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| format!("{}: {}", c["case"], c["detail"]))
        .collect();
    assert_eq!(
        caught, expected,
        "fault {fault} caught by the wrong cases: {details:#?}"
    );
    assert_eq!(report["faults"], serde_json::json!([fault]));
}

#[test]
fn every_fault_has_a_catching_test() {
    let text = include_str!("faults.rs");
    for fault in <refsup::fault::Fault as clap::ValueEnum>::value_variants() {
        assert!(
            text.contains(&format!("#[case(\"{}\"", fault.name())),
            "fault {} has no test",
            fault.name()
        );
    }
}
