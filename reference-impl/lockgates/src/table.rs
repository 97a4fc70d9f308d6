//! Loading `gates.toml`, the data file both the reference and the suite read.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::Gate;

/// The table text, compiled in so every binary carries the same table.
pub const GATES_TOML: &str = include_str!("../gates.toml");

/// A set of versions: semver requirements joined by `||` (any may match),
/// each a comma-separated "and" of comparators.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSet(Vec<VersionReq>);

impl VersionSet {
    /// Every version.
    pub fn any() -> VersionSet {
        VersionSet(vec![VersionReq::STAR])
    }

    /// Whether `v` (its release triple; pre-release tags are ignored) is in the set.
    pub fn matches(&self, v: &Version) -> bool {
        let plain = Version::new(v.major, v.minor, v.patch);
        self.0.iter().any(|req| req.matches(&plain))
    }
}

impl std::str::FromStr for VersionSet {
    type Err = String;
    fn from_str(text: &str) -> Result<VersionSet, String> {
        text.split("||")
            .map(|part| {
                VersionReq::parse(part.trim())
                    .map_err(|e| format!("version requirement '{}': {e}", part.trim()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(VersionSet)
    }
}

impl std::fmt::Display for VersionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(" || "))
    }
}

impl<'de> Deserialize<'de> for VersionSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

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
    #[serde(default = "VersionSet::any")]
    pub supervisor: VersionSet,
    /// OS versions for which the gate is open.
    #[serde(default = "VersionSet::any")]
    pub os: VersionSet,
    /// First supervisor tag with the behaviour.
    pub since: String,
    /// The tag just before `since`.
    pub last_without: String,
    /// For a range: the first tag that no longer has the behaviour.
    #[serde(default)]
    pub until: Option<String>,
    /// Commits of the real supervisor that introduced (and ended) it.
    #[serde(default)]
    pub commits: Vec<String>,
    /// Where the rule comes from: src, changelog, seed, modelled.
    pub source: String,
    /// Why a modelled row could not be settled from the source.
    #[serde(default)]
    pub why: Option<String>,
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
    #[serde(default = "VersionSet::any")]
    pub supervisor: VersionSet,
    /// OS versions refused (with the supervisor requirement).
    #[serde(default = "VersionSet::any")]
    pub os: VersionSet,
    /// Where the rule comes from.
    pub source: String,
    /// Commits that settle it, if any.
    #[serde(default)]
    pub commits: Vec<String>,
    /// Why a modelled row could not be settled from the source.
    #[serde(default)]
    pub why: Option<String>,
    /// Message shown to the user.
    pub reason: String,
}

/// The parsed table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateTable {
    /// The newest supervisor version the table was checked against.
    pub newest_known: Version,
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
        row.supervisor.matches(supervisor) && row.os.matches(os)
    }

    /// The refuse row matching these versions, if any.
    pub fn refusal(&self, supervisor: &Version, os: &Version) -> Option<&RefuseRow> {
        self.refuse
            .iter()
            .find(|r| r.supervisor.matches(supervisor) && r.os.matches(os))
    }
}

/// The compiled-in table, parsed once.
pub fn gate_table() -> &'static GateTable {
    static TABLE: OnceLock<GateTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        GateTable::parse(GATES_TOML).expect("compiled-in gates.toml is valid (unit-tested)")
    })
}
