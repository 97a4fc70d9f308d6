//! The result of a run, and its renderings: a human matrix, JSON, JUnit XML
//! and a self-contained HTML page.

pub mod html;
pub mod human;
pub mod json;
pub mod junit;

use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, Promise};

/// Which format `--format` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The coloured matrix and summary on a terminal.
    Human,
    /// The whole report as JSON.
    Json,
    /// JUnit XML, one testcase per cell.
    Junit,
    /// One self-contained HTML page.
    Html,
}

/// One case as the report lists it (rows of the matrix).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseInfo {
    /// SPEC id, e.g. `L1`.
    pub id: String,
    /// Module path name, e.g. `locking::l1_exclusive`.
    pub name: String,
    /// Short title.
    pub title: String,
    /// The SPEC text it checks.
    pub spec: String,
}

/// One cell: a case on a profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// SPEC id of the case.
    pub case: String,
    /// Profile, e.g. `17.3.5@5.1.0`.
    pub profile: String,
    /// What the profile promised.
    pub promised: Promise,
    /// What happened.
    pub outcome: Outcome,
    /// For a failure: what was expected and what was seen. For n/a: why.
    /// For a hazard: what was reproduced.
    pub detail: Option<String>,
    /// The expectations file lists this cell as a known failure, and it failed.
    pub expected_failure: bool,
    /// The expectations file lists this cell as a known failure, but it passed.
    pub unexpected_pass: bool,
    /// Wall time of the cell in milliseconds.
    pub duration_ms: u64,
    /// Measurements the case took, e.g. `u2_latency_ms`.
    #[serde(default)]
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// The cell's kept scratch dir (target log, service logs, lock dirs):
    /// kept for a failing cell, a known failure (it may XPASS), or `--keep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl Cell {
    /// Whether this cell makes the run fail (a failure nobody expected).
    pub fn is_regression(&self) -> bool {
        self.outcome == Outcome::Fail && !self.expected_failure
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// What was tested, e.g. `embedded reference (process runtime)` or a URL.
    pub target: String,
    /// Faults the embedded reference ran with.
    pub faults: Vec<String>,
    /// Profiles in column order.
    pub profiles: Vec<String>,
    /// Cases in row order.
    pub cases: Vec<CaseInfo>,
    /// Every cell, in (case, profile) order.
    pub cells: Vec<Cell>,
    /// Wall time of the run in milliseconds.
    pub wall_ms: u64,
    /// The run's flags a re-run of some cells repeats (target, faults,
    /// patience), e.g. `--fault kill-before-all-locks`; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_flags: Option<String>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cells whose promise was met by running them (pass or hazard).
    pub passed: usize,
    /// Failures not listed in the expectations file.
    pub failed: usize,
    /// Failures the expectations file listed.
    pub expected_failures: usize,
    /// Cells listed as known failures that passed.
    pub unexpected_passes: usize,
    /// Hazards reproduced (included in `passed`).
    pub hazards: usize,
    /// Cells not run (n/a).
    pub skipped: usize,
}

impl Report {
    /// Count the cells.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.cells {
            match c.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Hazard => {
                    s.passed += 1;
                    s.hazards += 1
                }
                Outcome::NotApplicable => s.skipped += 1,
                Outcome::Fail if c.expected_failure => s.expected_failures += 1,
                Outcome::Fail => s.failed += 1,
            }
            if c.unexpected_pass {
                s.unexpected_passes += 1;
            }
        }
        s
    }

    /// The cell for a case and profile.
    pub fn cell(&self, case: &str, profile: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.case == case && c.profile == profile)
    }

    /// Render in `format`.
    pub fn render(&self, format: Format, color: bool) -> anyhow::Result<String> {
        Ok(match format {
            Format::Human => human::render(self, color),
            Format::Json => json::render(self)?,
            Format::Junit => junit::render(self)?,
            Format::Html => html::render(self),
        })
    }
}

impl std::fmt::Display for Summary {
    /// `N passed, N failed` (the line CI reads), then the other counts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}
