//! A lock tool as the gate drives it: either an acquire and a release
//! command, or one command that holds the lock around `{critical}`.

use anyhow::{bail, Result};

use super::template::{Fill, Template};

/// How the tool takes and gives back the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// `acquire` exits 0 once the lock is taken (non-zero: refused);
    /// `release` gives it back.
    AcquireRelease {
        /// Takes the lock.
        acquire: Template,
        /// Gives it back.
        release: Template,
    },
    /// Runs `{critical}` while holding the lock and releases it after
    /// (e.g. `flock {path} {critical}`); a non-zero exit without running
    /// `{critical}` means refused.
    Hold {
        /// The holding command.
        hold: Template,
    },
}

/// A tool under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// Short name (`flock`), or `custom` for templates given on the command line.
    pub name: String,
    /// What it is (`util-linux flock(1)`).
    pub title: String,
    /// The Debian package that provides it, if known.
    pub package: Option<String>,
    /// How it is driven.
    pub shape: Shape,
    /// How the template uses the tool, for readers of the report.
    pub notes: Option<String>,
}

impl Shape {
    /// The shape from the three templates: `acquire` with `release`, or
    /// `hold` alone. `name` is the tool's (`custom` for command-line flags).
    pub fn from_templates(
        name: &str,
        acquire: Option<&str>,
        release: Option<&str>,
        hold: Option<&str>,
    ) -> Result<Shape> {
        match (acquire, release, hold) {
            (Some(a), Some(r), None) => Ok(Shape::AcquireRelease {
                acquire: Template::parse(&flag(name, "acquire"), a, &["path"])?,
                release: Template::parse(&flag(name, "release"), r, &["path"])?,
            }),
            (None, None, Some(h)) => Ok(Shape::Hold {
                hold: Template::parse(&flag(name, "hold"), h, &["path", "critical"])?,
            }),
            (Some(_), None, None) => {
                bail!(
                    "{} needs {} too: how is the lock given back?",
                    flag(name, "acquire"),
                    flag(name, "release")
                )
            }
            (None, Some(_), None) => bail!(
                "{} needs {} too",
                flag(name, "release"),
                flag(name, "acquire")
            ),
            (None, None, None) => bail!("{name}: give --acquire and --release, or --hold"),
            _ => bail!("{name}: give either --acquire and --release, or --hold, not both"),
        }
    }
}

impl Tool {
    /// The shell script one holder runs: take the lock, run the critical
    /// section, release. Its exit status is the acquire's when that fails,
    /// else the release's (or the holding command's).
    pub fn holder_script(&self, fill: &Fill<'_>) -> String {
        match &self.shape {
            Shape::AcquireRelease { acquire, release } => format!(
                "{}\nrc=$?\nif [ \"$rc\" -ne 0 ]; then exit \"$rc\"; fi\n{}\n{}\n",
                acquire.expand(fill),
                super::template::shell_word(&fill.critical.to_string_lossy()),
                release.expand(fill)
            ),
            Shape::Hold { hold } => format!("{}\n", hold.expand(fill)),
        }
    }

    /// The templates, for reports: `acquire 'X', release 'Y'` or `hold 'Z'`.
    pub fn describe(&self) -> String {
        match &self.shape {
            Shape::AcquireRelease { acquire, release } => format!(
                "acquire '{}', release '{}'",
                one_line(acquire.text()),
                one_line(release.text())
            ),
            Shape::Hold { hold } => format!("hold '{}'", one_line(hold.text())),
        }
    }
}

/// The flag a template came from, for errors (`--acquire`, or
/// `flock: acquire` for a profile).
fn flag(name: &str, which: &str) -> String {
    if name == "custom" {
        format!("--{which}")
    } else {
        format!("tool {name}: {which}")
    }
}

/// Multi-line templates (inline scripts) shown on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
