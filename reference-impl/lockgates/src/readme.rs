//! The gate table as Markdown, for `README.md` (kept in step by a test).

use crate::gate_table;

/// One Markdown table row per gate and refusal: behaviour, versions, commits
/// and source, exactly as `gates.toml` says.
pub fn readme_table() -> String {
    let table = gate_table();
    let mut out = String::from(
        "| gate | SPEC | supervisor | OS | since | last without | until | commits | source | behaviour |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let any = |v: String| if v == "*" { String::new() } else { v };
    for row in &table.gate {
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            row.id,
            row.spec.join(" "),
            row.supervisor,
            any(row.os.to_string()),
            row.since,
            row.last_without,
            row.until.as_deref().unwrap_or(""),
            row.commits.join(" "),
            row.source,
            row.note.replace('|', "\\|"),
        ));
    }
    out.push_str("\nRefused profiles:\n\n| refusal | supervisor | OS | source | reason |\n|---|---|---|---|---|\n");
    for row in &table.refuse {
        let source = match &row.why {
            Some(why) => format!("{} ({why})", row.source),
            None => format!("{} {}", row.source, row.commits.join(" ")),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            row.id,
            row.supervisor,
            any(row.os.to_string()),
            source.trim(),
            row.reason
        ));
    }
    out
}
