//! The process runtime against real processes: start, environment, stop
//! (SIGTERM, then SIGKILL), exits, adoption after a supervisor restart, stale
//! records, users, relabel, the simulated image store and hand-over.

use std::collections::BTreeMap;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use refsup::runtime::process::ProcessRuntime;
use refsup::runtime::{ContainerStatus, Runtime, RuntimeError, ServiceInstance};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, BufReader, Interest};
use tokio::time::timeout;

/// Upper bound for anything a test awaits.
const PATIENCE: Duration = Duration::from_secs(20);

/// A supervisor root in a temp dir, with the runtime's dirs under it.
struct Fixture {
    tmp: tempfile::TempDir,
    /// Process groups to SIGKILL if the test fails half-way.
    pids: Mutex<Vec<u32>>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        for dir in ["lock", "data"] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        Fixture {
            tmp,
            pids: Mutex::new(Vec::new()),
        }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn state_dir(&self) -> PathBuf {
        self.root().join("mnt/state/refsup/containers")
    }

    fn log_dir(&self) -> PathBuf {
        self.root().join("mnt/state/refsup/logs")
    }

    fn runtime(&self) -> ProcessRuntime {
        ProcessRuntime::new(self.root(), self.state_dir(), self.log_dir()).unwrap()
    }

    fn spec(&self, service: &str, command: &[&str]) -> ServiceInstance {
        ServiceInstance {
            app_id: 1,
            service: service.to_string(),
            commit: "abc123".to_string(),
            release_id: 7,
            image: "fixture-app:1".to_string(),
            command: command.iter().map(|s| s.to_string()).collect(),
            environment: BTreeMap::new(),
            lock_env: Vec::new(),
            labels: BTreeMap::new(),
            user: None,
            spec_hash: "hash".to_string(),
            lock_dir: self.root().join("lock"),
            data_dir: Some(self.root().join("data")),
        }
    }

    /// A FIFO under the root, passed to the service as `$FIFO`.
    fn fifo(&self, spec: &mut ServiceInstance) -> PathBuf {
        let path = self.root().join(format!("fifo-{}", spec.service));
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
        spec.environment
            .insert("FIFO".to_string(), path.display().to_string());
        path
    }

    fn track(&self, pid: u32) {
        self.pids.lock().unwrap().push(pid);
    }

    fn record_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.state_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "images.json")
            .collect();
        names.sort();
        names
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for pid in self.pids.lock().unwrap().iter() {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(*pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

/// The first line a service writes to its FIFO (opened read-write so opening
/// does not block; the read awaits the writer).
async fn read_line(fifo: &Path) -> String {
    let receiver = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(fifo)
        .unwrap();
    let mut line = String::new();
    timeout(PATIENCE, BufReader::new(receiver).read_line(&mut line))
        .await
        .expect("the service writes to its FIFO")
        .unwrap();
    line.trim().to_string()
}

/// Return once `pid` has exited (zombie or gone), via a pidfd.
async fn await_exit(pid: u32) {
    // SAFETY: pidfd_open takes a pid and flags and returns an fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "pidfd_open: {err}");
        return;
    }
    // SAFETY: a fresh fd owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: the AsyncFd owns the fd for its whole life.
    let async_fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.unwrap();
    let _ready = timeout(PATIENCE, async_fd.readable())
        .await
        .expect("the process exits")
        .unwrap();
}

fn environ(pid: u32) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn proc_gone_or_zombie(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z'),
    }
}

#[tokio::test]
async fn started_service_runs_with_its_environment() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    assert_eq!(rt.name(), "process");
    let mut spec = fx.spec("main", &["sleep", "1000"]);
    spec.environment.insert("FOO".into(), "bar".into());
    spec.lock_env = vec![
        (
            "BALENA_APP_LOCK_PATH".into(),
            "/tmp/balena/updates.lock".into(),
        ),
        (
            "RESIN_APP_LOCK_PATH".into(),
            "/tmp/resin/updates.lock".into(),
        ),
        ("OLD_LOCK_PATH".into(), "/data/resin-updates.lock".into()),
    ];
    let c = rt.create_and_start(&spec).await.unwrap();
    let pid = c.pid.expect("a running container has a pid");
    fx.track(pid);
    assert_eq!(c.status, ContainerStatus::Running);
    assert_eq!(c.spec, spec);
    assert_eq!(rt.list().await.unwrap(), vec![c.clone()]);

    let env = environ(pid);
    let lock = fx.root().join("lock");
    let data = fx.root().join("data");
    for expected in [
        "REFSUP_APP_ID=1".to_string(),
        "REFSUP_SERVICE=main".to_string(),
        "REFSUP_COMMIT=abc123".to_string(),
        "FOO=bar".to_string(),
        format!("REFSUP_ROOT={}", fx.root().display()),
        format!("REFSUP_LOCK_DIR={}", lock.display()),
        format!("REFSUP_DATA_DIR={}", data.display()),
        format!(
            "BALENA_APP_LOCK_PATH={}",
            lock.join("updates.lock").display()
        ),
        format!(
            "RESIN_APP_LOCK_PATH={}",
            lock.join("updates.lock").display()
        ),
        format!(
            "OLD_LOCK_PATH={}",
            data.join("resin-updates.lock").display()
        ),
    ] {
        assert!(env.contains(&expected), "{expected} missing from {env:?}");
    }
    assert!(
        env.iter().any(|v| v.starts_with("PATH=")),
        "PATH kept: {env:?}"
    );

    // Its own process group; one record file.
    let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid as i32))).unwrap();
    assert_eq!(pgid.as_raw(), pid as i32);
    assert_eq!(fx.record_files(), vec![format!("{}.json", c.id)]);

    rt.stop(&c.id, Duration::from_secs(5)).await.unwrap();
    assert!(proc_gone_or_zombie(pid));
}

#[tokio::test]
async fn stop_sends_sigterm_first() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let marker = fx.root().join("marker");
    let mut spec = fx.spec(
        "main",
        &sh(r#"trap 'echo got-term >> "$MARK"; exit 0' TERM; echo ready > "$FIFO"; while :; do sleep 0.05; done"#),
    );
    spec.environment
        .insert("MARK".into(), marker.display().to_string());
    let fifo = fx.fifo(&mut spec);
    let c = rt.create_and_start(&spec).await.unwrap();
    let pid = c.pid.unwrap();
    fx.track(pid);
    assert_eq!(read_line(&fifo).await, "ready");

    let started = Instant::now();
    rt.stop(&c.id, Duration::from_secs(15)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped by SIGTERM"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "got-term\n");
    let listed = rt.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, ContainerStatus::Exited);
    assert_eq!(listed[0].pid, None);
    assert!(proc_gone_or_zombie(pid));
    // Stopping a stopped container is fine.
    rt.stop(&c.id, Duration::from_secs(1)).await.unwrap();
}

#[tokio::test]
async fn service_ignoring_sigterm_is_killed_after_grace() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let mut spec = fx.spec(
        "main",
        &sh(r#"trap '' TERM; sleep 1000 & echo "$!" > "$FIFO"; wait"#),
    );
    let fifo = fx.fifo(&mut spec);
    let c = rt.create_and_start(&spec).await.unwrap();
    fx.track(c.pid.unwrap());
    let grandchild: u32 = read_line(&fifo).await.parse().unwrap();

    let grace = Duration::from_millis(300);
    let started = Instant::now();
    rt.stop(&c.id, grace).await.unwrap();
    assert!(started.elapsed() >= grace, "waited the grace period");
    assert_eq!(rt.list().await.unwrap()[0].status, ContainerStatus::Exited);
    // Everything the service started is gone too.
    await_exit(grandchild).await;
}

#[tokio::test]
async fn service_exiting_by_itself_is_exited_and_its_group_cleaned() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let mut spec = fx.spec(
        "main",
        &sh(r#"sleep 1000 & echo "$!" > "$FIFO"; echo hello; echo oops >&2; exit 3"#),
    );
    let fifo = fx.fifo(&mut spec);
    let c = rt.create_and_start(&spec).await.unwrap();
    let pid = c.pid.unwrap();
    fx.track(pid);
    let grandchild: u32 = read_line(&fifo).await.parse().unwrap();
    await_exit(pid).await;
    let listed = rt.list().await.unwrap();
    assert_eq!(listed[0].status, ContainerStatus::Exited);
    assert_eq!(listed[0].pid, None);
    await_exit(grandchild).await;

    let log = std::fs::read_to_string(fx.log_dir().join("1-main.log")).unwrap();
    assert!(
        log.contains("hello") && log.contains("oops"),
        "log: {log:?}"
    );
}

#[tokio::test]
async fn restarted_runtime_adopts_running_services() {
    let fx = Fixture::new();
    let a = fx.runtime();
    let c = a
        .create_and_start(&fx.spec("main", &["sleep", "1000"]))
        .await
        .unwrap();
    let pid = c.pid.unwrap();
    fx.track(pid);
    drop(a);

    let b = fx.runtime();
    let listed = b.list().await.unwrap();
    assert_eq!(listed.len(), 1, "no second copy: {listed:?}");
    assert_eq!(listed[0].id, c.id);
    assert_eq!(listed[0].status, ContainerStatus::Running);
    assert_eq!(listed[0].pid, Some(pid));

    // A new container does not reuse the adopted one's id.
    let other = b
        .create_and_start(&fx.spec("other", &["sleep", "1000"]))
        .await
        .unwrap();
    fx.track(other.pid.unwrap());
    assert_ne!(other.id, c.id);

    b.stop(&c.id, Duration::from_secs(5)).await.unwrap();
    assert!(proc_gone_or_zombie(pid));
    let listed = b.list().await.unwrap();
    assert_eq!(listed[0].status, ContainerStatus::Exited);
    assert_eq!(listed[1].status, ContainerStatus::Running);
    b.stop_all(Duration::from_secs(5)).await;
    assert!(b
        .list()
        .await
        .unwrap()
        .iter()
        .all(|c| c.status == ContainerStatus::Exited));
}

#[tokio::test]
async fn stale_and_corrupt_records_are_not_running() {
    let fx = Fixture::new();
    let a = fx.runtime();
    let reused = a
        .create_and_start(&fx.spec("reused", &["sleep", "1000"]))
        .await
        .unwrap();
    let dead = a
        .create_and_start(&fx.spec("dead", &["sleep", "1000"]))
        .await
        .unwrap();
    fx.track(reused.pid.unwrap());
    fx.track(dead.pid.unwrap());
    a.stop_all(Duration::from_secs(5)).await;
    drop(a);

    let edit = |id: &str, pid: Option<u32>, start_time: Option<u64>| {
        let path = fx.state_dir().join(format!("{id}.json"));
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        v["status"] = serde_json::json!("Running");
        if let Some(pid) = pid {
            v["pid"] = serde_json::json!(pid);
        }
        if let Some(start_time) = start_time {
            v["start_time"] = serde_json::json!(start_time);
        }
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    // Our own pid with another start time: a reused pid.
    edit(&reused.id, Some(std::process::id()), Some(1));
    // The dead process, recorded as running.
    edit(&dead.id, None, None);
    std::fs::write(fx.state_dir().join("9_broken_3.json"), b"{not json").unwrap();

    let b = fx.runtime();
    let listed = b.list().await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for c in &listed {
        assert_eq!(c.status, ContainerStatus::Exited, "{c:?}");
        assert_eq!(c.pid, None);
    }
    // Stopping them signals nobody (we are still here), and the records now
    // say exited.
    b.stop(&reused.id, Duration::from_secs(1)).await.unwrap();
    b.stop(&dead.id, Duration::from_secs(1)).await.unwrap();
    let saved =
        std::fs::read_to_string(fx.state_dir().join(format!("{}.json", reused.id))).unwrap();
    assert!(saved.contains("\"Exited\""), "{saved}");
}

#[tokio::test]
async fn start_failures_record_nothing() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let mut cases = vec![
        (
            fx.spec("main", &["no-such-command-4711"]),
            "no-such-command-4711",
        ),
        (fx.spec("main", &["/no/such/dir/cmd"]), "/no/such/dir/cmd"),
        (fx.spec("main", &[]), "empty command"),
    ];
    let mut outside = fx.spec("main", &["sleep", "1"]);
    outside.lock_env = vec![("L".into(), "/tmp/balena/../../etc/x".into())];
    cases.push((outside, "/tmp/balena/../../etc/x"));
    let mut no_data = fx.spec("main", &["sleep", "1"]);
    no_data.data_dir = None;
    no_data.lock_env = vec![("L".into(), "/data/resin-updates.lock".into())];
    cases.push((no_data, "/data/resin-updates.lock"));
    for (spec, named) in cases {
        match rt.create_and_start(&spec).await {
            Err(e @ RuntimeError::Start { .. }) => {
                assert!(e.to_string().contains(named), "{e} should name {named}")
            }
            other => panic!("expected a start error naming {named}, got {other:?}"),
        }
    }
    assert!(rt.list().await.unwrap().is_empty());
    assert!(fx.record_files().is_empty(), "{:?}", fx.record_files());
}

#[tokio::test]
async fn service_runs_as_its_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let fx = Fixture::new();
    let rt = fx.runtime();
    let mut spec = fx.spec("main", &["sleep", "1000"]);
    spec.user = Some(65534);
    let c = rt.create_and_start(&spec).await.unwrap();
    let pid = c.pid.unwrap();
    fx.track(pid);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for key in ["Uid:", "Gid:"] {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        let ids: Vec<&str> = line.split_whitespace().skip(1).collect();
        assert_eq!(ids, vec!["65534"; 4], "{line}");
    }
    rt.stop(&c.id, Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn relabel_keeps_the_process() {
    let fx = Fixture::new();
    let a = fx.runtime();
    let c = a
        .create_and_start(&fx.spec("main", &["sleep", "1000"]))
        .await
        .unwrap();
    fx.track(c.pid.unwrap());
    a.relabel(&c.id, "def456", 8).await.unwrap();
    let listed = a.list().await.unwrap();
    assert_eq!(listed[0].pid, c.pid);
    assert_eq!(listed[0].status, ContainerStatus::Running);
    assert_eq!(
        (listed[0].spec.commit.as_str(), listed[0].spec.release_id),
        ("def456", 8)
    );
    drop(a);
    let b = fx.runtime();
    let listed = b.list().await.unwrap();
    assert_eq!(
        (listed[0].spec.commit.as_str(), listed[0].pid),
        ("def456", c.pid)
    );
    b.stop(&c.id, Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn images_round_trip() {
    let fx = Fixture::new();
    let a = fx.runtime();
    assert!(!a.has_image("fixture-app:1").await.unwrap());
    a.fetch_image("fixture-app:1").await.unwrap();
    a.fetch_image("fixture-app:1").await.unwrap();
    a.fetch_image("fixture-app:2").await.unwrap();
    assert!(a.has_image("fixture-app:1").await.unwrap());
    drop(a);
    let b = fx.runtime();
    assert!(b.has_image("fixture-app:1").await.unwrap());
    b.remove_image("fixture-app:1").await.unwrap();
    b.remove_image("fixture-app:1").await.unwrap();
    assert!(!b.has_image("fixture-app:1").await.unwrap());
    assert!(b.has_image("fixture-app:2").await.unwrap());
    assert!(fx.record_files().is_empty());
}

#[tokio::test]
async fn hand_over_runs_old_and_new_together() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let old = rt
        .create_and_start(&fx.spec("main", &["sleep", "1000"]))
        .await
        .unwrap();
    let mut new_spec = fx.spec("main", &["sleep", "1000"]);
    new_spec.commit = "def456".into();
    new_spec.release_id = 8;
    let new = rt.create_and_start(&new_spec).await.unwrap();
    fx.track(old.pid.unwrap());
    fx.track(new.pid.unwrap());
    assert_ne!(old.id, new.id);
    let listed = rt.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![old.id.as_str(), new.id.as_str()]
    );
    assert!(listed.iter().all(|c| c.status == ContainerStatus::Running));

    rt.stop(&old.id, Duration::from_secs(5)).await.unwrap();
    rt.remove(&old.id).await.unwrap();
    let listed = rt.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].status),
        (new.id.as_str(), ContainerStatus::Running)
    );

    // Removing a running container stops it first.
    rt.remove(&new.id).await.unwrap();
    assert!(proc_gone_or_zombie(new.pid.unwrap()));
    assert!(rt.list().await.unwrap().is_empty());
    assert!(fx.record_files().is_empty());
}

#[tokio::test]
async fn start_restarts_a_stopped_container() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let c = rt
        .create_and_start(&fx.spec("main", &["sleep", "1000"]))
        .await
        .unwrap();
    fx.track(c.pid.unwrap());
    rt.stop(&c.id, Duration::from_secs(5)).await.unwrap();
    rt.start(&c.id).await.unwrap();
    let first = rt.list().await.unwrap().remove(0);
    assert_eq!(first.status, ContainerStatus::Running);
    let pid = first.pid.unwrap();
    fx.track(pid);
    assert_eq!(first.id, c.id);
    // Starting a running container is a no-op.
    rt.start(&c.id).await.unwrap();
    assert_eq!(rt.list().await.unwrap()[0].pid, Some(pid));
    rt.stop_all(Duration::from_secs(5)).await;
    assert_eq!(rt.list().await.unwrap()[0].status, ContainerStatus::Exited);
}

#[tokio::test]
async fn unknown_ids_are_reported() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let is_missing = |r: Result<(), RuntimeError>| matches!(r, Err(RuntimeError::NoSuchContainer(id)) if id == "nope");
    assert!(is_missing(rt.stop("nope", Duration::from_secs(1)).await));
    assert!(is_missing(rt.start("nope").await));
    assert!(is_missing(rt.remove("nope").await));
    assert!(is_missing(rt.relabel("nope", "c", 1).await));
}

#[tokio::test]
async fn nothing_starts_after_shutdown() {
    let fx = Fixture::new();
    let rt = fx.runtime();
    let running = rt
        .create_and_start(&fx.spec("main", &["sleep", "1000"]))
        .await
        .unwrap();
    let pid = running.pid.unwrap();
    fx.track(pid);
    let stopped = rt
        .create_and_start(&fx.spec("other", &["sleep", "1000"]))
        .await
        .unwrap();
    fx.track(stopped.pid.unwrap());
    rt.stop(&stopped.id, Duration::from_secs(5)).await.unwrap();

    rt.shutdown(Duration::from_secs(5)).await;
    assert!(proc_gone_or_zombie(pid), "running services are stopped");
    // What a reconcile pass still in flight would do next: refused.
    assert!(rt.start(&stopped.id).await.is_err());
    let late = rt
        .create_and_start(&fx.spec("late", &["sleep", "1000"]))
        .await;
    assert!(
        matches!(&late, Err(RuntimeError::Start { reason, .. }) if reason.contains("shut down")),
        "{late:?}"
    );
    let statuses: Vec<_> = rt
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [ContainerStatus::Exited, ContainerStatus::Exited]);
}
