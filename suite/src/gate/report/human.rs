//! The gate report for people: per tool a table of probe rows with their
//! evidence and the verdict (`lockcheck gate --tool X`), or for `--all` the
//! compatibility table with each verdict's reasons and evidence.

use std::fmt::Write;

use super::{GateReport, ToolReport};
use crate::gate::probe::Status;
use crate::gate::verdict::Verdict;

/// Every tool in full: templates, probe rows with evidence, verdict.
pub fn render_detail(report: &GateReport) -> String {
    let mut out = String::new();
    for (i, tool) in report.tools.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} - {} ({})", tool.name, tool.title, version(tool));
        let _ = writeln!(out, "  {}", tool.templates);
        if let Some(notes) = &tool.notes {
            let _ = writeln!(out, "  {notes}");
        }
        let _ = writeln!(
            out,
            "  against refsup {}; race: {} copies x {} rounds\n",
            report.profile, report.copies, report.rounds
        );
        let _ = writeln!(
            out,
            "  {:<14} {:<32} {:<14} FINDING",
            "PROBE", "CASE", "RESULT"
        );
        for row in &tool.probes {
            let _ = writeln!(
                out,
                "  {:<14} {:<32} {:<14} {}",
                row.probe,
                row.case,
                row.status.label(),
                row.finding
            );
            for line in &row.evidence {
                let _ = writeln!(out, "  {:<14} {:<32} {:<14}   . {line}", "", "", "");
            }
        }
        let _ = writeln!(
            out,
            "\nverdict: {} ({:.1} s)",
            tool.verdict.label(),
            tool.duration_ms as f64 / 1000.0
        );
        for reason in &tool.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
    }
    out
}

/// `--all`: the compatibility table, then each tool's reasons with evidence.
pub fn render_table(report: &GateReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lock tools against refsup {} (race: {} copies x {} rounds)\n",
        report.profile, report.copies, report.rounds
    );
    let _ = writeln!(
        out,
        "{:<16} {:<32} {:<24} TIME",
        "TOOL", "VERSION", "VERDICT"
    );
    for tool in &report.tools {
        let _ = writeln!(
            out,
            "{:<16} {:<32} {:<24} {:.1} s",
            tool.name,
            version(tool),
            tool.verdict.label(),
            tool.duration_ms as f64 / 1000.0
        );
    }
    for tool in &report.tools {
        let _ = writeln!(out, "\n{}: {}", tool.name, tool.verdict.label());
        match tool.verdict {
            Verdict::Compatible => {
                for row in &tool.probes {
                    let _ = writeln!(
                        out,
                        "  {:<4} {}: {}",
                        row.status.label(),
                        row.title(),
                        row.finding
                    );
                }
            }
            Verdict::NotInstalled | Verdict::CouldNotRun => {
                for reason in &tool.reasons {
                    let _ = writeln!(out, "  - {reason}");
                }
            }
            Verdict::Incompatible | Verdict::CompatibleWithCaveats => {
                let worst = if tool.verdict == Verdict::Incompatible {
                    Status::Unsafe
                } else {
                    Status::Caveat
                };
                for row in tool.probes.iter().filter(|r| r.status == worst) {
                    let _ = writeln!(out, "  - {}: {}", row.title(), row.finding);
                    for line in &row.evidence {
                        let _ = writeln!(out, "      . {line}");
                    }
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} tools in {:.1} s",
        report.tools.len(),
        report.wall_ms as f64 / 1000.0
    );
    out
}

/// `util-linux 2.38.1-5`, `lockcheck 0.1.0`, or `version unknown`.
fn version(tool: &ToolReport) -> String {
    match (&tool.package, &tool.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (None, Some(v)) => v.clone(),
        (Some(p), None) => format!("{p}, version unknown"),
        (None, None) => "version unknown".into(),
    }
}
