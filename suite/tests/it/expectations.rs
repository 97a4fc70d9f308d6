//! Expectations files: parsing, errors, applying to a report, stale entries.

use std::path::Path;

use lockcheck::expectations::Expectations;
use lockcheck::outcome::{Outcome, Promise};
use lockcheck::report::{CaseInfo, Cell, Report};

fn cell(case: &str, profile: &str, outcome: Outcome) -> Cell {
    Cell {
        case: case.into(),
        profile: profile.into(),
        promised: Promise::Pass,
        outcome,
        detail: (outcome == Outcome::Fail).then(|| format!("{case} broke on {profile}")),
        expected_failure: false,
        unexpected_pass: false,
        duration_ms: 1,
        metrics: Default::default(),
        evidence: None,
    }
}

fn case(id: &str, name: &str) -> CaseInfo {
    CaseInfo {
        id: id.into(),
        name: name.into(),
        title: id.into(),
        spec: String::new(),
    }
}

/// L1 (passes), L6 and L8 (fail on 16.2.9, pass/hazard/n/a elsewhere).
fn report() -> Report {
    let (a, b) = ("16.2.9@2.113.0", "17.3.5@5.1.0");
    Report {
        rerun_flags: None,
        target: "test".into(),
        faults: vec![],
        profiles: vec![a.into(), b.into()],
        cases: vec![
            case("L1", "locking::l1_exclusive"),
            case("L6", "locking::l6_symlinks"),
            case("L8", "locking::l8_rollback"),
        ],
        cells: vec![
            cell("L1", a, Outcome::Pass),
            cell("L1", b, Outcome::Pass),
            cell("L6", a, Outcome::Fail),
            cell("L6", b, Outcome::Pass),
            cell("L8", a, Outcome::Fail),
            cell("L8", b, Outcome::Hazard),
        ],
        wall_ms: 10,
    }
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/data")
        .join(name)
}

#[test]
fn apply_marks_expected_failures_and_unexpected_passes() {
    let exp = Expectations::load(&data("expectations.toml")).unwrap();
    assert_eq!(exp.len(), 3);
    let mut r = report();
    exp.apply(&mut r);
    let get = |c: &str, p: &str| r.cell(c, p).unwrap().clone();
    // "L6" on "16.2.9@*": the failure is expected, with the reason appended.
    let l6 = get("L6", "16.2.9@2.113.0");
    assert!(l6.expected_failure && !l6.unexpected_pass);
    assert_eq!(
        l6.detail.as_deref(),
        Some("L6 broke on 16.2.9@2.113.0 (known failure: symlinks are followed (bug #123))")
    );
    // Not listed on 17.3.5.
    let l6b = get("L6", "17.3.5@5.1.0");
    assert!(!l6b.expected_failure && !l6b.unexpected_pass);
    // "locking::l8_*" matches by case name, on every profile.
    assert!(get("L8", "16.2.9@2.113.0").expected_failure);
    let l8b = get("L8", "17.3.5@5.1.0");
    assert!(
        l8b.unexpected_pass,
        "a hazard reproduced where a failure was listed is unexpected"
    );
    assert!(!get("L1", "16.2.9@2.113.0").unexpected_pass);

    let s = r.summary();
    assert_eq!(
        (s.failed, s.expected_failures, s.unexpected_passes),
        (0, 2, 1)
    );
    assert!(r.cells.iter().all(|c| !c.is_regression()));

    // Applying again changes nothing.
    let before = serde_json::to_value(&r).unwrap();
    exp.apply(&mut r);
    assert_eq!(serde_json::to_value(&r).unwrap(), before);
}

#[test]
fn unused_entries_are_listed() {
    let exp = Expectations::load(&data("expectations.toml")).unwrap();
    let unused = exp.unused(&report());
    assert_eq!(unused.len(), 1, "{unused:?}");
    assert!(
        unused[0].ends_with("expectations.toml:17: case \"Z9\" matched no cell"),
        "{}",
        unused[0]
    );
}

#[test]
fn entries_matching_only_not_run_cells_are_unused() {
    let exp = Expectations::parse(
        "[[known-failure]]\ncase = \"L1\"\nreason = \"x\"\n",
        "e.toml",
    )
    .unwrap();
    let mut r = report();
    for c in &mut r.cells {
        if c.case == "L1" {
            c.outcome = Outcome::NotApplicable;
        }
    }
    exp.apply(&mut r);
    assert!(r
        .cells
        .iter()
        .all(|c| !c.unexpected_pass && !c.expected_failure));
    assert_eq!(
        exp.unused(&r),
        vec!["e.toml:2: case \"L1\" matched no cell".to_string()]
    );
}

#[test]
fn a_regression_stays_a_regression() {
    let exp = Expectations::parse(
        "[[known-failure]]\ncase = \"L6\"\nprofile = \"17.*\"\nreason = \"x\"\n",
        "e.toml",
    )
    .unwrap();
    let mut r = report();
    exp.apply(&mut r);
    assert!(r.cell("L6", "16.2.9@2.113.0").unwrap().is_regression());
    assert!(r.cell("L6", "17.3.5@5.1.0").unwrap().unexpected_pass);
    assert_eq!(r.summary().failed, 2);
}

#[test]
fn empty_file_is_fine() {
    let exp = Expectations::parse("# nothing known\n", "e.toml").unwrap();
    assert!(exp.is_empty());
    let mut r = report();
    exp.apply(&mut r);
    assert_eq!(r.summary().failed, 2);
}

fn err(text: &str) -> String {
    let e = Expectations::parse(text, "ci/expect.toml")
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "one line: {e:?}");
    e
}

#[test]
fn syntax_error_names_file_and_line() {
    let e = err("[[known-failure]]\ncase = \"L6\"\nreason = oops\n");
    assert!(e.starts_with("ci/expect.toml:3: "), "{e}");
}

#[test]
fn unknown_key_refused() {
    let e = err("[[known-failure]]\ncase = \"L6\"\nreason = \"x\"\nprofiles = \"17.*\"\n");
    assert!(e.starts_with("ci/expect.toml:4: "), "{e}");
    assert!(e.contains("profiles"), "{e}");
    let e = err("[[known-failures]]\ncase = \"L6\"\n");
    assert!(
        e.starts_with("ci/expect.toml:1: ") && e.contains("known-failures"),
        "{e}"
    );
}

#[test]
fn missing_reason_refused() {
    let e = err("\n[[known-failure]]\ncase = \"L6\"\n");
    assert!(
        e.starts_with("ci/expect.toml:2: ") && e.contains("reason"),
        "{e}"
    );
}

#[test]
fn bad_glob_refused_and_named() {
    let e = err("[[known-failure]]\ncase = \"L6\"\nreason = \"x\"\n\n[[known-failure]]\ncase = \"L[6\"\nreason = \"x\"\n");
    assert!(
        e.starts_with("ci/expect.toml:6: bad case glob \"L[6\""),
        "{e}"
    );
    let e = err("[[known-failure]]\ncase = \"L6\"\nprofile = \"{16.*\"\nreason = \"x\"\n");
    assert!(
        e.starts_with("ci/expect.toml:3: bad profile glob \"{16.*\""),
        "{e}"
    );
    let e = err("[[known-failure]]\ncase = \"\"\nreason = \"x\"\n");
    assert!(e.starts_with("ci/expect.toml:2: empty case glob"), "{e}");
}

#[test]
fn missing_file_named() {
    let e = Expectations::load(Path::new("/nonexistent/expect.toml")).unwrap_err();
    assert!(
        format!("{e:#}").contains("/nonexistent/expect.toml"),
        "{e:#}"
    );
}
