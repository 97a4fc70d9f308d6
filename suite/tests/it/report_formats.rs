//! The four renderings of a report: human matrix, JSON, JUnit XML, HTML.

use std::process::Command;

use lockcheck::outcome::{Outcome, Promise};
use lockcheck::report::{html, human, json, junit, CaseInfo, Cell, Report};

const P_OLD: &str = "16.2.9@2.113.0";
const P_NEW: &str = "17.3.5@5.1.0";
/// A failure detail with every character HTML and XML must escape.
const L1_DETAIL: &str =
    "expected: nothing killed while <lock> held & \"app\" running\nseen: service 'main' killed after 12 ms";

fn case(id: &str, name: &str, title: &str, spec: &str) -> CaseInfo {
    CaseInfo {
        id: id.into(),
        name: name.into(),
        title: title.into(),
        spec: spec.into(),
    }
}

fn cell(case: &str, profile: &str, outcome: Outcome, detail: Option<&str>) -> Cell {
    let promised = match outcome {
        Outcome::Hazard => Promise::Hazard,
        Outcome::NotApplicable => Promise::NotApplicable,
        _ => Promise::Pass,
    };
    Cell {
        case: case.into(),
        profile: profile.into(),
        promised,
        outcome,
        detail: detail.map(String::from),
        expected_failure: false,
        unexpected_pass: false,
        duration_ms: 250,
        metrics: Default::default(),
        evidence: None,
    }
}

/// 3 cases x 2 profiles with every kind of cell: pass, FAIL, expected
/// failure, unexpected pass, hazard, n/a.
fn sample() -> Report {
    let mut xfail = cell(
        "L6",
        P_OLD,
        Outcome::Fail,
        Some("expected: link target untouched\nseen: target deleted (known failure: symlinks followed)"),
    );
    xfail.expected_failure = true;
    let mut xpass = cell("L6", P_NEW, Outcome::Pass, None);
    xpass.unexpected_pass = true;
    Report {
        target: "embedded reference (process runtime)".into(),
        rerun_flags: Some("--fault symlinks-followed".into()),
        faults: vec!["symlinks-followed".into()],
        profiles: vec![P_OLD.into(), P_NEW.into()],
        cases: vec![
            case(
                "L1",
                "locking::l1_exclusive",
                "exclusive",
                "the supervisor takes every lock of every service <by exclusive create>",
            ),
            case(
                "L3",
                "locking::l3_touch_unsafe",
                "touch is unsafe",
                "touch succeeds while held",
            ),
            case(
                "L6",
                "locking::l6_symlinks",
                "symlinks",
                "a symlink at a lock path is held",
            ),
        ],
        cells: vec![
            cell("L1", P_OLD, Outcome::Pass, None),
            cell("L1", P_NEW, Outcome::Fail, Some(L1_DETAIL)),
            cell(
                "L3",
                P_OLD,
                Outcome::Hazard,
                Some("service killed inside its critical section"),
            ),
            cell(
                "L3",
                P_NEW,
                Outcome::NotApplicable,
                Some("target has no pause-after-lock hook"),
            ),
            xfail,
            xpass,
        ],
        wall_ms: 4321,
    }
}

/// The default run's shape: 29 SPEC cases x 12 profiles, every cell kind.
fn full_matrix() -> Report {
    let titles = [
        "L1 exclusive",
        "L2 touch counts",
        "L3 touch is unsafe",
        "L4 owner",
        "L5 directories",
        "L6 symlinks",
        "L7 multicontainer",
        "L8 rollback",
        "L9 one operation per app",
        "P1 honoured paths",
        "P2 ignored paths",
        "P3 /data cleared at supervisor start",
        "P4 reboot clears /tmp",
        "P5 lock env vars",
        "U1 download while locked",
        "U2 apply after release",
        "U3 every update strategy",
        "U4 metadata-only change",
        "U5 app removal",
        "R1 reboot deferral",
        "R2 non-reboot config",
        "R3 reboot/shutdown API",
        "R4 HUP breadcrumbs",
        "R5 host-config PATCH",
        "O1 override config var",
        "O2 names",
        "O3 truthy values",
        "O4 one-time force",
        "C1 leftover supervisor locks",
        "C2 cleanup spares user locks",
        "C3 nobody-owned user lock",
    ];
    let profiles = lockcheck::profiles::DEFAULT_PROFILES;
    let mut report = Report {
        target: "embedded reference (process runtime)".into(),
        rerun_flags: None,
        faults: vec![],
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        cases: vec![],
        cells: vec![],
        wall_ms: 41_200,
    };
    for (r, t) in titles.iter().enumerate() {
        let (id, title) = t.split_once(' ').unwrap();
        let name = format!("area::{}", id.to_lowercase());
        report.cases.push(case(
            id,
            &name,
            title,
            &format!("SPEC text of {id}: \"{title}\""),
        ));
        for (c, p) in profiles.iter().enumerate() {
            let kind = (r * 7 + c) % 11;
            let outcome = match kind {
                0 => Outcome::Fail,
                1 | 2 => Outcome::Hazard,
                3 | 4 => Outcome::NotApplicable,
                _ => Outcome::Pass,
            };
            let detail = match outcome {
                Outcome::Fail => Some(format!("expected: {title} holds on {p}\nseen: it did not")),
                Outcome::Hazard => Some("documented hazard reproduced".to_string()),
                Outcome::NotApplicable => {
                    Some(format!("{title} does not exist before this version"))
                }
                Outcome::Pass => None,
            };
            let mut cell = cell(id, p, outcome, detail.as_deref());
            cell.expected_failure = outcome == Outcome::Fail && r % 2 == 0;
            cell.unexpected_pass = kind == 5 && r % 3 == 0;
            report.cells.push(cell);
        }
    }
    report
}

#[test]
fn human_last_line_is_exactly_the_summary() {
    let report = sample();
    let out = human::render(&report, false);
    assert!(out.ends_with('\n'));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some(report.summary().to_string().as_str())
    );
    assert_eq!(lines.last().copied(), Some("3 passed, 1 failed, 1 skipped"));
    let before = lines[lines.len() - 2];
    assert!(before.contains("1 hazard reproduced"), "{before}");
    assert!(before.contains("1 expected failure"), "{before}");
    assert!(before.contains("1 unexpected pass"), "{before}");
}

#[test]
fn human_lists_failures_unexpected_passes_and_faults() {
    let out = human::render(&sample(), false);
    assert!(
        out.contains(&format!("FAIL L1 on {P_NEW}: expected: nothing killed")),
        "{out}"
    );
    assert!(out.contains(&format!("xfail L6 on {P_OLD}: ")), "{out}");
    let xpass = out
        .lines()
        .find(|l| l.starts_with("XPASS"))
        .expect("an XPASS line");
    assert!(xpass.contains(&format!("L6 on {P_NEW}")), "{xpass}");
    assert!(
        out.lines().any(|l| l == "faults: symlinks-followed")
            && out
                .lines()
                .any(|l| l == "target: embedded reference (process runtime)"),
        "{out}"
    );
    // The matrix: header with the profiles, one row per case.
    let row = out
        .lines()
        .find(|l| l.starts_with("L3 touch is unsafe"))
        .unwrap();
    assert!(row.contains("hazard") && row.contains("n/a"), "{row}");
    assert!(out.lines().next().unwrap().contains(P_OLD));
}

#[test]
fn human_colours_only_when_asked() {
    let report = sample();
    let plain = human::render(&report, false);
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let coloured = human::render(&report, true);
    assert!(coloured.contains("\x1b[32mpass"), "green pass");
    assert!(coloured.contains("\x1b[1;31mFAIL"), "red bold FAIL");
    assert!(coloured.contains("\x1b[33mhazard"), "yellow hazard");
    assert!(coloured.contains("\x1b[2mn/a"), "dim n/a");
    assert!(coloured.contains("\x1b[35mxfail"), "magenta xfail");
    assert!(coloured.contains("XPASS"));
    // The summary line stays plain for CI parsers.
    assert_eq!(
        coloured.lines().last(),
        Some("3 passed, 1 failed, 1 skipped")
    );
}

#[test]
fn human_full_matrix_fits_100_columns() {
    let report = full_matrix();
    for color in [false, true] {
        let out = human::render(&report, color);
        let plain = strip_ansi(&out);
        let matrix: Vec<&str> = plain.lines().take_while(|l| !l.is_empty()).collect();
        assert!(matrix.len() > 1 + 31, "header, rows, legend:\n{plain}");
        for line in &matrix {
            assert!(
                line.chars().count() <= 100,
                "too wide ({}): {line}",
                line.chars().count()
            );
        }
        assert!(plain.contains("columns:  1=1.2.1@1.0.0"), "{plain}");
        assert!(plain.contains("19=17.3.5@5.1.0"), "{plain}");
        assert_eq!(
            plain.lines().last(),
            Some(report.summary().to_string().as_str())
        );
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn json_round_trips_and_has_a_summary() {
    let report = sample();
    let text = json::render(&report).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&report).unwrap()
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = &v["summary"];
    assert_eq!(s["passed"], 3);
    assert_eq!(s["failed"], 1);
    assert_eq!(s["expected_failures"], 1);
    assert_eq!(s["unexpected_passes"], 1);
    assert_eq!(s["hazards"], 1);
    assert_eq!(s["skipped"], 1);
    assert!(text.contains("\n  \""), "pretty-printed");
}

/// Parse JUnit XML with python3's xml.etree and count what CI would show.
const PY_JUNIT: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
suites = root.findall("testsuite")
cases = root.iter("testcase")
out = {"root": root.tag, "suites": [s.get("name") for s in suites], "cases": []}
for c in cases:
    f = c.find("failure"); k = c.find("skipped"); o = c.find("system-out")
    out["cases"].append({
        "name": c.get("name"), "classname": c.get("classname"), "time": c.get("time"),
        "failure": None if f is None else f.get("message"),
        "failure_text": None if f is None else f.text,
        "skipped": None if k is None else k.get("message"),
        "out": None if o is None else o.text,
    })
print(json.dumps(out))
"#;

#[test]
fn junit_is_valid_xml_with_the_right_counts() {
    use std::io::Write;
    let xml = junit::render(&sample()).unwrap();
    let mut child = Command::new("python3")
        .args(["-c", PY_JUNIT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "not XML: {}\n{xml}",
        String::from_utf8_lossy(&done.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(v["root"], "testsuites");
    assert_eq!(
        v["suites"],
        serde_json::json!([format!("lockcheck {P_OLD}"), format!("lockcheck {P_NEW}")])
    );
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    let failures: Vec<_> = cases.iter().filter(|c| !c["failure"].is_null()).collect();
    assert_eq!(failures.len(), 1, "only the regression fails: {v}");
    assert_eq!(failures[0]["name"], "L1 exclusive");
    assert_eq!(failures[0]["classname"], "locking::l1_exclusive");
    assert_eq!(
        failures[0]["failure"],
        "expected: nothing killed while <lock> held & \"app\" running"
    );
    assert_eq!(failures[0]["failure_text"], L1_DETAIL);
    let skipped: Vec<&str> = cases.iter().filter_map(|c| c["skipped"].as_str()).collect();
    assert_eq!(skipped.len(), 2, "n/a and the expected failure: {v}");
    assert!(skipped.contains(&"target has no pause-after-lock hook"));
    assert!(skipped.iter().any(|m| m.starts_with("expected failure: ")));
    let hazard = cases
        .iter()
        .find(|c| c["name"] == "L3 touch is unsafe" && c["skipped"].is_null())
        .unwrap();
    assert_eq!(
        hazard["out"],
        "hazard reproduced: service killed inside its critical section"
    );
    assert!(cases.iter().all(|c| c["time"] == "0.250"), "{v}");
}

#[test]
fn html_is_self_contained_and_escapes_details() {
    let page = html::render(&sample());
    assert!(page.starts_with("<!DOCTYPE html>"));
    // The failing cell's detail, escaped.
    assert!(
        page.contains(
            "expected: nothing killed while &lt;lock&gt; held &amp; &quot;app&quot; running"
        ),
        "{page}"
    );
    assert!(!page.contains("<lock>"));
    // SPEC text as a tooltip on the row, escaped.
    assert!(page.contains(
        "title=\"the supervisor takes every lock of every service &lt;by exclusive create&gt;\""
    ));
    for needle in ["http://", "https://", "src=", "<script", "<link", "url("] {
        assert!(
            !page.contains(needle),
            "external reference {needle:?} in the page"
        );
    }
    for label in [
        ">pass<", ">FAIL<", ">hazard<", ">n/a<", ">xfail<", ">XPASS<",
    ] {
        assert!(page.contains(label), "{label}");
    }
    assert!(page.contains("3 passed, 1 failed, 1 skipped"));
    assert!(page.contains("symlinks-followed"));
    assert!(page.trim_end().ends_with("</html>"));
}

/// Writes the default-sized sample page to `$LOCKCHECK_SAMPLE_HTML` (for
/// looking at it in a browser); does nothing without the variable.
#[test]
fn html_sample_page() {
    let page = html::render(&full_matrix());
    assert!(page.contains("C3"));
    if let Some(path) = std::env::var_os("LOCKCHECK_SAMPLE_HTML") {
        std::fs::write(path, page).unwrap();
    }
}
