//! What a run counts as compliant and how hard it looks, with environment
//! defaults so a fuzzer run can be switched without rebuilding.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::Method;

/// Settings of a `lock_race` run.
///
/// - `LOCK_RACE_COMPLIANT`: comma-separated [`Method::name`]s that count as
///   compliant (default `exclusive,mkdir,symlink,dangling-symlink`); a break
///   after any other method acted is that method's counterexample, not a
///   bug. Name `touch` here and the fuzzer crashes on touch's
///   counterexamples instead of passing over them.
/// - `LOCK_RACE_AUDIT=every-op`: walk the whole temp dir after every op, not
///   only at the end of a run (slow; proves the incremental checks miss
///   nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// The methods that count as compliant.
    pub compliant: BTreeSet<Method>,
    /// Walk the whole tree after every op.
    pub audit_every_op: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            compliant: Method::ALL
                .into_iter()
                .filter(|m| m.is_exclusive())
                .collect(),
            audit_every_op: false,
        }
    }
}

impl Settings {
    /// The defaults, overridden by the environment; an error names the bad
    /// variable and value.
    pub fn from_env() -> Result<Settings, String> {
        let mut settings = Settings::default();
        if let Ok(list) = std::env::var("LOCK_RACE_COMPLIANT") {
            settings.compliant = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    Method::from_name(n).ok_or_else(|| {
                        format!(
                            "LOCK_RACE_COMPLIANT: unknown method {n:?} (one of {})",
                            Method::ALL.map(Method::name).join(", ")
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        match std::env::var("LOCK_RACE_AUDIT").as_deref() {
            Err(_) | Ok("") | Ok("end") => {}
            Ok("every-op") => settings.audit_every_op = true,
            Ok(other) => {
                return Err(format!(
                    "LOCK_RACE_AUDIT: {other:?} is not `every-op` or `end`"
                ))
            }
        }
        Ok(settings)
    }

    /// [`Settings::from_env`], read once; panics with its error (a fuzzer
    /// run with a bad variable must not start).
    pub fn global() -> &'static Settings {
        static GLOBAL: OnceLock<Settings> = OnceLock::new();
        GLOBAL.get_or_init(|| Settings::from_env().unwrap_or_else(|e| panic!("{e}")))
    }

    /// Every method counts as compliant: any break is reported (the
    /// explorer's mode).
    pub fn all_compliant() -> Settings {
        Settings {
            compliant: Method::ALL.into_iter().collect(),
            ..Settings::default()
        }
    }

    /// The same settings with `audit_every_op` set.
    pub fn with_full_audit(mut self) -> Settings {
        self.audit_every_op = true;
        self
    }
}
