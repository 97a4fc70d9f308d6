//! refsup under hostile input and concurrency (issue 7): each test here
//! failed on the code before the fix it names.

use crate::common;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{request, target, wait_for, Refsup};
use serde_json::{json, Value};

/// A dir outside the device root with one file, to prove nothing there is
/// created, chmodded, chowned or deleted.
struct Sentinel {
    dir: PathBuf,
}

impl Sentinel {
    fn new(r: &Refsup) -> Sentinel {
        let dir = r.root.parent().unwrap().join("outside");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(dir.join("updates.lock"), "precious").unwrap();
        Sentinel { dir }
    }

    fn assert_untouched(&self) {
        let meta = std::fs::metadata(&self.dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700, "outside dir chmodded");
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["updates.lock"], "files appeared outside the root");
        let file = self.dir.join("updates.lock");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
        assert_eq!(std::fs::metadata(&file).unwrap().uid(), 0);
    }
}

fn replace_with_link(dir: &Path, to: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
    symlink(to, dir).unwrap();
}

fn blocked_reason(r: &Refsup) -> Option<String> {
    r.get("/v2/applications/state").1["app"]["blocked"]
        .as_str()
        .map(str::to_string)
}

/// Defect 2: a lock dir (or the app dir, or the supervisor's tmp dir)
/// replaced by a symlink to a dir outside the root is never followed, by a
/// normal or a forced update; the app's update is blocked with the reason.
#[rstest::rstest]
#[case::service_dir("tmp/balena-supervisor/services/1/main")]
#[case::app_dir("tmp/balena-supervisor/services/1")]
#[case::supervisor_tmp("tmp/balena-supervisor")]
fn linked_lock_dirs_are_never_followed(#[case] linked: &str) {
    let (r, _) = common::running("17.3.5@5.1.0", &[]);
    let outside = Sentinel::new(&r);
    replace_with_link(&r.root.join(linked), &outside.dir);
    let (status, body) = r.post(
        "/v2/local/target-state",
        &target("bbb", &[("main", &["sleep", "1001"])]),
    );
    assert_eq!(status, 200, "{body}");
    let why = wait_for(20, "the update blocked", || blocked_reason(&r));
    assert!(why.contains("symlink"), "blocked for: {why}");
    outside.assert_untouched();
    let (status, _) = r.post("/v1/update", &json!({"force": true}));
    assert_eq!(status, 204);
    r.post("/v1/update", &json!({}));
    wait_for(20, "a forced pass", || blocked_reason(&r));
    assert_eq!(common::service(&r, "main").unwrap().0, "aaa");
    outside.assert_untouched();
}

/// Defect 1: concurrent POSTs all succeed and the state GET returns is the
/// one a restart after SIGKILL loads.
#[test]
fn concurrent_target_posts_lose_nothing() {
    let r = Refsup::start("17.3.5@5.1.0", &[]);
    let url = r.url.clone();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let state = target(&format!("c{t}x{i}"), &[("main", &["sleep", "1000"])]);
                    let (status, body) = request(
                        "POST",
                        &format!("{url}/v2/local/target-state"),
                        Some(state.to_string()),
                        None,
                    );
                    assert_eq!(status, 200, "POST {t}/{i}: {body}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let acknowledged = r.get("/v2/local/target-state").1["state"].clone();
    let (root, dir) = r.crash();
    let r = Refsup::start_on(&root, "17.3.5@5.1.0", &[]);
    let loaded = r.get("/v2/local/target-state").1["state"].clone();
    assert_eq!(loaded, acknowledged, "a restart loaded another state");
    let state_dir = root.join("mnt/state/refsup");
    let stray: Vec<_> = std::fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(stray.is_empty(), "temp files left: {stray:?}");
    drop(r);
    drop(dir);
}

/// Defect 8: a symlink planted where a temp file could be created is never
/// written through, and target.json stays a regular file.
#[test]
fn planted_temp_file_links_are_not_followed() {
    let r = Refsup::start("17.3.5@5.1.0", &[]);
    let outside = Sentinel::new(&r);
    let state_dir = r.root.join("mnt/state/refsup");
    std::fs::create_dir_all(&state_dir).unwrap();
    let pid = r.child.id();
    for seq in 0..64 {
        let _ = symlink(
            outside.dir.join("updates.lock"),
            state_dir.join(format!(".target.json.tmp-{pid}-{seq}")),
        );
    }
    for i in 0..4 {
        let state = target(&format!("c{i}"), &[("main", &["sleep", "1000"])]);
        let (status, body) = r.post("/v2/local/target-state", &state);
        assert_eq!(status, 200, "{body}");
    }
    let meta = std::fs::symlink_metadata(state_dir.join("target.json")).unwrap();
    assert!(
        meta.file_type().is_file(),
        "target.json is not a regular file"
    );
    outside.assert_untouched();
}

/// Defects 3-5: what could inject config lines, start nothing, or was
/// accepted after the JSON value is refused with 400 naming the problem.
#[test]
fn input_that_could_never_work_is_400() {
    let r = Refsup::start("17.3.5@5.1.0", &[]);
    let with_config = |key: &str, value: &str| {
        let mut state = target("aaa", &[("main", &["sleep", "1000"])]);
        state["local"]["config"] = json!({ key: value });
        state
    };
    let long_name = "s".repeat(255);
    let cases: Vec<(Value, &str)> = vec![
        (with_config("HOST_CONFIG_a\nb", "1"), "HOST_CONFIG_a"),
        (with_config("HOST_CONFIG_a=b", "1"), "'='"),
        (with_config("HOST_CONFIG_[all]", "1"), "'['"),
        (
            with_config("HOST_CONFIG_gpu_mem", "16\n[all]"),
            "HOST_CONFIG_gpu_mem",
        ),
        (with_config("HOST_CONFIG_gpu_mem", "16\rx"), "one line"),
        (target("aaa", &[("main", &[])]), "command is empty"),
        (target("aaa", &[("main", &[""])]), "command is empty"),
        (
            target("aaa", &[(&long_name, &["sleep", "1"])]),
            "service name",
        ),
    ];
    for (state, needle) in cases {
        let (status, body) = r.post("/v2/local/target-state", &state);
        assert_eq!(status, 400, "{state}: {body}");
        assert!(
            body.to_string().contains(needle),
            "{needle:?} not in {body}"
        );
    }
    let good = target("aaa", &[("main", &["sleep", "1000"])]).to_string();
    for garbage in ["x", " {}", "[]", "\n{\"a\":1}"] {
        let (status, body) = r.post_raw("/v2/local/target-state", &format!("{good}{garbage}"));
        assert_eq!(status, 400, "{garbage:?}: {body}");
        assert!(body.to_string().contains("trailing"), "{body}");
    }
    let (status, _) = r.post_raw("/v2/local/target-state", &format!("{good}\n  "));
    assert_eq!(status, 200, "trailing whitespace is fine");
    assert!(!r.root.join("mnt/boot/config.txt").exists());
}

fn refsup_exit(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::bin());
    cmd.args(["--root", dir.path().to_str().unwrap()]);
    cmd.args(["--supervisor-version", "17.3.5", "--os-version", "5.1.0"]);
    cmd.args(["--listen", "127.0.0.1:0"]).args(args);
    cmd.env_remove("REFSUP_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Defects 6 and 7: absurd stop timeouts and empty API keys are usage
/// errors (exit 2, one line), not a panic or an open server.
#[test]
fn bad_flags_are_one_line_usage_errors() {
    for (args, env, needle) in [
        (&["--stop-timeout", "1e20"][..], &[][..], "--stop-timeout"),
        (
            &["--stop-timeout", "18446744073709551615"],
            &[],
            "--stop-timeout",
        ),
        (&["--stop-timeout=-1"], &[], "--stop-timeout"),
        (&["--api-key", ""], &[], "API key"),
        (&[], &[("REFSUP_API_KEY", "")], "API key"),
    ] {
        let (code, stderr) = refsup_exit(args, env);
        assert_eq!(code, 2, "{args:?} {env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Defect 7: a URL-encoded key in the query works, and so does any case
/// of the Bearer scheme; a wrong key still gets 401.
#[test]
fn api_keys_are_decoded_and_the_scheme_is_case_insensitive() {
    let r = Refsup::start("17.3.5@5.1.0", &["--api-key", "k+y /"]);
    let ping = |q: &str| request("GET", &format!("{}/v2/version{q}", r.url), None, None).0;
    assert_eq!(ping("?apikey=k%2By%20%2F"), 200);
    assert_eq!(ping("?apikey=k+y"), 401);
    assert_eq!(ping(""), 401);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let resp = agent
            .get(format!("{}/v2/version", r.url))
            .header("Authorization", format!("{scheme} k+y /"))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{scheme}");
    }
}

/// Defect 9: on SIGTERM every service gets its SIGTERM at once, so four
/// services that ignore it do not take four grace periods. With a grace
/// period far longer than the wait, a serial stop could never show all four.
#[test]
fn sigterm_stops_services_in_parallel() {
    let r = Refsup::start("17.3.5@5.1.0", &["--stop-timeout", "300"]);
    let marks = r.root.parent().unwrap().join("terms");
    std::fs::create_dir(&marks).unwrap();
    let script = format!(
        "trap 'touch {}/$0' TERM; while :; do sleep 0.05; done",
        marks.display()
    );
    let names = ["s1", "s2", "s3", "s4"];
    let services: Vec<(&str, Vec<&str>)> = names
        .iter()
        .map(|n| (*n, vec!["sh", "-c", script.as_str(), n]))
        .collect();
    let services: Vec<(&str, &[&str])> = services.iter().map(|(n, c)| (*n, &c[..])).collect();
    let (status, body) = r.post("/v2/local/target-state", &target("aaa", &services));
    assert_eq!(status, 200, "{body}");
    let pids: Vec<u64> = wait_for(20, "four services", || {
        let pids: Vec<u64> = r
            .containers()
            .iter()
            .filter_map(|c| c["pid"].as_u64())
            .collect();
        (pids.len() == 4).then_some(pids)
    });
    unsafe { libc::kill(r.child.id() as i32, libc::SIGTERM) };
    wait_for(30, "all four services to get SIGTERM", || {
        (std::fs::read_dir(&marks).unwrap().count() == 4).then_some(())
    });
    for pid in pids {
        unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    }
}

/// Defect 4: a service that can never start (its binary is missing) is a
/// failed apply retried with the backoff, reported as update_failed, not a
/// hot loop of passes and log lines.
#[test]
fn a_service_that_cannot_start_backs_off() {
    let r = Refsup::start("17.3.5@5.1.0", &["--time-scale", "0.01"]);
    let (status, body) = r.post(
        "/v2/local/target-state",
        &target(
            "aaa",
            &[("main", &["/nonexistent/lockcheck-no-such-binary"])],
        ),
    );
    assert_eq!(status, 200, "{body}");
    wait_for(20, "update_failed", || {
        (r.get("/v1/device").1["update_failed"] == true).then_some(())
    });
    let passes = |r: &Refsup| {
        r.get("/v1/device").1["reconcile_passes_started"]
            .as_u64()
            .unwrap()
    };
    let before = passes(&r);
    // Nothing announces "no pass happened"; watch a fixed window. Backoff at
    // this scale: 10, 20, 40 ... ms doubling, so a handful of passes; a hot
    // loop makes thousands.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let during = passes(&r) - before;
    assert!(
        during <= 12,
        "{during} passes in 2 s: the failed start is retried in a loop"
    );
    let why = r.get("/v2/applications/state").1["app"]["blocked"].clone();
    assert!(why.to_string().contains("failed to start"), "{why}");
}
