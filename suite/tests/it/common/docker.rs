//! Shared container-test setup: the engine (or one "skipped" line when
//! there is none), the fixture and refsup images built once per test binary,
//! and a refsup running in a container (testcontainers) the way the real
//! supervisor runs: the engine socket and the host root mounted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lockcheck::sut::engine::exec::{exec, ExecOutput};
use lockcheck::sut::engine::Engine;
use lockcheck::sut::engine::{cell, labels};
use lockcheck_reaper::{Owner, Scratch};
use serde_json::Value;
use testcontainers::core::{Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

/// The engine and the images every container test uses.
pub struct DockerEnv {
    /// The engine (local socket or DOCKER_HOST).
    pub engine: Arc<Engine>,
    /// `lockcheck-fixture:<hash>`.
    pub fixture: String,
    /// `lockcheck-refsup:<hash>`.
    pub refsup: String,
}

/// The engine and images, built once per test binary; `None` (after one
/// "skipped: no container engine" line) when no engine answers.
pub fn docker() -> Option<&'static DockerEnv> {
    static ENV: OnceLock<Option<DockerEnv>> = OnceLock::new();
    ENV.get_or_init(|| {
        super::harness();
        let engine = match Engine::connect(None) {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("skipped: no container engine ({e:#})");
                return None;
            }
        };
        lockcheck::sut::engine::reap::reap_dead_runs(&engine);
        let (fixture, refsup) = engine
            .block_on(async {
                let images = lockcheck_images::Images::connect(Some(engine.url())).await?;
                anyhow::Ok((images.fixture().await?, images.refsup().await?))
            })
            .expect("building the fixture and refsup images");
        Some(DockerEnv {
            engine,
            fixture,
            refsup,
        })
    })
    .as_ref()
}

/// Skip the test (return) when there is no engine.
#[macro_export]
macro_rules! docker_or_skip {
    () => {
        match $crate::common::docker::docker() {
            Some(env) => env,
            None => return,
        }
    };
}

/// A refsup in a container, managing service containers on the same
/// engine; its device root is a host scratch dir mounted at `/mnt/root`.
pub struct RefsupContainer {
    /// The container (removed when dropped).
    pub container: Container<GenericImage>,
    /// The device root on this host.
    pub root: Scratch,
    /// The API, on a host port.
    pub url: String,
    /// `--device-id`: labels its service containers.
    pub device_id: String,
    /// The profile it behaves as.
    pub profile: lockgates::Profile,
    /// The engine its service containers run on (removed when dropped).
    engine: Arc<Engine>,
}

impl Drop for RefsupContainer {
    /// testcontainers removes refsup's own container, but refsup is killed
    /// at once and leaves its service containers behind: stop it first (so
    /// it makes no more), then remove every container of its cell label.
    fn drop(&mut self) {
        let _ = self.container.stop_with_timeout(Some(0));
        let label = format!("{}={}", labels::CELL, self.device_id);
        let engine = &self.engine;
        engine.block_on(async {
            match cell::labelled(engine, &label).await {
                Ok(ids) => cell::remove_containers(engine, &ids).await,
                Err(e) => eprintln!(
                    "cannot list the service containers of {}: {e}",
                    self.device_id
                ),
            }
        });
    }
}

/// Start refsup as `profile` in a container, `extra` flags appended.
pub fn start_refsup(env: &DockerEnv, profile: &str, extra: &[&str]) -> RefsupContainer {
    let root = Scratch::new("container-root").expect("scratch root");
    let host_root = root.path().display().to_string();
    let device_id = format!("t{}", root.path().file_name().unwrap().to_string_lossy())
        .to_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let (sup, os) = profile.split_once('@').expect("SUP@OS");
    let mut cmd = vec![
        "--root".to_string(),
        "/mnt/root".into(),
        "--host-root".into(),
        host_root.clone(),
        "--runtime".into(),
        "docker".into(),
        "--engine".into(),
        "unix:///var/run/docker.sock".into(),
        "--device-id".into(),
        device_id.clone(),
        // Host network (this engine may have no bridge): a free port on
        // loopback, read back from refsup's "listening on" line.
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--supervisor-version".into(),
        sup.into(),
        "--os-version".into(),
        os.into(),
        "--time-scale".into(),
        "0.001".into(),
        "--stop-timeout".into(),
        "3".into(),
    ];
    cmd.extend(extra.iter().map(|s| s.to_string()));
    let (name, tag) = env.refsup.split_once(':').expect("name:tag");
    let owner = Owner::this_process().to_string();
    let container = GenericImage::new(name, tag)
        .with_wait_for(WaitFor::message_on_stdout("listening on"))
        .with_network("host")
        .with_cmd(cmd)
        .with_mount(Mount::bind_mount(
            "/var/run/docker.sock",
            "/var/run/docker.sock",
        ))
        .with_mount(Mount::bind_mount(host_root.clone(), "/mnt/root"))
        .with_env_var("LOCKCHECK_RUN", owner.clone())
        .with_env_var("LOCKCHECK_CELL", device_id.clone())
        .with_label("io.lockcheck.run", owner)
        .with_label("io.lockcheck.cell", device_id.clone())
        .with_startup_timeout(Duration::from_secs(60))
        .start()
        .expect("starting refsup in a container");
    let url = api_url(&container);
    RefsupContainer {
        container,
        root,
        url,
        device_id,
        profile: profile.parse().expect("profile"),
        engine: env.engine.clone(),
    }
}

/// The API address from the last "listening on ADDR" line refsup printed.
pub fn api_url(container: &Container<GenericImage>) -> String {
    let out = container.stdout_to_vec().expect("refsup's stdout");
    let text = String::from_utf8_lossy(&out);
    let addr = text
        .lines()
        .rev()
        .find_map(|l| l.split("listening on ").nth(1))
        .expect("a listening on line")
        .trim()
        .to_string();
    format!("http://{addr}")
}

impl RefsupContainer {
    /// The host dir of `service` of `app`'s lock dir.
    pub fn lock_dir(&self, app: u32, service: &str) -> PathBuf {
        self.root
            .path()
            .join(self.profile.service_lock_dir(app, service))
    }

    /// `POST /v2/local/target-state` with these apps
    /// (`{"<id>": {"commit": .., "services": {name: {"image", "command", ...}}}}`).
    pub fn deploy(&self, apps: Value) -> u16 {
        let body = serde_json::json!({"local": {"name": "t", "config": {}, "apps": apps}});
        let client = lockcheck::client::Client::new(&self.url, None);
        client
            .post("/v2/local/target-state", &body)
            .expect("POST target state")
            .0
    }

    /// `GET path` as JSON.
    pub fn get(&self, path: &str) -> Value {
        lockcheck::client::Client::new(&self.url, None)
            .get(path)
            .expect("GET")
    }

    /// `POST path` with `body`: the status.
    pub fn post(&self, path: &str, body: Value) -> u16 {
        lockcheck::client::Client::new(&self.url, None)
            .post(path, &body)
            .expect("POST")
            .0
    }

    /// Wait until every listed (service, commit) runs and nothing is pending.
    pub fn wait_applied(&self, want: &[(&str, &str)]) {
        wait_until(
            Duration::from_secs(60),
            "the target state to be applied",
            || {
                let status = self.get("/v2/state/status");
                let list = status["containers"].as_array().cloned().unwrap_or_default();
                let all = want.iter().all(|(svc, commit)| {
                    list.iter().any(|c| {
                        c["serviceName"] == *svc
                            && c["commit"] == *commit
                            && c["status"] == "Running"
                    })
                });
                all && self.get("/v1/device")["update_pending"] == false
            },
        );
    }

    /// Container ids of `service` of this refsup, newest last.
    pub fn service_containers(&self, env: &DockerEnv, service: &str) -> Vec<String> {
        let device = format!("io.lockcheck.device={}", self.device_id);
        let svc = format!("io.balena.service-name={service}");
        let filters: HashMap<&str, Vec<&str>> =
            HashMap::from([("label", vec![device.as_str(), svc.as_str()])]);
        let opts = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let mut list = env
            .engine
            .block_on(env.engine.docker().list_containers(Some(opts)))
            .expect("list containers");
        list.sort_by_key(|c| c.created.unwrap_or_default());
        list.into_iter().filter_map(|c| c.id).collect()
    }
}

/// Exec in a container, as `user` when given.
pub fn run_in(env: &DockerEnv, id: &str, user: Option<&str>, cmd: &[&str]) -> ExecOutput {
    env.engine
        .block_on(exec(&env.engine, id, user, cmd))
        .expect("exec")
}

/// Poll `ok` every 20 ms until it holds; panic naming `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A service entry running busybox `sleep` from the fixture image.
pub fn idle_service(env: &DockerEnv, tag: &str) -> Value {
    serde_json::json!({
        "image": env.fixture,
        "command": ["/bin/sleep", "100000"],
        "environment": {"GEN": tag},
        "labels": {},
    })
}

/// Whether `path` exists on this host (lstat).
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// A TCP port on 127.0.0.1 forwarding to the local engine's unix socket:
/// an engine "reached over the network", as a device's engine on 2375 is.
pub struct TcpEngine {
    /// `tcp://127.0.0.1:PORT`.
    pub url: String,
}

/// Start forwarding (threads live as long as the test binary).
pub fn tcp_engine() -> TcpEngine {
    use std::io::copy;
    use std::net::{Shutdown, TcpListener};
    use std::os::unix::net::UnixStream;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("tcp://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let Ok(unix) = UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut tcp_r, mut unix_w) = (
                conn.try_clone().expect("clone"),
                unix.try_clone().expect("clone"),
            );
            let (mut unix_r, mut tcp_w) = (unix, conn);
            std::thread::spawn(move || {
                let _ = copy(&mut tcp_r, &mut unix_w);
                let _ = unix_w.shutdown(Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = copy(&mut unix_r, &mut tcp_w);
                let _ = tcp_w.shutdown(Shutdown::Write);
            });
        }
    });
    TcpEngine { url }
}
