//! The gate's report: per tool, the probe rows and the verdict; rendered
//! for people (a table with evidence), as JSON, or as JUnit XML for CI.

pub mod human;
pub mod json;
pub mod junit;

use serde::{Deserialize, Serialize};

use super::probe::ProbeResult;
use super::verdict::Verdict;

/// Which `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables with evidence.
    Human,
    /// The whole report as JSON.
    Json,
    /// JUnit XML: a testsuite per tool, a testcase per probe case.
    Junit,
}

/// One tool's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolReport {
    /// Short name, e.g. `flock`.
    pub name: String,
    /// What it is.
    pub title: String,
    /// Debian package, if known.
    pub package: Option<String>,
    /// Installed package version, if known.
    pub version: Option<String>,
    /// The templates it was driven with.
    pub templates: String,
    /// How the templates use the tool.
    pub notes: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why (empty when compatible).
    pub reasons: Vec<String>,
    /// Every probe row.
    pub probes: Vec<ProbeResult>,
    /// Wall time for this tool.
    pub duration_ms: u64,
}

/// A whole gate run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateReport {
    /// The supervisor profile probed against.
    pub profile: String,
    /// Race copies per round.
    pub copies: usize,
    /// Race rounds.
    pub rounds: usize,
    /// The tools, in order.
    pub tools: Vec<ToolReport>,
    /// Wall time of the run.
    pub wall_ms: u64,
}

impl GateReport {
    /// Render in `format`; `all` picks the human compatibility table over
    /// per-probe detail.
    pub fn render(&self, format: Format, all: bool) -> anyhow::Result<String> {
        match format {
            Format::Human if all => Ok(human::render_table(self)),
            Format::Human => Ok(human::render_detail(self)),
            Format::Json => json::render(self),
            Format::Junit => junit::render(self),
        }
    }
}
