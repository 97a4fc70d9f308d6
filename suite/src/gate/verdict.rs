//! The verdict, computed from the probe rows alone: any unsafe row makes a
//! tool incompatible; a probe that could not run leaves it undecided;
//! caveats make it compatible with caveats.

use serde::{Deserialize, Serialize};

use super::probe::{ProbeResult, Status};

/// Whether the supervisor and the tool can share a lock path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every probe found what the protocol needs.
    Compatible,
    /// Compatible, with limits the reasons name.
    CompatibleWithCaveats,
    /// At least one probe found the tool breaking the protocol.
    Incompatible,
    /// A probe could not run, and none found the tool unsafe.
    CouldNotRun,
    /// The tool is not installed.
    NotInstalled,
}

impl Verdict {
    /// As the tables show it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Compatible => "compatible",
            Verdict::CompatibleWithCaveats => "compatible-with-caveats",
            Verdict::Incompatible => "incompatible",
            Verdict::CouldNotRun => "could not run",
            Verdict::NotInstalled => "not installed",
        }
    }
}

/// The verdict and its reasons (`probe (case): finding`), from the rows.
pub fn decide(rows: &[ProbeResult]) -> (Verdict, Vec<String>) {
    let with = |status: Status| -> Vec<String> {
        let mut reasons: Vec<String> = Vec::new();
        for row in rows.iter().filter(|r| r.status == status) {
            let reason = if matches!(status, Status::CouldNotRun | Status::NotInstalled) {
                row.finding.clone()
            } else {
                format!("{}: {}", row.title(), row.finding)
            };
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        reasons
    };
    for (status, verdict) in [
        (Status::NotInstalled, Verdict::NotInstalled),
        (Status::Unsafe, Verdict::Incompatible),
        (Status::CouldNotRun, Verdict::CouldNotRun),
        (Status::Caveat, Verdict::CompatibleWithCaveats),
    ] {
        let reasons = with(status);
        if !reasons.is_empty() {
            return (verdict, reasons);
        }
    }
    (Verdict::Compatible, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, finding: &str) -> ProbeResult {
        ProbeResult::new("race", "8 copies", status, finding)
    }

    #[test]
    fn the_worst_row_decides() {
        assert_eq!(
            decide(&[row(Status::Ok, "fine"), row(Status::Note, "n")]).0,
            Verdict::Compatible
        );
        let (v, why) = decide(&[row(Status::Caveat, "dir"), row(Status::Unsafe, "2 holders")]);
        assert_eq!(v, Verdict::Incompatible);
        assert_eq!(why, vec!["race (8 copies): 2 holders".to_string()]);
        let (v, why) = decide(&[
            row(Status::CouldNotRun, "timed out"),
            row(Status::Caveat, "dir"),
        ]);
        assert_eq!(
            (v, why),
            (Verdict::CouldNotRun, vec!["timed out".to_string()])
        );
        let (v, _) = decide(&[row(Status::Caveat, "dir"), row(Status::Ok, "fine")]);
        assert_eq!(v, Verdict::CompatibleWithCaveats);
        // Unsafe beats could-not-run: one proof of harm is enough.
        let (v, _) = decide(&[row(Status::CouldNotRun, "x"), row(Status::Unsafe, "y")]);
        assert_eq!(v, Verdict::Incompatible);
    }
}
