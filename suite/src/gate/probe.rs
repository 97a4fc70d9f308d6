//! What a probe reports: one row per probe case, with a status that says
//! what the measurement means for sharing a lock path with the supervisor,
//! the finding in one sentence, and the evidence behind it.

use serde::{Deserialize, Serialize};

/// What one probe case found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The tool behaved as the protocol needs.
    Ok,
    /// Worth knowing, not a problem.
    Note,
    /// Works with the supervisor, with a limit the user should know.
    Caveat,
    /// Breaks the protocol: the supervisor and the tool cannot share a path.
    Unsafe,
    /// The probe could not be run (the reason says why).
    CouldNotRun,
    /// The tool is not installed.
    NotInstalled,
}

impl Status {
    /// How the human table shows it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Note => "note",
            Status::Caveat => "caveat",
            Status::Unsafe => "UNSAFE",
            Status::CouldNotRun => "could not run",
            Status::NotInstalled => "not installed",
        }
    }
}

/// One row: a probe on one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The probe: `existing-lock`, `race`, `release`, `path`, `stealing`, `live`.
    pub probe: String,
    /// The case within it, e.g. `supervisor file` or `after SIGKILL`.
    pub case: String,
    /// What it means.
    pub status: Status,
    /// The finding in one sentence, e.g. `refused (exit 1)`.
    pub finding: String,
    /// What was measured: exit codes, entries on disk, witness counts.
    pub evidence: Vec<String>,
    /// Wall time of the case.
    pub duration_ms: u64,
}

impl ProbeResult {
    /// A row with no evidence yet.
    pub fn new(probe: &str, case: &str, status: Status, finding: impl Into<String>) -> ProbeResult {
        ProbeResult {
            probe: probe.into(),
            case: case.into(),
            status,
            finding: finding.into(),
            evidence: Vec::new(),
            duration_ms: 0,
        }
    }

    /// With evidence lines.
    pub fn with_evidence(mut self, evidence: Vec<String>) -> ProbeResult {
        self.evidence = evidence;
        self
    }

    /// `probe (case)`, as reasons and JUnit names show it.
    pub fn title(&self) -> String {
        if self.case.is_empty() {
            self.probe.clone()
        } else {
            format!("{} ({})", self.probe, self.case)
        }
    }
}
