//! The terminal rendering: a matrix of cases (rows) by profiles (columns),
//! then one line per failing cell, and the summary line last.
//!
//! The matrix fits a 100-column terminal for the default 31x19 run: when the
//! profile names do not fit as column headers, columns are numbered and a
//! legend under the table names them; when even that is too wide, cells use
//! short labels (`haz` for `hazard`), and past that one-character marks
//! (`.` pass, `h` hazard, `-` n/a, `F` FAIL, `x` xfail, `X` XPASS) that the
//! legend spells out.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Cell, Report};
use crate::outcome::Outcome;

/// The widest line the matrix may print (a 100-column terminal, one spare).
pub const MAX_WIDTH: usize = 99;
/// Row labels (`L1 exclusive`) are cut to this many characters.
const LABEL_MAX: usize = 28;
/// Row labels are never cut shorter than this to make room for columns.
const LABEL_MIN: usize = 12;

/// How a cell is shown once the expectations file was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shown {
    /// Promise met.
    Pass,
    /// A failure nobody expected (a regression).
    Fail,
    /// The documented hazard was reproduced.
    Hazard,
    /// Not run.
    NotApplicable,
    /// A failure the expectations file lists.
    ExpectedFailure,
    /// Listed as a known failure, but it passed.
    UnexpectedPass,
}

impl Shown {
    /// Classify a cell.
    pub fn of(cell: &Cell) -> Shown {
        match cell.outcome {
            Outcome::Fail if cell.expected_failure => Shown::ExpectedFailure,
            Outcome::Fail => Shown::Fail,
            _ if cell.unexpected_pass => Shown::UnexpectedPass,
            Outcome::Pass => Shown::Pass,
            Outcome::Hazard => Shown::Hazard,
            Outcome::NotApplicable => Shown::NotApplicable,
        }
    }

    /// The cell text: `pass`, `FAIL`, `hazard`, `n/a`, `xfail`, `XPASS`.
    pub fn label(self) -> &'static str {
        match self {
            Shown::Pass => "pass",
            Shown::Fail => "FAIL",
            Shown::Hazard => "hazard",
            Shown::NotApplicable => "n/a",
            Shown::ExpectedFailure => "xfail",
            Shown::UnexpectedPass => "XPASS",
        }
    }

    /// The cell text when columns are narrow (at most 5 characters).
    fn short_label(self) -> &'static str {
        match self {
            Shown::Hazard => "haz",
            other => other.label(),
        }
    }

    /// The one-character mark for the tightest layout.
    fn mark(self) -> &'static str {
        match self {
            Shown::Pass => ".",
            Shown::Fail => "F",
            Shown::Hazard => "h",
            Shown::NotApplicable => "-",
            Shown::ExpectedFailure => "x",
            Shown::UnexpectedPass => "X",
        }
    }

    /// The ANSI SGR parameters for this state.
    fn sgr(self) -> &'static str {
        match self {
            Shown::Pass => "32",
            Shown::Fail => "1;31",
            Shown::Hazard => "33",
            Shown::NotApplicable => "2",
            Shown::ExpectedFailure => "35",
            Shown::UnexpectedPass => "1;36",
        }
    }
}

/// Wrap `text` in the ANSI colour `sgr` when `color` is on.
fn paint(text: &str, sgr: &str, color: bool) -> String {
    if color {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Cut `text` to at most `width` characters, marking a cut with `…`.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The column layout chosen for a report.
struct Layout {
    /// Width of the row-label column.
    label: usize,
    /// Width of every profile column.
    col: usize,
    /// Headers are column numbers, named by a legend.
    numbered: bool,
    /// Cells use short labels.
    short: bool,
    /// Cells use one-character marks.
    tiny: bool,
}

impl Layout {
    /// Pick the widest layout that fits `MAX_WIDTH`.
    fn choose(report: &Report, labels: &[String]) -> Layout {
        let n = report.profiles.len();
        let label = labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(4, LABEL_MAX);
        let cell_w = |short: bool| {
            report
                .cells
                .iter()
                .map(|c| {
                    let s = Shown::of(c);
                    if short {
                        s.short_label().len()
                    } else {
                        s.label().len()
                    }
                })
                .max()
                .unwrap_or(4)
        };
        let width = |label: usize, col: usize| label + n * (col + 1);
        let profile_w = report
            .profiles
            .iter()
            .map(|p| p.chars().count())
            .max()
            .unwrap_or(0);
        let col = cell_w(false).max(profile_w);
        if width(label, col) <= MAX_WIDTH {
            return Layout {
                label,
                col,
                numbered: false,
                short: false,
                tiny: false,
            };
        }
        let digits = n.to_string().len();
        let col = cell_w(false).max(digits);
        if width(label, col) <= MAX_WIDTH {
            return Layout {
                label,
                col,
                numbered: true,
                short: false,
                tiny: false,
            };
        }
        let col = cell_w(true).max(digits);
        let room = MAX_WIDTH.saturating_sub(n * (col + 1));
        if room >= LABEL_MIN {
            return Layout {
                label: label.min(room),
                col,
                numbered: true,
                short: true,
                tiny: false,
            };
        }
        let room = MAX_WIDTH.saturating_sub(n * (digits + 1));
        Layout {
            label: label.min(room.max(LABEL_MIN)),
            col: digits,
            numbered: true,
            short: true,
            tiny: true,
        }
    }
}

/// Render the report for a terminal; `color` adds ANSI colours.
///
/// The last line is exactly `report.summary()`'s Display (`N passed, N failed,
/// N skipped`) so CI log parsers can read it; the text ends with a newline.
pub fn render(report: &Report, color: bool) -> String {
    let labels: Vec<String> = report
        .cases
        .iter()
        .map(|c| format!("{} {}", c.id, c.title))
        .collect();
    let layout = Layout::choose(report, &labels);
    let by_key: HashMap<(&str, &str), &Cell> = report
        .cells
        .iter()
        .map(|c| ((c.case.as_str(), c.profile.as_str()), c))
        .collect();
    let mut out = String::new();

    // Header row.
    let _ = write!(out, "{:<w$}", "", w = layout.label);
    for (i, p) in report.profiles.iter().enumerate() {
        let head = if layout.numbered {
            (i + 1).to_string()
        } else {
            p.clone()
        };
        let _ = write!(out, " {:<w$}", head, w = layout.col);
    }
    trim_end(&mut out);
    out.push('\n');

    // One row per case.
    let mut shown_any = HashMap::new();
    for (case, label) in report.cases.iter().zip(&labels) {
        let _ = write!(out, "{:<w$}", cut(label, layout.label), w = layout.label);
        for p in &report.profiles {
            out.push(' ');
            match by_key.get(&(case.id.as_str(), p.as_str())) {
                Some(cell) => {
                    let s = Shown::of(cell);
                    *shown_any.entry(s).or_insert(0usize) += 1;
                    let text = if layout.tiny {
                        s.mark()
                    } else if layout.short {
                        s.short_label()
                    } else {
                        s.label()
                    };
                    out.push_str(&paint(text, s.sgr(), color));
                    pad(&mut out, text, layout.col);
                }
                None => {
                    out.push_str(&paint("-", "2", color));
                    pad(&mut out, "-", layout.col);
                }
            }
        }
        trim_end(&mut out);
        out.push('\n');
    }

    if layout.numbered {
        let marks: Vec<Shown> = if layout.tiny {
            let mut seen: Vec<Shown> = shown_any.keys().copied().collect();
            seen.sort_by_key(|s| s.mark());
            seen
        } else {
            Vec::new()
        };
        legend(
            &mut out,
            report,
            layout.short && !layout.tiny && shown_any.contains_key(&Shown::Hazard),
            &marks,
        );
    }
    out.push('\n');
    failures(&mut out, report, color);

    let summary = report.summary();
    let _ = writeln!(out, "{}", extra_counts(report, &summary));
    let _ = writeln!(out, "{summary}");
    out
}

/// Pad after `text` (already written, maybe coloured) to `width` columns.
fn pad(out: &mut String, text: &str, width: usize) {
    let n = width.saturating_sub(text.chars().count());
    out.push_str(&" ".repeat(n));
}

/// Drop trailing spaces of the last line (padding of the last column).
fn trim_end(out: &mut String) {
    let keep = out.trim_end_matches(' ').len();
    out.truncate(keep);
}

/// The legend naming numbered columns, wrapped to `MAX_WIDTH`.
fn legend(out: &mut String, report: &Report, haz: bool, marks: &[Shown]) {
    let mut items: Vec<String> = report
        .profiles
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}={}", i + 1, p))
        .collect();
    if haz {
        items.push("(haz = hazard)".to_string());
    }
    if !marks.is_empty() {
        let spelled: Vec<String> = marks
            .iter()
            .map(|s| format!("{} {}", s.mark(), s.label()))
            .collect();
        items.push(format!("({})", spelled.join(", ")));
    }
    let mut line = String::from("columns:");
    for item in items {
        if line.len() + 2 + item.len() > MAX_WIDTH {
            let _ = writeln!(out, "{line}");
            line = String::from("        ");
        }
        line.push_str("  ");
        line.push_str(&item);
    }
    let _ = writeln!(out, "{line}");
}

/// The failure section of [`render`] alone, uncoloured: what a test or a
/// benchmark prints when a run it started did not pass.
pub fn failures_text(report: &Report) -> String {
    let mut out = String::new();
    failures(&mut out, report, false);
    out
}

/// One line per failing cell, then per expected failure, then the unexpected
/// passes, the target and the faults.
fn failures(out: &mut String, report: &Report, color: bool) {
    let listed = report.cells.iter().filter(|c| Shown::of(c) == Shown::Fail);
    let expected = report
        .cells
        .iter()
        .filter(|c| Shown::of(c) == Shown::ExpectedFailure);
    for cell in listed.chain(expected) {
        let s = Shown::of(cell);
        let detail = cell
            .detail
            .as_deref()
            .unwrap_or("(no detail)")
            .replace('\n', "\n    ");
        let _ = writeln!(
            out,
            "{} {} on {}: {}",
            paint(s.label(), s.sgr(), color),
            cell.case,
            cell.profile,
            detail
        );
        if let Some(dir) = &cell.evidence {
            let _ = writeln!(out, "    evidence: {dir}");
        }
    }
    let xpass: Vec<String> = report
        .cells
        .iter()
        .filter(|c| Shown::of(c) == Shown::UnexpectedPass)
        .map(|c| format!("{} on {}", c.case, c.profile))
        .collect();
    if !xpass.is_empty() {
        let head = paint("XPASS", Shown::UnexpectedPass.sgr(), color);
        let _ = writeln!(
            out,
            "{head} listed as known failures but passed (update the expectations file): {}",
            xpass.join(", ")
        );
    }
    for c in report
        .cells
        .iter()
        .filter(|c| Shown::of(c) == Shown::UnexpectedPass)
    {
        if let Some(dir) = &c.evidence {
            let _ = writeln!(out, "    evidence of {} on {}: {dir}", c.case, c.profile);
        }
    }
    let _ = writeln!(out, "target: {}", report.target);
    if !report.faults.is_empty() {
        let _ = writeln!(out, "faults: {}", report.faults.join(", "));
    }
    rerun_commands(out, report);
}

/// One command per profile that re-runs exactly its failing and
/// unexpectedly passing cells, with the run's target flags.
fn rerun_commands(out: &mut String, report: &Report) {
    let mut by_profile: Vec<(&str, Vec<&str>)> = Vec::new();
    for c in report
        .cells
        .iter()
        .filter(|c| matches!(Shown::of(c), Shown::Fail | Shown::UnexpectedPass))
    {
        match by_profile.iter_mut().find(|(p, _)| *p == c.profile) {
            Some((_, cases)) => cases.push(&c.case),
            None => by_profile.push((&c.profile, vec![&c.case])),
        }
    }
    if by_profile.is_empty() {
        return;
    }
    let _ = writeln!(out, "re-run just these cells:");
    let flags = report
        .rerun_flags
        .as_deref()
        .map(|f| format!(" {f}"))
        .unwrap_or_default();
    for (profile, cases) in by_profile {
        let cases: String = cases.iter().map(|c| format!(" --case {c}")).collect();
        let _ = writeln!(out, "  lockcheck run --profile {profile}{cases}{flags}");
    }
}

/// The line before the summary: cells, wall time and the counts the summary
/// line leaves out (hazards, expected failures, unexpected passes).
fn extra_counts(report: &Report, s: &super::Summary) -> String {
    let mut line = format!(
        "{} cells ({} cases x {} profiles) in {:.1} s",
        report.cells.len(),
        report.cases.len(),
        report.profiles.len(),
        report.wall_ms as f64 / 1000.0
    );
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut extra = Vec::new();
    if s.hazards > 0 {
        extra.push(plural(s.hazards, "hazard reproduced", "hazards reproduced"));
    }
    if s.expected_failures > 0 {
        extra.push(plural(
            s.expected_failures,
            "expected failure",
            "expected failures",
        ));
    }
    if s.unexpected_passes > 0 {
        extra.push(plural(
            s.unexpected_passes,
            "unexpected pass",
            "unexpected passes",
        ));
    }
    if !extra.is_empty() {
        let _ = write!(line, "; {}", extra.join(", "));
    }
    line
}
