//! Shared test harness: a real `refsup` process on a fresh root and a free
//! port, and waiting on observable state with a deadline. Every refsup (and
//! so every service) carries this test binary's mark for its root: dropping
//! the `Refsup` kills whatever of that root still runs, including services
//! a crashed refsup left; what killed test runs left is reaped at start.
//! (No child subreaper and no blanket reaping here: the process runtime's
//! own tests run services as children of this same binary.)

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Once;
use std::time::{Duration, Instant};

use lockcheck_reaper::{Filter, Mark, Scratch};
use nix::sys::signal::Signal;
use serde_json::Value;

/// A running refsup; SIGTERMed (services stopped) on drop. Its log goes to
/// a file (not the test binary's stderr, which the harness does not
/// capture), shown when the test fails.
pub struct Refsup {
    pub child: Child,
    pub url: String,
    pub root: PathBuf,
    crashed: bool,
    log: Scratch,
    _dir: Option<Scratch>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_refsup")
}

/// Once per test binary: remove what killed earlier test runs left.
pub fn harness() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        lockcheck_reaper::reap_dead_runs(&std::env::temp_dir());
    });
}

/// The mark of every process started for `root`.
fn mark(root: &Path) -> Mark {
    Mark::new(root.display().to_string())
}

impl Refsup {
    /// Start on a new temp root.
    pub fn start(profile: &str, extra: &[&str]) -> Refsup {
        let dir = Scratch::new("refsup-test").unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let mut r = Refsup::start_on(&root, profile, extra);
        r._dir = Some(dir);
        r
    }

    /// Start on an existing root (a restart).
    pub fn start_on(root: &Path, profile: &str, extra: &[&str]) -> Refsup {
        harness();
        let mut flags: Vec<String> = Vec::new();
        if !extra.contains(&"--stop-timeout") {
            flags.extend(["--stop-timeout".into(), "2".into()]);
        }
        flags.extend(extra.iter().map(|s| s.to_string()));
        let log = Scratch::new("refsup-test-log").unwrap();
        let launched = refsup::launch::Launch {
            program: vec![bin().into()],
            root: root.to_path_buf(),
            profile: profile.into(),
            extra: flags,
            log: Some(log.path().join("refsup.log")),
        }
        .start_with(|cmd| {
            mark(root).apply(cmd);
            lockcheck_reaper::die_with_parent(cmd, Signal::SIGTERM);
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
        Refsup {
            child: launched.child,
            url: launched.url,
            root: root.to_path_buf(),
            crashed: false,
            log,
            _dir: None,
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        request("GET", &format!("{}{path}", self.url), None, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        request(
            "POST",
            &format!("{}{path}", self.url),
            Some(body.to_string()),
            None,
        )
    }

    pub fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        request(
            "POST",
            &format!("{}{path}", self.url),
            Some(body.to_string()),
            None,
        )
    }

    pub fn lock_dir(&self, app: u32, service: &str) -> PathBuf {
        self.root
            .join(format!("tmp/balena-supervisor/services/{app}/{service}"))
    }

    /// The containers array of /v2/state/status.
    pub fn containers(&self) -> Vec<Value> {
        self.get("/v2/state/status").1["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// SIGKILL (a crash): nothing is cleaned up. Returns the root and the
    /// temp dir holding it, so a second refsup can start on the same root
    /// (and adopt the services, which the second one's drop then stops).
    pub fn crash(mut self) -> (PathBuf, Option<Scratch>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.crashed = true;
        (self.root.clone(), self._dir.take())
    }
}

impl Drop for Refsup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path().join("refsup.log"));
            eprintln!("refsup's log ({}):\n{}", self.url, log.unwrap_or_default());
        }
        if self.crashed {
            return; // already reaped: its pid may belong to someone else now
        }
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        if !matches!(
            lockcheck_reaper::wait_timeout(&mut self.child, Duration::from_secs(30)),
            Ok(Some(_))
        ) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Whatever still runs for this root: services of an earlier, crashed
        // refsup that nobody adopted, or of one that failed to stop them.
        lockcheck_reaper::kill_marked(&Filter::Scope(mark(&self.root)));
    }
}

/// One HTTP request; returns status and JSON body (Null if not JSON).
pub fn request(method: &str, url: &str, body: Option<String>, auth: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut builder = http::Request::builder().method(method).uri(url);
    if let Some(key) = auth {
        builder = builder.header("Authorization", format!("Bearer {key}"));
    }
    builder = builder.header("Content-Type", "application/json");
    let req = builder.body(body.unwrap_or_default()).unwrap();
    let mut resp = agent.run(req).expect("HTTP request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Wait until `f` returns Some, or panic with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A one-app target: each (service, argv) pair.
pub fn target(commit: &str, services: &[(&str, &[&str])]) -> Value {
    let mut svcs = serde_json::Map::new();
    for (name, cmd) in services {
        svcs.insert(
            name.to_string(),
            serde_json::json!({"image": format!("img-{name}:{commit}"), "command": cmd}),
        );
    }
    serde_json::json!({"local": {"name": "dev", "config": {}, "apps": {"1": {
        "name": "app", "commit": commit, "releaseId": 1, "services": svcs}}}})
}

/// (commit, status, pid) of one service.
pub fn service(r: &Refsup, name: &str) -> Option<(String, String, Option<u64>)> {
    r.containers()
        .into_iter()
        .find(|c| c["serviceName"] == name)
        .map(|c| {
            (
                c["commit"].as_str().unwrap_or_default().to_string(),
                c["status"].as_str().unwrap_or_default().to_string(),
                c["pid"].as_u64(),
            )
        })
}

/// Wait until service `main` runs release `commit`; returns its pid.
pub fn wait_release(r: &Refsup, commit: &str) -> Option<u64> {
    wait_for(20, &format!("release {commit} running"), || {
        service(r, "main").filter(|(c, st, _)| c == commit && st == "Running")
    })
    .2
}

/// A refsup on a fresh root running release `aaa` of one `sleep` service
/// `main`; returns it and the service's pid.
pub fn running(profile: &str, extra: &[&str]) -> (Refsup, Option<u64>) {
    let r = Refsup::start(profile, extra);
    let (status, body) = r.post(
        "/v2/local/target-state",
        &target("aaa", &[("main", &["sleep", "1000"])]),
    );
    assert_eq!(status, 200, "{body}");
    let pid = wait_release(&r, "aaa");
    (r, pid)
}
