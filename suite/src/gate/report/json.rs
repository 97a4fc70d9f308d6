//! The gate report as JSON (the `GateReport` structure, pretty-printed).

use anyhow::Context;

use super::GateReport;

/// Render the report as JSON.
pub fn render(report: &GateReport) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(report).context("cannot write the JSON report")?;
    text.push('\n');
    Ok(text)
}
