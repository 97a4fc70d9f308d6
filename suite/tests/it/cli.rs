//! The lockcheck CLI: usage errors, output files, the CI gate with an
//! expectations file, pointing the suite at an external supervisor, and a
//! hung target.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use common::{lockcheck, usage_error, Standalone};

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    usage_error(&["run", "--profile", "banana"], "banana");
    usage_error(
        &["run", "--profile", "17.3.5@1.26.0"],
        "unsupported profile",
    );
    usage_error(&["run", "--case", "Z9"], "no case matches --case 'Z9'");
    usage_error(
        &["run", "--case", "[", "--profile", "17.3.5@5.1.0"],
        "not a valid glob",
    );
    usage_error(&["run", "--format", "pdf"], "pdf");
    usage_error(&["run", "--fault", "nonsense"], "nonsense");
    usage_error(
        &[
            "run",
            "--out",
            "/nonexistent-dir/report.xml",
            "--case",
            "L1",
            "--profile",
            "17.3.5@5.1.0",
        ],
        "/nonexistent-dir/report.xml",
    );
    usage_error(
        &[
            "run",
            "--target-url",
            "http://127.0.0.1:9",
            "--root",
            "/tmp",
            "--profile",
            "17.3.5@5.1.0",
        ],
        "unreachable",
    );
    usage_error(&["run", "--target-url", "http://127.0.0.1:9"], "--root");
    usage_error(
        &["run", "--expectations", "/nonexistent.toml"],
        "/nonexistent.toml",
    );
    usage_error(&["frobnicate"], "frobnicate");
    usage_error(
        &["run", "--settle=-1"],
        "--settle must be a positive number",
    );
    usage_error(
        &["run", "--event-timeout", "0"],
        "--event-timeout must be a positive number",
    );
}

#[test]
fn wrong_api_key_and_misused_flags_against_an_external_target() {
    let sup = Standalone::start("17.3.5@5.1.0", &["--api-key", "right"]);
    let root = sup.root().to_str().unwrap().to_string();
    usage_error(
        &[
            "run",
            "--target-url",
            &sup.url,
            "--api-key",
            "wrong",
            "--root",
            &root,
            "--profile",
            "17.3.5@5.1.0",
        ],
        "API key",
    );
    usage_error(
        &[
            "run",
            "--target-url",
            &sup.url,
            "--api-key",
            "right",
            "--root",
            &root,
        ],
        "exactly one --profile",
    );
    usage_error(
        &[
            "run",
            "--target-url",
            &sup.url,
            "--api-key",
            "right",
            "--root",
            &root,
            "--profile",
            "17.3.5@5.1.0",
            "--fault",
            "force-sticks",
        ],
        "--fault works only",
    );
}

#[test]
fn the_suite_runs_against_an_external_supervisor() {
    let sup = Standalone::start("17.3.5@5.1.0", &["--api-key", "k"]);
    let root = sup.root().to_str().unwrap().to_string();
    let (code, out, err) = lockcheck(&[
        "run",
        "--target-url",
        &sup.url,
        "--api-key",
        "k",
        "--root",
        &root,
        "--profile",
        "17.3.5@5.1.0",
        "--case",
        "L1",
        "--case",
        "L4",
        "--case",
        "U*",
        "--case",
        "O4",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("external supervisor at {}", sup.url)),
        "{out}"
    );
    let l4 = out.lines().find(|l| l.starts_with("L4")).unwrap();
    assert!(
        l4.contains("n/a"),
        "L4 needs the pause hook, which an external target lacks: {l4}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("U2") && l.contains("pass")),
        "{out}"
    );
    let l1 = out.lines().find(|l| l.starts_with("L1")).unwrap();
    assert!(
        l1.contains("n/a"),
        "L1 needs the step pause hook, which an external target lacks: {l1}"
    );
    assert_eq!(
        out.trim().lines().last().unwrap(),
        "6 passed, 0 failed, 2 skipped",
        "{out}"
    );
}

#[test]
fn out_files_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for (format, check) in [
        ("junit", "<testsuites"),
        ("html", "<html"),
        ("json", "\"cells\""),
        ("human", "passed, 0 failed"),
    ] {
        let out = dir.path().join(format!("report.{format}"));
        let (code, stdout, err) = lockcheck(&[
            "run",
            "--case",
            "L2",
            "--case",
            "P4",
            "--profile",
            "17.3.5@5.1.0",
            "--profile",
            "2.8.2@1.20.0",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(check), "{format}: {text}");
        assert!(
            stdout.contains("L2 touch counts"),
            "the matrix still goes to stdout"
        );
    }
    let junit = dir.path().join("report.junit");
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as t; r = t.parse(sys.argv[1]).getroot(); assert len(r.findall('.//testcase')) == 4, 'testcases'", junit.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "JUnit XML must parse with 4 testcases");
}

#[test]
fn an_expectations_file_gates_only_on_regressions() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "run",
        "--profile",
        "17.3.5@5.1.0",
        "--fault",
        "follow-symlinks",
        "--case",
        "L6",
        "--case",
        "L2",
    ];
    let (code, out, _) = lockcheck(&base);
    assert_eq!(
        code, 1,
        "the fault fails the run without expectations: {out}"
    );
    let known = dir.path().join("known.toml");
    std::fs::write(
        &known,
        "[[known-failure]]\ncase = \"L6\"\nreason = \"symlinks followed\"\n",
    )
    .unwrap();
    let mut args = base.to_vec();
    args.extend(["--expectations", known.to_str().unwrap()]);
    let (code, out, err) = lockcheck(&args);
    assert_eq!(
        code, 0,
        "a known failure does not fail the gate: {out}{err}"
    );
    assert!(out.contains("xfail"), "{out}");
    // The same file against a reference without the bug: an unexpected pass, reported.
    let (code, out, _) = lockcheck(&[
        "run",
        "--profile",
        "17.3.5@5.1.0",
        "--case",
        "L6",
        "--expectations",
        known.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("XPASS"), "unexpected pass reported: {out}");
}

/// A target that answers /v1/device and then never answers again.
fn hanging_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            if first.starts_with("GET /v1/device") {
                let body = "{\"update_pending\":false}";
                let mut s = stream;
                let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}", body.len());
            } else {
                held.push(stream); // never answer
            }
        }
    });
    url
}

#[test]
fn a_hung_target_fails_each_case_with_a_timeout_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = hanging_target();
    let (code, out, err) = lockcheck(&[
        "run",
        "--target-url",
        &url,
        "--root",
        dir.path().to_str().unwrap(),
        "--profile",
        "17.3.5@5.1.0",
        "--case",
        "L2",
        "--case",
        "L5",
        "--case-timeout",
        "2",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out.matches("timed out after 2s").count(),
        2,
        "both cases reported as timed out: {out}"
    );
}

#[test]
fn list_shows_cases_and_faults() {
    let (code, out, _) = lockcheck(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("L1") && out.contains("locking::l1_exclusive"),
        "{out}"
    );
    assert!(out.contains("kill-before-all-locks"), "{out}");
}

/// Issue 10: a failing cell keeps its scratch dir (the target's log, the
/// services' logs, the lock dirs) under the run dir, the report names it,
/// and ends with the command that re-runs just that cell; passing cells
/// leave nothing.
#[test]
fn a_failing_cell_keeps_its_evidence_and_prints_the_rerun_command() {
    let runs = tempfile::tempdir().unwrap();
    let runs_dir = runs.path().join("runs");
    let (code, out, err) = lockcheck(&[
        "run",
        "--fault",
        "kill-before-all-locks",
        "--profile",
        "17.3.5@5.1.0",
        "--case",
        "L1",
        "--case",
        "L2",
        "--event-timeout",
        "7.5",
        "--runs-dir",
        runs_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let evidence = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("evidence: "))
        .unwrap_or_else(|| panic!("no evidence line: {out}"));
    let dir = std::path::Path::new(evidence);
    assert!(
        dir.starts_with(&runs_dir),
        "{evidence} not under {}",
        runs_dir.display()
    );
    assert!(
        dir.join("refsup.log").is_file(),
        "no refsup.log in {evidence}"
    );
    assert!(dir.join("logs").is_dir(), "no service logs in {evidence}");
    assert!(dir.join("root").is_dir(), "no device root in {evidence}");
    let verdict = std::fs::read_to_string(dir.join("verdict.txt")).expect("verdict.txt");
    assert!(
        verdict.starts_with("L1 on 17.3.5@5.1.0: FAIL (promised pass)\n") && verdict.len() > 45,
        "the verdict names the cell, its outcome and the case's detail: {verdict:?}"
    );
    let steps = std::fs::read_to_string(dir.join("steps.log")).expect("steps.log");
    assert!(
        steps.contains("s cell began at ")
            && steps.contains("s deploy 1@")
            && steps.contains("for the target state to be applied"),
        "the step log has the wall time, the deploys and the waits: {steps}"
    );
    assert!(
        out.contains(
            "lockcheck run --profile 17.3.5@5.1.0 --case L1 --fault kill-before-all-locks \
             --event-timeout 7.5"
        ),
        "no re-run command: {out}"
    );
    // Only the failing cell is kept.
    let run_dir = dir.parent().unwrap();
    let kept: Vec<_> = std::fs::read_dir(run_dir).unwrap().collect();
    assert_eq!(kept.len(), 1, "passing cells must leave nothing: {kept:?}");
    // A passing run leaves no run dir at all.
    let clean = runs.path().join("clean");
    let (code, out, _) = lockcheck(&[
        "run",
        "--profile",
        "17.3.5@5.1.0",
        "--case",
        "L2",
        "--runs-dir",
        clean.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(!clean.exists(), "a passing run left {}", clean.display());
}

/// A wait for a release to apply that runs out says what the device showed
/// then: the target pauses for good once it has taken its locks for the
/// update (its pause hook, never released), so L2's apply after the release
/// cannot happen.
#[test]
fn a_timed_out_apply_says_what_the_device_showed() {
    let hook = tempfile::tempdir().unwrap();
    let pause = hook.path().join("paused");
    let pause = pause.to_str().unwrap();
    let sup = Standalone::start(
        "17.3.5@5.1.0",
        &["--pause-after-lock", pause, "--time-scale", "0.001"],
    );
    let root = sup.root().to_str().unwrap().to_string();
    let (code, out, err) = lockcheck(&[
        "run",
        "--target-url",
        &sup.url,
        "--root",
        &root,
        "--profile",
        "17.3.5@5.1.0",
        "--case",
        "L2",
        "--time-scale",
        "0.001",
        "--event-timeout",
        "1",
        "--no-progress",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("FAIL L2 on 17.3.5@5.1.0"))
        .unwrap_or_else(|| panic!("no failure line: {out}"));
    assert!(
        line.contains(
            "waiting for the target state to be applied; \
             the device shows 1/main@r1 running; update_pending true"
        ),
        "{line}"
    );
}
