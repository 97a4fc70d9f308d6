//! The JUnit XML rendering (quick-junit): one `<testsuite>` per profile, one
//! `<testcase>` per cell.
//!
//! | cell               | JUnit                                           |
//! |--------------------|-------------------------------------------------|
//! | pass               | success                                         |
//! | hazard             | success, system-out `hazard reproduced: ...`    |
//! | FAIL               | `<failure>`, message = first line of the detail |
//! | expected failure   | `<skipped>`, message `expected failure: ...`    |
//! | unexpected pass    | success, system-out notes it                    |
//! | n/a                | `<skipped>`, message = the reason               |

use std::time::Duration;

use anyhow::Context;
use quick_junit::{
    NonSuccessKind, Property, Report as JunitReport, TestCase, TestCaseStatus, TestSuite,
};

use super::human::Shown;
use super::{CaseInfo, Cell, Report};

/// Render the report as JUnit XML.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let mut junit = JunitReport::new("lockcheck");
    junit.set_time(Duration::from_millis(report.wall_ms));
    for profile in &report.profiles {
        let mut suite = TestSuite::new(format!("lockcheck {profile}"));
        suite.add_property(Property::new("target", &report.target));
        if !report.faults.is_empty() {
            suite.add_property(Property::new("faults", report.faults.join(",")));
        }
        let mut time = Duration::ZERO;
        for cell in report.cells.iter().filter(|c| &c.profile == profile) {
            let info = report.cases.iter().find(|c| c.id == cell.case);
            time += Duration::from_millis(cell.duration_ms);
            suite.add_test_case(test_case(cell, info));
        }
        suite.set_time(time);
        junit.add_test_suite(suite);
    }
    junit.to_string().context("cannot write the JUnit XML")
}

/// The `<testcase>` for one cell.
fn test_case(cell: &Cell, info: Option<&CaseInfo>) -> TestCase {
    let (name, classname) = match info {
        Some(i) => (format!("{} {}", i.id, i.title), i.name.clone()),
        None => (cell.case.clone(), cell.case.clone()),
    };
    let mut detail = cell.detail.clone().unwrap_or_default();
    let first_line = detail.lines().next().unwrap_or("").to_string();
    if let Some(dir) = &cell.evidence {
        detail.push_str(&format!("\nevidence: {dir}"));
    }
    let mut note = None;
    let status = match Shown::of(cell) {
        Shown::Pass => TestCaseStatus::success(),
        Shown::Hazard => {
            note = Some(if detail.is_empty() {
                "hazard reproduced".to_string()
            } else {
                format!("hazard reproduced: {detail}")
            });
            TestCaseStatus::success()
        }
        Shown::UnexpectedPass => {
            note = Some(format!(
                "unexpected pass: the expectations file lists this cell as a known failure, \
                 but it passed ({}). {detail}",
                cell.outcome.label()
            ));
            TestCaseStatus::success()
        }
        Shown::Fail => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(if first_line.is_empty() {
                "failed"
            } else {
                &first_line
            });
            s.set_type("FAIL");
            if !detail.is_empty() {
                s.set_description(&detail);
            }
            s
        }
        Shown::ExpectedFailure => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("expected failure: {first_line}"));
            if !detail.is_empty() {
                s.set_description(&detail);
            }
            s
        }
        Shown::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(if detail.is_empty() { "n/a" } else { &detail });
            s
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(classname);
    case.set_time(Duration::from_millis(cell.duration_ms));
    if let Some(note) = note {
        case.set_system_out(note);
    }
    case
}
