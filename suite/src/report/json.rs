//! The JSON rendering: the whole [`Report`] plus a `"summary"` object.
//!
//! The document deserialises back into a [`Report`] (the extra `summary`
//! key is ignored), so a saved run can be re-rendered in another format.

use serde::Serialize;

use super::{Report, Summary};

/// The document written: the report's own fields, then its counts.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    report: &'a Report,
    summary: Summary,
}

/// Render the report as pretty-printed JSON, ending with a newline.
pub fn render(report: &Report) -> anyhow::Result<String> {
    let doc = Document {
        report,
        summary: report.summary(),
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}
