//! Loading `gates.toml`, the data file both the reference and the suite read.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::Gate;

/// The table text, compiled in so every binary carries the same table.
pub const GATES_TOML: &str = include_str!("../gates.toml");

/// One behaviour gate: open for a profile when both requirements match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateRow {
    /// Stable id, the name of a [`Gate`] variant.
    pub id: String,
    /// SPEC behaviour ids this gate decides.
    #[serde(default)]
    pub spec: Vec<String>,
    /// Supervisor versions for which the gate is open.
    #[serde(default = "any")]
    pub supervisor: VersionReq,
    /// OS versions for which the gate is open.
    #[serde(default = "any")]
    pub os: VersionReq,
    /// Where the rule comes from: seed, cl X.Y.Z, modelled.
    pub source: String,
    /// What the gate switches on, in words.
    pub note: String,
}

/// A combination of versions that never existed and is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefuseRow {
    /// Stable id.
    pub id: String,
    /// Supervisor versions refused.
    #[serde(default = "any")]
    pub supervisor: VersionReq,
    /// OS versions refused (with the supervisor requirement).
    #[serde(default = "any")]
    pub os: VersionReq,
    /// Where the rule comes from.
    pub source: String,
    /// Message shown to the user.
    pub reason: String,
}

fn any() -> VersionReq {
    VersionReq::STAR
}

/// The parsed table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateTable {
    /// Behaviour gates in file order.
    pub gate: Vec<GateRow>,
    /// Unsupported combinations.
    #[serde(default)]
    pub refuse: Vec<RefuseRow>,
    #[serde(skip)]
    by_gate: BTreeMap<Gate, usize>,
}

impl GateTable {
    /// Parse a table and check that it has exactly one row per [`Gate`].
    pub fn parse(text: &str) -> Result<GateTable, String> {
        let mut table: GateTable = toml::from_str(text).map_err(|e| format!("gates table: {e}"))?;
        for (i, row) in table.gate.iter().enumerate() {
            let gate: Gate = row.id.parse().map_err(|e| format!("gates table: {e}"))?;
            if table.by_gate.insert(gate, i).is_some() {
                return Err(format!("gates table: gate '{}' has two rows", row.id));
            }
        }
        if let Some(missing) = Gate::ALL.iter().find(|g| !table.by_gate.contains_key(g)) {
            return Err(format!("gates table: gate '{missing}' has no row"));
        }
        Ok(table)
    }

    /// The row deciding `gate`.
    pub fn row(&self, gate: Gate) -> &GateRow {
        &self.gate[self.by_gate[&gate]]
    }

    /// Whether `gate` is open for these versions.
    pub fn is_open(&self, gate: Gate, supervisor: &Version, os: &Version) -> bool {
        let row = self.row(gate);
        matches(&row.supervisor, supervisor) && matches(&row.os, os)
    }

    /// The refuse row matching these versions, if any.
    pub fn refusal(&self, supervisor: &Version, os: &Version) -> Option<&RefuseRow> {
        self.refuse
            .iter()
            .find(|r| matches(&r.supervisor, supervisor) && matches(&r.os, os))
    }
}

/// semver requirements ignore pre-release versions unless named; our versions
/// are plain releases, so compare on the release triple only.
fn matches(req: &VersionReq, v: &Version) -> bool {
    let plain = Version::new(v.major, v.minor, v.patch);
    req.matches(&plain)
}

/// The compiled-in table, parsed once.
pub fn gate_table() -> &'static GateTable {
    static TABLE: OnceLock<GateTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        GateTable::parse(GATES_TOML).expect("compiled-in gates.toml is valid (unit-tested)")
    })
}
