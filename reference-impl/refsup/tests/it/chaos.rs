//! Bounded chaos (issue 7): concurrent target POSTs and API calls while
//! refsup is SIGKILLed at seeded instants and restarted on the same root.
//! After every crash: the state a restart loads is one that was sent and
//! not older than any acknowledged one; at the end no lock blocks forever,
//! no service outlives the last refsup, and nothing outside the root changed.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{target, wait_for, Refsup};
use serde_json::{json, Value};

const PROFILE: &str = "17.3.5@5.1.0";
/// The retry backoff at 1/100 of the real schedule: a pass that fails
/// under load is retried in milliseconds, not after seconds that add up
/// past the test's patience.
const FLAGS: &[&str] = &["--time-scale", "0.01"];
const ROUNDS: u64 = 6;
const POSTERS: u64 = 3;

/// One POST: the commit it carried, when it was sent, when it was
/// acknowledged (200), if it was.
#[derive(Debug, Clone)]
struct Post {
    commit: String,
    sent: Instant,
    acked: Option<Instant>,
}

/// A small deterministic generator (xorshift), so a failing round replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every file and dir under `dir` with its size and mode, to compare.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(&p).unwrap();
            (p, m.len(), m.mode())
        })
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Pids of processes whose command line carries `marker`.
fn pids_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn crashes_under_load_lose_no_acknowledged_state() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("sentinel"), "keep").unwrap();
    let before = snapshot(&outside);
    // A marker only this test's services carry in their command line.
    let marker = format!("chaos-{}", std::process::id());
    let sleeper = |commit: &str| -> Value {
        target(
            commit,
            &[("main", &["sh", "-c", "exec sleep 1000", &marker])],
        )
    };
    let seq = Arc::new(AtomicU64::new(0));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut r = Refsup::start_on(&root, PROFILE, FLAGS);
    for round in 0..ROUNDS {
        let posts: Arc<Mutex<Vec<Post>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for _ in 0..POSTERS {
            let (url, posts, stop, seq, sleeper_marker) = (
                r.url.clone(),
                posts.clone(),
                stop.clone(),
                seq.clone(),
                marker.clone(),
            );
            workers.push(std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let commit = format!("c{}", seq.fetch_add(1, Ordering::SeqCst));
                    let body = target(
                        &commit,
                        &[("main", &["sh", "-c", "exec sleep 1000", &sleeper_marker])],
                    );
                    let i = {
                        let mut posts = posts.lock().unwrap();
                        posts.push(Post {
                            commit: commit.clone(),
                            sent: Instant::now(),
                            acked: None,
                        });
                        posts.len() - 1
                    };
                    let url = format!("{url}/v2/local/target-state");
                    match try_request("POST", &url, Some(body.to_string())) {
                        Some((200, _)) => posts.lock().unwrap()[i].acked = Some(Instant::now()),
                        Some((status, body)) => panic!("POST answered {status}: {body}"),
                        None => break, // refsup is gone
                    }
                    let _ = try_request(
                        "POST",
                        &format!("{}/v1/update", url_base(&url)),
                        Some("{}".into()),
                    );
                    let _ = try_request("GET", &format!("{}/v1/device", url_base(&url)), None);
                }
            }));
        }
        // Let them run, then crash at a seeded instant.
        std::thread::sleep(Duration::from_millis(150 + rng.next() % 400));
        let killed_at = Instant::now();
        let (root_back, _) = r.crash();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        r = Refsup::start_on(&root_back, PROFILE, FLAGS);
        let loaded = r.get("/v2/local/target-state").1["state"]["local"]["apps"]["1"]["commit"]
            .as_str()
            .map(str::to_string);
        let posts = posts.lock().unwrap().clone();
        let acked: Vec<&Post> = posts.iter().filter(|p| p.acked.is_some()).collect();
        let Some(loaded) = loaded else {
            assert!(
                acked.is_empty() && round == 0,
                "round {round}: a restart loaded no state after {} acknowledged POSTs",
                acked.len()
            );
            continue;
        };
        // What was loaded was sent before the crash (by this round or an
        // earlier one)...
        let this = posts.iter().find(|p| p.commit == loaded);
        if let Some(this) = this {
            assert!(
                this.sent < killed_at,
                "round {round}: loaded {loaded}, sent after the crash"
            );
            // ... and no acknowledged POST was sent after it was acknowledged.
            if let Some(acked_at) = this.acked {
                let newer = acked.iter().find(|p| p.sent > acked_at);
                assert!(newer.is_none(), "round {round}: loaded {loaded}, but {:?} was sent after it was acknowledged and acknowledged too", newer.map(|p| &p.commit));
            }
        } else {
            assert!(acked.is_empty(), "round {round}: loaded {loaded} from an earlier round although this round acknowledged {}", acked.len());
        }
    }
    // A last state must apply: no leftover lock of the crashes blocks it.
    let (status, body) = r.post("/v2/local/target-state", &sleeper("final"));
    assert_eq!(status, 200, "{body}");
    let applied = (0..600).find(|_| {
        let done = r
            .containers()
            .iter()
            .any(|c| c["commit"] == "final" && c["status"] == "Running");
        if !done {
            std::thread::sleep(Duration::from_millis(100));
        }
        done
    });
    assert!(
        applied.is_some(),
        "the final state was not applied in 60 s: {}",
        r.get("/v2/applications/state").1
    );
    wait_for(30, "update_pending false", || {
        (r.get("/v1/device").1["update_pending"] == json!(false)).then_some(())
    });
    drop(r); // SIGTERM: refsup stops its services
    wait_for(30, "no service of this test left running", || {
        pids_with(&marker).is_empty().then_some(())
    });
    assert_eq!(
        snapshot(&outside),
        before,
        "something outside the root changed"
    );
}

fn url_base(url: &str) -> String {
    url.split("/v2/").next().unwrap_or(url).to_string()
}

/// A request that may fail because refsup was killed: `None` then.
fn try_request(method: &str, url: &str, body: Option<String>) -> Option<(u16, Value)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("Content-Type", "application/json")
        .body(body.unwrap_or_default())
        .ok()?;
    let mut resp = agent.run(req).ok()?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Some((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}
