//! Expectations files: a target declares its known failures, so a CI gate
//! fails only on regressions and reports unexpected passes (like
//! web-platform-tests metadata).
//!
//! ```toml
//! # why this target is known to fail these
//! [[known-failure]]
//! case = "L6"                 # SPEC id or a glob over case ids/names ("L*", "locking::*")
//! profile = "16.2.9@*"        # optional glob over profiles; default all
//! reason = "symlinks are followed (bug #123)"
//! ```

use std::ops::Range;
use std::path::Path;

use anyhow::{anyhow, Context};
use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;

use crate::outcome::Outcome;
use crate::report::{Cell, Report};

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "known-failure", default)]
    known_failure: Vec<RawEntry>,
}

/// One `[[known-failure]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    case: Spanned<String>,
    #[serde(default)]
    profile: Option<Spanned<String>>,
    reason: String,
}

/// One known failure, with its globs compiled.
#[derive(Debug, Clone)]
struct Entry {
    /// The `case` glob as written.
    case: String,
    case_glob: GlobMatcher,
    /// The `profile` glob as written, if any.
    profile: Option<String>,
    profile_glob: Option<GlobMatcher>,
    reason: String,
    /// 1-based line of the entry's `case` key.
    line: usize,
}

impl Entry {
    /// Whether this entry lists `cell` (whose case has module name `name`).
    fn matches(&self, cell: &Cell, name: Option<&str>) -> bool {
        self.matches_ids(&cell.case, name, &cell.profile)
    }

    fn matches_ids(&self, case: &str, name: Option<&str>, profile: &str) -> bool {
        let case_ok =
            self.case_glob.is_match(case) || name.is_some_and(|n| self.case_glob.is_match(n));
        let profile_ok = match &self.profile_glob {
            Some(g) => g.is_match(profile),
            None => true,
        };
        case_ok && profile_ok
    }
}

/// The known failures of a target, loaded from an expectations file.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// Where the file came from (for messages).
    origin: String,
    entries: Vec<Entry>,
}

/// The module name of a cell's case (`locking::l1_exclusive`), if listed.
fn case_name<'r>(report: &'r Report, cell: &Cell) -> Option<&'r str> {
    report
        .cases
        .iter()
        .find(|c| c.id == cell.case)
        .map(|c| c.name.as_str())
}

/// 1-based line number of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Compile one glob, naming it (and where it is) when it is bad.
fn glob(
    text: &str,
    origin: &str,
    key: &str,
    value: &str,
    span: Range<usize>,
) -> anyhow::Result<GlobMatcher> {
    let line = line_of(text, span.start);
    if value.is_empty() {
        return Err(anyhow!("{origin}:{line}: empty {key} glob"));
    }
    Glob::new(value)
        .map(|g| g.compile_matcher())
        .map_err(|e| anyhow!("{origin}:{line}: bad {key} glob {value:?}: {}", e.kind()))
}

impl Expectations {
    /// Read and parse the expectations file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Expectations> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read expectations file {}", path.display()))?;
        Expectations::parse(&text, &path.display().to_string())
    }

    /// Parse expectations from `text`; `origin` names the file in errors,
    /// which are one line: `origin:line: message`.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Expectations> {
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            let msg = e.message().trim().replace('\n', "; ");
            anyhow!("{origin}:{line}: {msg}")
        })?;
        let mut entries = Vec::with_capacity(file.known_failure.len());
        for raw in file.known_failure {
            let case_span = raw.case.span();
            let line = line_of(text, case_span.start);
            let case = raw.case.into_inner();
            let case_glob = glob(text, origin, "case", &case, case_span)?;
            let (profile, profile_glob) = match raw.profile {
                Some(p) => {
                    let span = p.span();
                    let p = p.into_inner();
                    let g = glob(text, origin, "profile", &p, span)?;
                    (Some(p), Some(g))
                }
                None => (None, None),
            };
            entries.push(Entry {
                case,
                case_glob,
                profile,
                profile_glob,
                reason: raw.reason,
                line,
            });
        }
        Ok(Expectations {
            origin: origin.to_string(),
            entries,
        })
    }

    /// How many `[[known-failure]]` entries the file has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file lists no known failure.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry matching `cell`, if any.
    fn matching(&self, report: &Report, cell: &Cell) -> Option<&Entry> {
        let name = case_name(report, cell);
        self.entries.iter().find(|e| e.matches(cell, name))
    }

    /// Whether the cell (case id and name, profile) is listed as a known
    /// failure, before it runs (its dir is kept: it may pass unexpectedly).
    pub fn lists(&self, case: &str, name: &str, profile: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.matches_ids(case, Some(name), profile))
    }

    /// Mark the report's cells: a failure listed here becomes an expected
    /// failure (its detail gets ` (known failure: <reason>)`); a listed cell
    /// that passed or reproduced its hazard becomes an unexpected pass.
    /// Cells not run (n/a) are left alone. Applying twice changes nothing more.
    pub fn apply(&self, report: &mut Report) {
        let marks: Vec<Option<String>> = report
            .cells
            .iter()
            .map(|c| self.matching(report, c).map(|e| e.reason.clone()))
            .collect();
        for (cell, reason) in report.cells.iter_mut().zip(marks) {
            let Some(reason) = reason else { continue };
            match cell.outcome {
                Outcome::Fail if !cell.expected_failure => {
                    cell.expected_failure = true;
                    cell.detail = Some(match cell.detail.take() {
                        Some(d) => format!("{d} (known failure: {reason})"),
                        None => format!("known failure: {reason}"),
                    });
                }
                Outcome::Pass | Outcome::Hazard => cell.unexpected_pass = true,
                Outcome::Fail | Outcome::NotApplicable => {}
            }
        }
    }

    /// The entries that match no cell that ran (n/a cells do not count), one
    /// line each (`origin:line: case "L6" profile "16.2.9@*" matched no
    /// cell`), so a stale file is visible.
    pub fn unused(&self, report: &Report) -> Vec<String> {
        let mut used = vec![false; self.entries.len()];
        for cell in report
            .cells
            .iter()
            .filter(|c| c.outcome != Outcome::NotApplicable)
        {
            let name = case_name(report, cell);
            for (u, e) in used.iter_mut().zip(&self.entries) {
                *u |= e.matches(cell, name);
            }
        }
        self.entries
            .iter()
            .zip(used)
            .filter(|(_, u)| !u)
            .map(|(e, _)| {
                let profile = match &e.profile {
                    Some(p) => format!(" profile {p:?}"),
                    None => String::new(),
                };
                format!(
                    "{}:{}: case {:?}{profile} matched no cell",
                    self.origin, e.line, e.case
                )
            })
            .collect()
    }
}
