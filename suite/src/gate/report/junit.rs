//! The gate report as JUnit XML (quick-junit): one `<testsuite>` per tool,
//! one `<testcase>` per probe case.
//!
//! | row           | JUnit                                   |
//! |---------------|-----------------------------------------|
//! | ok, note      | success, system-out = finding, evidence |
//! | caveat        | `<failure type="caveat">`               |
//! | UNSAFE        | `<failure type="unsafe">`               |
//! | could not run | `<error>` with the reason               |
//! | not installed | `<skipped>` with the reason             |

use std::time::Duration;

use anyhow::Context;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::GateReport;
use crate::gate::probe::{ProbeResult, Status};

/// Render the report as JUnit XML.
pub fn render(report: &GateReport) -> anyhow::Result<String> {
    let mut junit = Report::new("lockcheck gate");
    junit.set_time(Duration::from_millis(report.wall_ms));
    for tool in &report.tools {
        let mut suite = TestSuite::new(format!("lockcheck gate {}", tool.name));
        suite.add_property(Property::new("verdict", tool.verdict.label()));
        suite.add_property(Property::new("profile", &report.profile));
        suite.add_property(Property::new("templates", &tool.templates));
        if let Some(v) = &tool.version {
            suite.add_property(Property::new("version", v));
        }
        suite.set_time(Duration::from_millis(tool.duration_ms));
        for row in &tool.probes {
            suite.add_test_case(test_case(&tool.name, row));
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().context("cannot write the JUnit XML")
}

fn test_case(tool: &str, row: &ProbeResult) -> TestCase {
    let evidence = row.evidence.join("\n");
    let status = match row.status {
        Status::Ok | Status::Note => TestCaseStatus::success(),
        Status::Caveat | Status::Unsafe => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(row.finding.clone());
            s.set_type(if row.status == Status::Unsafe {
                "unsafe"
            } else {
                "caveat"
            });
            s.set_description(evidence.clone());
            s
        }
        Status::CouldNotRun => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(row.finding.clone());
            s.set_type("could-not-run");
            s
        }
        Status::NotInstalled => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(row.finding.clone());
            s
        }
    };
    let mut case = TestCase::new(row.title(), status);
    case.set_classname(format!("gate.{tool}"));
    case.set_time(Duration::from_millis(row.duration_ms));
    case.set_system_out(format!(
        "{}: {}\n{evidence}",
        row.status.label(),
        row.finding
    ));
    case
}
