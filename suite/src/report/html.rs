//! The HTML rendering: one self-contained page (inline CSS, no scripts, no
//! external assets) with the counts, the coloured matrix and, for every
//! failing, expected-failing, unexpectedly passing or hazard cell, what was
//! expected and what was seen.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::human::Shown;
use super::{CaseInfo, Cell, Report};

/// The page's style sheet.
const CSS: &str = r#"
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#ffffff; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: var(--fg); background: var(--bg);
  font: 14px/1.45 -apple-system, "Segoe UI", "Noto Sans", "DejaVu Sans", Helvetica, Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 6px; }
code, pre, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.counts { display: flex; flex-wrap: wrap; gap: 10px; margin: 18px 0 6px; }
.count { min-width: 108px; padding: 8px 14px; border-radius: 8px; border: 1px solid var(--line); background: var(--soft); }
.count b { display: block; font-size: 22px; line-height: 1.2; }
.count span { color: var(--muted); font-size: 12.5px; }
.count.fail.nonzero { background: #fde7e7; border-color: #f1a7a7; }
.count.fail.nonzero b { color: #b42318; }
.count.pass b { color: #1a7f37; }
.summary-line { margin: 6px 0 0; color: var(--muted); }
.verdict { display: inline-block; margin-left: 10px; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 600; vertical-align: 3px; }
.verdict.ok { background: #dafbe1; color: #1a7f37; }
.verdict.bad { background: #b42318; color: #fff; }
table.matrix { border-collapse: separate; border-spacing: 0; margin-top: 4px; }
.matrix th, .matrix td { border-bottom: 1px solid var(--line); padding: 0; }
.matrix thead th { position: sticky; top: 0; background: var(--bg); vertical-align: bottom;
  padding: 4px 3px 6px; font-weight: 600; text-align: center; border-bottom: 2px solid var(--line); }
.matrix thead th.corner { text-align: right; padding-right: 14px; }
.matrix thead th.corner .sup { color: var(--muted); font-weight: 400; }
.matrix .sup { display: block; font-size: 12.5px; }
.matrix .os { display: block; font-size: 11px; color: var(--muted); font-weight: 400; }
.matrix tbody th { text-align: left; font-weight: 400; padding: 3px 14px 3px 2px; white-space: nowrap; cursor: help; }
.matrix tbody th .id { display: inline-block; min-width: 2.4em; font-weight: 700; }
.matrix tbody tr:hover th { background: var(--soft); }
.matrix td { text-align: center; padding: 2px; }
.matrix td > * { display: block; min-width: 74px; padding: 3px 4px; border-radius: 4px; font-size: 12.5px; text-decoration: none; }
.matrix td a:hover { outline: 2px solid var(--fg); }
.s-pass { background: #dafbe1; color: #1a7f37; }
.s-fail { background: #cf222e; color: #fff; font-weight: 700; }
.s-hazard { background: #fff1c2; color: #8a5300; }
.s-na { background: #f3f4f6; color: #9aa1a9; }
.s-xfail { background: #f6e2fb; color: #8a1f9e; }
.s-xpass { background: #c8f2fa; color: #0b5567; font-weight: 700; }
.s-missing { color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 10px 0 0; color: var(--muted); font-size: 12.5px; }
.legend span.tag { margin-right: 4px; }
.tag { display: inline-block; padding: 1px 7px; border-radius: 4px; font-size: 12px; }
.detail { max-width: 1100px; border: 1px solid var(--line); border-left-width: 5px; border-radius: 6px; padding: 8px 14px 10px; margin: 8px 0; }
.detail.s-fail-box { border-left-color: #cf222e; }
.detail.s-xfail-box { border-left-color: #a33fb8; }
.detail.s-xpass-box { border-left-color: #1b8aa3; }
.detail.s-hazard-box { border-left-color: #d49b00; }
.detail .name { color: var(--muted); font-weight: 400; margin-left: 6px; }
.detail .spec { margin: 2px 0 6px; color: var(--muted); }
.detail pre { margin: 0; padding: 8px 10px; background: var(--soft); border-radius: 4px; white-space: pre-wrap; word-break: break-word; }
.none { color: var(--muted); }
"#;

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a cell state.
fn class(s: Shown) -> &'static str {
    match s {
        Shown::Pass => "s-pass",
        Shown::Fail => "s-fail",
        Shown::Hazard => "s-hazard",
        Shown::NotApplicable => "s-na",
        Shown::ExpectedFailure => "s-xfail",
        Shown::UnexpectedPass => "s-xpass",
    }
}

/// Whether a cell gets a section with its detail below the matrix.
fn has_section(s: Shown) -> bool {
    !matches!(s, Shown::Pass | Shown::NotApplicable)
}

/// Render the report as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let summary = report.summary();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>lockcheck: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&summary.to_string())
    );
    header(&mut out, report);
    matrix(&mut out, report);
    details(&mut out, report);
    out.push_str("</body>\n</html>\n");
    out
}

/// Title, target, faults and the counts.
fn header(out: &mut String, report: &Report) {
    let s = report.summary();
    let verdict = if s.failed == 0 {
        "<span class=\"verdict ok\">all promised outcomes met</span>"
    } else {
        "<span class=\"verdict bad\">regressions</span>"
    };
    let faults = if report.faults.is_empty() {
        "<span class=\"none\">none</span>".to_string()
    } else {
        report
            .faults
            .iter()
            .map(|f| format!("<code>{}</code>", escape(f)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        out,
        "<header>\n<h1>lockcheck conformance report {verdict}</h1>\n<dl class=\"meta\">\
         <dt>Target</dt><dd>{}</dd><dt>Faults</dt><dd>{faults}</dd>\
         <dt>Matrix</dt><dd>{} cases &times; {} profiles, {} cells</dd>\
         <dt>Wall time</dt><dd>{:.1} s</dd></dl>\n</header>\n",
        escape(&report.target),
        report.cases.len(),
        report.profiles.len(),
        report.cells.len(),
        report.wall_ms as f64 / 1000.0,
    );
    let counts = [
        ("pass", s.passed, "passed", "passed"),
        ("fail", s.failed, "failed", "failed"),
        (
            "hazard",
            s.hazards,
            "hazard reproduced (in passed)",
            "hazards reproduced (in passed)",
        ),
        (
            "xfail",
            s.expected_failures,
            "expected failure",
            "expected failures",
        ),
        (
            "xpass",
            s.unexpected_passes,
            "unexpected pass",
            "unexpected passes",
        ),
        ("na", s.skipped, "skipped (n/a)", "skipped (n/a)"),
    ];
    out.push_str("<section class=\"counts\">\n");
    for (cls, n, one, many) in counts {
        let what = if n == 1 { one } else { many };
        let nz = if n > 0 { " nonzero" } else { "" };
        let _ = writeln!(
            out,
            "<div class=\"count {cls}{nz}\"><b>{n}</b><span>{what}</span></div>"
        );
    }
    let _ = writeln!(
        out,
        "</section>\n<p class=\"summary-line mono\">{}</p>",
        escape(&s.to_string())
    );
}

/// The anchor id of the section for cell number `i`.
fn anchor(i: usize) -> String {
    format!("cell-{i}")
}

/// The coloured matrix: cases down, profiles across.
fn matrix(out: &mut String, report: &Report) {
    let index: HashMap<(&str, &str), (usize, &Cell)> = report
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.case.as_str(), c.profile.as_str()), (i, c)))
        .collect();
    out.push_str("<h2>Matrix</h2>\n<table class=\"matrix\">\n<thead><tr><th class=\"corner\"><span class=\"sup\">supervisor</span><span class=\"os\">OS</span></th>");
    for p in &report.profiles {
        let (sup, os) = p.split_once('@').unwrap_or((p.as_str(), ""));
        let os = if os.is_empty() {
            String::new()
        } else {
            format!("OS {os}")
        };
        let _ = write!(
            out,
            "<th title=\"{}\"><span class=\"sup\">{}</span><span class=\"os\">{}</span></th>",
            escape(p),
            escape(sup),
            escape(&os)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for case in &report.cases {
        let _ = write!(
            out,
            "<tr><th scope=\"row\" title=\"{}\"><span class=\"id\">{}</span> {}</th>",
            escape(&case.spec),
            escape(&case.id),
            escape(&case.title)
        );
        for p in &report.profiles {
            match index.get(&(case.id.as_str(), p.as_str())) {
                Some((i, cell)) => cell_td(out, *i, cell, case),
                None => out.push_str("<td><span class=\"s-missing\">&ndash;</span></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n<div class=\"legend\">");
    for s in [
        Shown::Pass,
        Shown::Fail,
        Shown::Hazard,
        Shown::NotApplicable,
        Shown::ExpectedFailure,
        Shown::UnexpectedPass,
    ] {
        let what = match s {
            Shown::Pass => "promise met",
            Shown::Fail => "regression",
            Shown::Hazard => "documented hazard reproduced",
            Shown::NotApplicable => "not in this profile",
            Shown::ExpectedFailure => "known failure",
            Shown::UnexpectedPass => "known failure that passed",
        };
        let _ = write!(
            out,
            "<span><span class=\"tag {}\">{}</span>{what}</span>",
            class(s),
            s.label()
        );
    }
    out.push_str("</div>\n");
}

/// One matrix cell; cells with a section link to it.
fn cell_td(out: &mut String, i: usize, cell: &Cell, case: &CaseInfo) {
    let s = Shown::of(cell);
    let tip = match &cell.detail {
        Some(d) => format!("{} on {}: {}", case.id, cell.profile, d),
        None => format!("{} on {}: {}", case.id, cell.profile, s.label()),
    };
    if has_section(s) {
        let _ = write!(
            out,
            "<td><a class=\"{}\" href=\"#{}\" title=\"{}\">{}</a></td>",
            class(s),
            anchor(i),
            escape(&tip),
            s.label()
        );
    } else {
        let _ = write!(
            out,
            "<td><span class=\"{}\" title=\"{}\">{}</span></td>",
            class(s),
            escape(&tip),
            s.label()
        );
    }
}

/// A section per notable cell, regressions first.
fn details(out: &mut String, report: &Report) {
    let groups = [
        (Shown::Fail, "Failures"),
        (Shown::ExpectedFailure, "Expected failures"),
        (Shown::UnexpectedPass, "Unexpected passes"),
        (Shown::Hazard, "Hazards reproduced"),
    ];
    for (kind, heading) in groups {
        let cells: Vec<(usize, &Cell)> = report
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| Shown::of(c) == kind)
            .collect();
        if cells.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h2>{heading} ({})</h2>", cells.len());
        for (i, cell) in cells {
            let info = report.cases.iter().find(|c| c.id == cell.case);
            let (title, name, spec) = match info {
                Some(c) => (c.title.as_str(), c.name.as_str(), c.spec.as_str()),
                None => ("", "", ""),
            };
            let mut detail = cell.detail.clone().unwrap_or_default();
            if kind == Shown::UnexpectedPass {
                let note = format!(
                    "listed in the expectations file as a known failure, but the outcome was {}",
                    cell.outcome.label()
                );
                detail = if detail.is_empty() {
                    note
                } else {
                    format!("{note}\n{detail}")
                };
            }
            if detail.is_empty() {
                detail = "(no detail recorded)".to_string();
            }
            if let Some(dir) = &cell.evidence {
                detail.push_str(&format!("\nevidence: {dir}"));
            }
            let _ = writeln!(
                out,
                "<article class=\"detail {cls}-box\" id=\"{id}\"><h3><span class=\"tag {cls}\">{label}</span> \
                 {case} {title} on <code>{profile}</code><span class=\"name mono\">{name}</span></h3>\
                 <p class=\"spec\">{spec}</p><pre>{detail}</pre></article>",
                cls = class(kind),
                id = anchor(i),
                label = kind.label(),
                case = escape(&cell.case),
                title = escape(title),
                profile = escape(&cell.profile),
                name = escape(name),
                spec = escape(spec),
                detail = escape(&detail),
            );
        }
    }
}
