//! `lockcheck gate` on the real lock tools from Debian's packages (.ci/run
//! installs them): each tool's verdict, and the measured evidence that
//! justifies it, from one `gate --all` run shared by the tests below; plus
//! bad input (no {path}, a missing tool, a hanging tool, a tool that needs
//! a terminal), the report formats, and `lockcheck hold`.
//!
//! The verdicts asserted here are what the probes measure on the installed
//! tools; nothing in lockcheck types them in. If a tool is missing, its
//! test fails and says so.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{exe, lockcheck, usage_error};
use serde_json::Value;

/// The one `gate --all` run: (exit code, human stdout, JSON report).
fn all() -> &'static (i32, String, Value) {
    static ALL: OnceLock<(i32, String, Value)> = OnceLock::new();
    ALL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("gate.json");
        // --watch 5: the other tests of this binary (containers, the
        // matrix) load the machine, and a Python tool's start alone took
        // longer than the default 2 s once, which reads as "waited".
        let (code, out, err) = lockcheck(&[
            "gate",
            "--all",
            "--watch",
            "5",
            "--format",
            "json",
            "--out",
            json.to_str().unwrap(),
        ]);
        assert!(!err.contains("panicked"), "{err}");
        let text = std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {err}"));
        (code, out, serde_json::from_str(&text).unwrap())
    })
}

/// The report of `name` from the shared run, failing clearly if the tool
/// could not be judged (e.g. its package is missing: see .ci/run).
fn tool(name: &str) -> &'static Value {
    let (_, _, report) = all();
    let t = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from gate --all"));
    assert!(
        !matches!(
            t["verdict"].as_str(),
            Some("not-installed" | "could-not-run")
        ),
        "{name} could not be judged: {}",
        t["reasons"]
    );
    t
}

/// One probe row of `tool`; `case` "" for probes with one row.
fn row<'a>(tool: &'a Value, probe: &str, case: &str) -> &'a Value {
    tool["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["probe"] == probe && r["case"].as_str().unwrap().starts_with(case))
        .unwrap_or_else(|| panic!("{}: no row {probe} ({case})", tool["name"]))
}

/// Assert a row's status, that its finding contains `finding`, and that
/// some evidence line contains each of `evidence`.
fn expect(name: &str, probe: &str, case: &str, status: &str, finding: &str, evidence: &[&str]) {
    let r = row(tool(name), probe, case);
    assert_eq!(r["status"], status, "{name} {probe} ({case}): {r:#}");
    let f = r["finding"].as_str().unwrap();
    assert!(
        f.contains(finding),
        "{name} {probe} ({case}): finding {f:?} lacks {finding:?}"
    );
    let lines: Vec<&str> = r["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for want in evidence {
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "{name} {probe} ({case}): no evidence line contains {want:?}: {lines:#?}"
        );
    }
}

fn verdict(name: &str) -> &'static str {
    tool(name)["verdict"].as_str().unwrap()
}

/// Every row of a compatible tool is ok or a note.
fn all_rows_ok(name: &str) {
    for r in tool(name)["probes"].as_array().unwrap() {
        assert!(
            r["status"] == "ok" || r["status"] == "note",
            "{name}: {} ({}) is {}: {}",
            r["probe"],
            r["case"],
            r["status"],
            r["finding"]
        );
    }
}

const EXISTING: [&str; 4] = [
    "supervisor's lock file",
    "empty directory",
    "dangling symlink",
    "symlink to a file",
];
const STALE: [&str; 3] = ["mtime 10 min old", "mtime 2 h old", "dead pid"];
const SUPERVISOR_LOCK: &str =
    "planted lockdir/updates.lock (regular file, 0444, uid 65534, 1 byte \"0\")";

#[test]
fn all_prints_a_verdict_for_every_tool_and_fails_the_gate() {
    let (code, out, report) = all();
    let tools = report["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in [
        "reference",
        "lockfile",
        "flock",
        "touch",
        "mkdir",
        "lockfile-progs",
        "dotlockfile",
        "python-lockfile",
        "filelock",
        "filelock-soft",
        "fasteners",
        "portalocker",
        "proper-lockfile",
    ] {
        assert!(names.contains(&want), "{want} not in --all: {names:?}");
        let t = tools.iter().find(|t| t["name"] == want).unwrap();
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(want))
            .unwrap_or_else(|| panic!("no table line for {want}:\n{out}"));
        assert!(line.contains(t["verdict"].as_str().unwrap()), "{line}");
    }
    // touch is incompatible, so the gate as a whole is not green.
    assert_eq!(*code, 1, "{out}");
    assert!(out.contains("13 tools in"), "{out}");
}

#[test]
fn reference_library_is_compatible() {
    assert_eq!(verdict("reference"), "compatible");
    all_rows_ok("reference");
    expect(
        "reference",
        "path",
        "",
        "ok",
        "creates exactly lockdir/updates.lock",
        &[],
    );
    for case in EXISTING {
        expect(
            "reference",
            "existing-lock",
            case,
            "ok",
            "refused",
            &["afterwards: nothing changed"],
        );
    }
    expect(
        "reference",
        "race",
        "8 copies",
        "ok",
        "never more than 1 holder",
        &[],
    );
    expect(
        "reference",
        "release",
        "normal",
        "ok",
        "removes the lock",
        &["left behind: nothing changed"],
    );
    for case in STALE {
        expect(
            "reference",
            "stealing",
            case,
            "ok",
            "left it alone",
            &["nothing changed"],
        );
    }
    expect(
        "reference",
        "live",
        "update waits",
        "ok",
        "applied after it released",
        &["update_pending=true, main runs r1"],
    );
    expect(
        "reference",
        "live",
        "tool refuses",
        "ok",
        "refused",
        &["uid 65534"],
    );
}

#[test]
fn procmail_lockfile_is_compatible() {
    assert_eq!(verdict("lockfile"), "compatible");
    all_rows_ok("lockfile");
    for case in EXISTING {
        expect(
            "lockfile",
            "existing-lock",
            case,
            "ok",
            "refused (exit 73",
            &["nothing changed"],
        );
    }
    for case in STALE {
        expect(
            "lockfile",
            "stealing",
            case,
            "ok",
            "left it alone",
            &[SUPERVISOR_LOCK.split(" 1 byte").next().unwrap()],
        );
    }
    expect("lockfile", "live", "tool refuses", "ok", "refused", &[]);
}

#[test]
fn flock_is_incompatible_it_ignores_the_file_and_leaves_it() {
    assert_eq!(verdict("flock"), "incompatible");
    expect(
        "flock",
        "existing-lock",
        "supervisor's lock file",
        "unsafe",
        "took the lock",
        &[SUPERVISOR_LOCK, "entered its critical section"],
    );
    expect(
        "flock",
        "existing-lock",
        "dangling symlink",
        "unsafe",
        "touched the symlink's target",
        &["created outside/absent"],
    );
    // flock(2) does exclude other flock users: the race alone looks fine.
    expect(
        "flock",
        "race",
        "8 copies",
        "ok",
        "never more than 1 holder",
        &[],
    );
    expect(
        "flock",
        "release",
        "normal",
        "unsafe",
        "leaves lockdir/updates.lock",
        &["left behind: created lockdir/updates.lock (regular file"],
    );
    expect(
        "flock",
        "live",
        "update waits",
        "unsafe",
        "still blocked",
        &["at the lock path after the release: regular file"],
    );
    expect(
        "flock",
        "live",
        "tool refuses",
        "unsafe",
        "took the lock while refsup",
        &["paused holding its lock"],
    );
}

#[test]
fn touch_is_incompatible_every_copy_gets_in_and_its_release_deletes_the_supervisors_lock() {
    assert_eq!(verdict("touch"), "incompatible");
    let race = row(tool("touch"), "race", "8 copies");
    assert_eq!(race["status"], "unsafe", "{race:#}");
    let finding = race["finding"].as_str().unwrap();
    let n: usize = finding.split(' ').next().unwrap().parse().unwrap();
    assert!(n >= 2, "{finding}");
    expect(
        "touch",
        "race",
        "8 copies",
        "unsafe",
        "holders at once",
        &["inside their critical sections at the same time"],
    );
    expect(
        "touch",
        "existing-lock",
        "supervisor's lock file",
        "unsafe",
        "took the lock",
        &["after its release: removed lockdir/updates.lock (regular file, 0444, uid 65534"],
    );
    expect(
        "touch",
        "existing-lock",
        "symlink to a file",
        "unsafe",
        "touched the symlink's target",
        &["modified outside/target: mtime changed"],
    );
    expect(
        "touch",
        "live",
        "tool refuses",
        "unsafe",
        "changed refsup's lock",
        &["removed updates.lock"],
    );
}

#[test]
fn mkdir_is_compatible_with_a_directory_lock() {
    assert_eq!(verdict("mkdir"), "compatible");
    all_rows_ok("mkdir");
    expect(
        "mkdir",
        "path",
        "",
        "note",
        "as a directory",
        &["created lockdir/updates.lock (directory"],
    );
    expect(
        "mkdir",
        "release",
        "after SIGKILL",
        "note",
        "leaves lockdir/updates.lock (directory",
        &[],
    );
}

#[test]
fn lockfile_progs_is_incompatible_it_deletes_old_locks() {
    assert_eq!(verdict("lockfile-progs"), "incompatible");
    expect(
        "lockfile-progs",
        "stealing",
        "mtime 10 min old",
        "unsafe",
        "deleted a supervisor lock last modified 10 min ago and took over",
        &[SUPERVISOR_LOCK, "replaced lockdir/updates.lock"],
    );
    expect(
        "lockfile-progs",
        "stealing",
        "mtime 2 h old",
        "unsafe",
        "deleted",
        &[],
    );
    // Without --use-pid it does not read pids: a fresh lock is waited for.
    expect(
        "lockfile-progs",
        "stealing",
        "dead pid",
        "ok",
        "waited",
        &[],
    );
    expect(
        "lockfile-progs",
        "existing-lock",
        "supervisor's lock file",
        "ok",
        "waited",
        &[],
    );
    expect(
        "lockfile-progs",
        "existing-lock",
        "dangling symlink",
        "unsafe",
        "took the lock",
        &["replaced lockdir/updates.lock (symlink"],
    );
    expect(
        "lockfile-progs",
        "race",
        "8 copies",
        "ok",
        "never more than 1 holder",
        &[],
    );
}

#[test]
fn dotlockfile_is_incompatible_it_deletes_old_and_dead_pid_locks() {
    assert_eq!(verdict("dotlockfile"), "incompatible");
    for case in STALE {
        expect(
            "dotlockfile",
            "stealing",
            case,
            "unsafe",
            "and took over",
            &["replaced lockdir/updates.lock (regular file, 0444, uid 65534"],
        );
    }
    expect(
        "dotlockfile",
        "existing-lock",
        "supervisor's lock file",
        "ok",
        "refused",
        &[],
    );
    expect("dotlockfile", "live", "tool refuses", "ok", "refused", &[]);
}

#[test]
fn python_lockfile_is_compatible_given_the_path_without_its_suffix() {
    assert_eq!(verdict("python-lockfile"), "compatible");
    all_rows_ok("python-lockfile");
    // LockFile links a unique temp file to the lock; it shows while held.
    expect(
        "python-lockfile",
        "path",
        "",
        "ok",
        "while held also: created lockdir/",
        &[],
    );
    expect(
        "python-lockfile",
        "release",
        "normal",
        "ok",
        "removes the lock",
        &["left behind: nothing changed"],
    );
}

#[test]
fn filelock_is_incompatible_it_truncates_and_keeps_the_file() {
    assert_eq!(verdict("filelock"), "incompatible");
    expect(
        "filelock",
        "existing-lock",
        "supervisor's lock file",
        "unsafe",
        "took the lock",
        &["content 1 byte \"0\" -> 0 bytes"],
    );
    expect(
        "filelock",
        "release",
        "normal",
        "unsafe",
        "leaves lockdir/updates.lock",
        &[],
    );
    expect(
        "filelock",
        "live",
        "update waits",
        "unsafe",
        "still blocked",
        &[],
    );
}

#[test]
fn filelock_softfilelock_is_compatible() {
    assert_eq!(verdict("filelock-soft"), "compatible");
    all_rows_ok("filelock-soft");
    for case in EXISTING {
        expect(
            "filelock-soft",
            "existing-lock",
            case,
            "ok",
            "refused",
            &["nothing changed"],
        );
    }
}

#[test]
fn fasteners_and_portalocker_are_incompatible_fcntl_locks_on_a_kept_file() {
    for name in ["fasteners", "portalocker"] {
        assert_eq!(verdict(name), "incompatible", "{name}");
        expect(
            name,
            "existing-lock",
            "supervisor's lock file",
            "unsafe",
            "took the lock",
            &[SUPERVISOR_LOCK],
        );
        expect(
            name,
            "stealing",
            "mtime 2 h old",
            "unsafe",
            "took over",
            &[],
        );
        expect(
            name,
            "release",
            "normal",
            "unsafe",
            "leaves lockdir/updates.lock",
            &[],
        );
        expect(
            name,
            "live",
            "tool refuses",
            "unsafe",
            "took the lock while refsup",
            &[],
        );
    }
}

#[test]
fn proper_lockfile_is_compatible_with_a_directory_lock() {
    assert_eq!(verdict("proper-lockfile"), "compatible");
    all_rows_ok("proper-lockfile");
    expect("proper-lockfile", "path", "", "note", "as a directory", &[]);
    for case in STALE {
        expect(
            "proper-lockfile",
            "stealing",
            case,
            "ok",
            "left it alone",
            &["nothing changed"],
        );
    }
}

#[test]
fn a_directory_lock_is_a_caveat_on_supervisors_that_cannot_remove_it() {
    // 13.1.0 cannot rmdir a directory lock on a forced update (SPEC L5,
    // 14.0.10): the same mkdir measures compatible-with-caveats there. Its
    // locks are owned by root before 13.1.0 and named resin-updates.lock
    // before 7.22.0; the probes plant and name them so.
    let (code, out, _) = lockcheck(&[
        "gate",
        "--tool",
        "mkdir",
        "--profile",
        "13.1.0@2.88.0",
        "--rounds",
        "2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let t = &report["tools"][0];
    assert_eq!(t["verdict"], "compatible-with-caveats", "{t:#}");
    let path = &t["probes"][0];
    assert_eq!(path["status"], "caveat", "{path:#}");
    assert!(
        path["finding"]
            .as_str()
            .unwrap()
            .contains("13.1.0@2.88.0 cannot remove it"),
        "{path:#}"
    );
    let (_, out, _) = lockcheck(&[
        "gate",
        "--tool",
        "reference",
        "--profile",
        "7.16.6@2.15.1",
        "--rounds",
        "2",
        "--no-live",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&out).unwrap();
    let planted = report["tools"][0]["probes"][1]["evidence"][0]
        .as_str()
        .unwrap();
    assert_eq!(
        planted,
        "planted lockdir/resin-updates.lock (regular file, 0444, uid 0, 1 byte \"0\")"
    );
}

// ----- bad input -----

#[test]
fn bad_templates_and_tools_are_usage_errors() {
    usage_error(
        &[
            "gate",
            "--acquire",
            "lockfile -r 0 /tmp/x.lock",
            "--release",
            "rm -f {path}",
        ],
        "has no {path}",
    );
    usage_error(
        &["gate", "--hold", "flock {path} true"],
        "has no {critical}",
    );
    usage_error(&["gate", "--hold", "flock {pth} {critical}"], "{pth}");
    usage_error(&["gate", "--acquire", "touch {path}"], "--release");
    usage_error(&["gate", "--tool", "nope"], "no built-in tool 'nope'");
    usage_error(&["gate"], "say which tool");
    usage_error(
        &["gate", "--tool", "touch", "--profile", "banana"],
        "banana",
    );
    usage_error(&["gate", "--tool", "touch", "--copies", "1"], "--copies");
    usage_error(&["gate", "--tool", "touch", "--watch", "0"], "--watch");
    usage_error(&["gate", "--all", "--tool", "touch"], "--tool");
}

/// Run a gate on a template tool; (exit code, stderr, JSON report).
fn gate_json(args: &[&str]) -> (i32, String, Value) {
    let mut full = vec!["gate", "--format", "json", "--no-live", "--rounds", "2"];
    full.extend_from_slice(args);
    let (code, out, err) = lockcheck(&full);
    assert!(!err.contains("panicked"), "{err}");
    (
        code,
        err,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

fn rows(report: &Value) -> &Vec<Value> {
    report["tools"][0]["probes"].as_array().unwrap()
}

#[test]
fn a_tool_that_is_not_installed_is_marked_and_exits_2() {
    let (code, err, report) = gate_json(&[
        "--acquire",
        "no-such-locker {path}",
        "--release",
        "rm -f {path}",
    ]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("not installed") && err.contains("no-such-locker"),
        "{err}"
    );
    assert_eq!(report["tools"][0]["verdict"], "not-installed");
    for r in rows(&report) {
        assert_eq!(r["status"], "not-installed", "{r}");
    }
}

#[test]
fn a_hanging_tool_is_stopped_at_the_timeout_and_could_not_run() {
    let start = Instant::now();
    let (code, err, report) = gate_json(&[
        "--hold",
        "sleep 30; flock {path} {critical}",
        "--timeout",
        "1",
    ]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert_eq!(report["tools"][0]["verdict"], "could-not-run");
    for r in rows(&report) {
        assert_eq!(r["status"], "could-not-run", "{r}");
        assert!(
            r["finding"]
                .as_str()
                .unwrap()
                .contains("did not take a free lock within 1.0 s"),
            "{r}"
        );
    }
}

#[test]
fn a_tool_that_needs_a_terminal_could_not_run_and_says_why() {
    let (code, err, report) = gate_json(&[
        "--acquire",
        "read answer < /dev/tty && touch {path}",
        "--release",
        "rm -f {path}",
        "--name",
        "asks",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(report["tools"][0]["name"], "asks");
    assert_eq!(report["tools"][0]["verdict"], "could-not-run");
    let finding = rows(&report)[0]["finding"].as_str().unwrap();
    assert!(
        finding.contains("/dev/tty") && finding.contains("terminal"),
        "{finding}"
    );
}

#[test]
fn a_custom_hold_template_is_judged_like_a_profile() {
    let (code, _, report) =
        gate_json(&["--hold", "flock -n {path} {critical}", "--name", "my-flock"]);
    assert_eq!(code, 1);
    let t = &report["tools"][0];
    assert_eq!(t["name"], "my-flock");
    assert_eq!(t["verdict"], "incompatible");
    assert!(
        t["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("existing-lock (supervisor's lock file): took the lock")),
        "{t:#}"
    );
}

#[test]
fn junit_has_a_suite_per_tool_and_a_failure_per_unsafe_row() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("gate.xml");
    let (code, out, _) = lockcheck(&[
        "gate",
        "--tool",
        "touch",
        "--tool",
        "mkdir",
        "--no-live",
        "--rounds",
        "2",
        "--format",
        "junit",
        "--out",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let text = std::fs::read_to_string(&xml).unwrap();
    assert!(
        text.contains(r#"<testsuite name="lockcheck gate touch""#),
        "{text}"
    );
    assert!(
        text.contains(r#"<testsuite name="lockcheck gate mkdir""#),
        "{text}"
    );
    assert!(text.contains(r#"type="unsafe""#), "{text}");
    assert!(
        text.contains(r#"<property name="verdict" value="incompatible""#),
        "{text}"
    );
    // The human report still goes to stdout.
    assert!(
        out.contains("verdict: incompatible") && out.contains("verdict: compatible"),
        "{out}"
    );
}

#[test]
fn list_names_every_profile_with_its_templates() {
    let (code, out, _) = lockcheck(&["gate", "--list"]);
    assert_eq!(code, 0);
    assert!(out.contains("flock -n {path} {critical}"), "{out}");
    assert!(out.contains("proper-lockfile"), "{out}");
}

// ----- lockcheck hold -----

#[test]
fn hold_runs_the_command_under_the_reference_lock_and_refuses_a_held_one() {
    let dir = tempfile::tempdir().unwrap();
    let lock: PathBuf = dir.path().join("updates.lock");
    let seen = dir.path().join("seen");
    let status = Command::new(exe())
        .args(["hold", lock.to_str().unwrap(), "sh", "-c"])
        .arg(format!("ls -l {} > {}", lock.display(), seen.display()))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read_to_string(&seen)
            .unwrap()
            .contains("updates.lock"),
        "held while the command ran"
    );
    assert!(!lock.exists(), "released after");
    std::fs::create_dir(&lock).unwrap();
    let (code, _, err) = lockcheck(&["hold", lock.to_str().unwrap(), "true"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot take"), "{err}");
    assert!(lock.is_dir(), "the held lock is left alone");
}
