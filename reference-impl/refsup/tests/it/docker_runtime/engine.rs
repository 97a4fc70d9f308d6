//! The engine the Docker tests run against, checked once per test binary:
//! reachable (else every test prints "skipped: no container engine" once
//! and returns), with a tiny busybox image built FROM scratch (tagged by a
//! hash of its content, built only if missing, labelled
//! `io.lockcheck.test=1`), and cleared of what killed test runs left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use refsup::runtime::docker::{connect, engine_url, labels};

use super::tar;

/// Repository of the test image.
pub const IMAGE_REPO: &str = "lockcheck-refsup-test";
/// The label every test image carries.
pub const TEST_LABEL: &str = "io.lockcheck.test";
/// Prefix of every test device id: `refsup-it-<pid>-<n>`.
const DEVICE_PREFIX: &str = "refsup-it-";

/// Where the busybox comes from (Debian's busybox-static).
const BUSYBOX: &str = "/bin/busybox";

/// What every Docker test needs.
pub struct Engine {
    /// The engine URL (`DOCKER_HOST` or the local socket).
    pub url: String,
    /// The busybox image reference.
    pub image: String,
}

/// The Dockerfile of the test image; `extra` adds lines (a variant image).
pub fn dockerfile(extra: &str) -> String {
    format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\nLABEL {TEST_LABEL}=1\n{extra}"
    )
}

/// The engine, or `None` (said once) when there is none.
pub fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            // Its own runtime on its own thread: callers are inside theirs.
            std::thread::spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(prepare())
            })
            .join()
            .unwrap()
        })
        .as_ref()
}

async fn prepare() -> Option<Engine> {
    let url = engine_url(None);
    let docker = match connect(&url).await {
        Ok(docker) => docker,
        Err(why) => {
            // Past the test harness's capture, so it shows once per run.
            let line = format!("skipped: no container engine ({url}: {why})\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            return None;
        }
    };
    reap_dead_devices(&docker).await;
    let busybox = std::fs::read(BUSYBOX)
        .unwrap_or_else(|e| panic!("{BUSYBOX}: {e} (apt-get install busybox-static)"));
    let image = ensure_image(&docker, &busybox, "").await;
    Some(Engine { url, image })
}

/// Build the test image (with `extra` Dockerfile lines) unless the engine
/// has it; returns its reference.
pub async fn ensure_image(docker: &Docker, busybox: &[u8], extra: &str) -> String {
    let dockerfile = dockerfile(extra);
    let mut content = dockerfile.as_bytes().to_vec();
    content.extend_from_slice(busybox);
    let hash = refsup_hash(&content);
    let image = format!("{IMAGE_REPO}:{hash}");
    if docker.inspect_image(&image).await.is_ok() {
        return image;
    }
    let context = tar::archive(&[
        tar::Entry {
            name: "Dockerfile",
            mode: 0o644,
            data: dockerfile.as_bytes(),
        },
        tar::Entry {
            name: "busybox",
            mode: 0o755,
            data: busybox,
        },
    ]);
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&image)
        .rm(true)
        .forcerm(true)
        // No network: engines here have no docker0 bridge, and the build
        // needs none (the context holds everything).
        .networkmode("none")
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(step) = stream.next().await {
        let step = step.unwrap_or_else(|e| panic!("building {image}: {e}"));
        if let Some(error) = step.error_detail.and_then(|d| d.message) {
            panic!("building {image}: {error}");
        }
    }
    image
}

/// FNV-1a of `bytes`, 16 hex digits.
fn refsup_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A device id no other test (in this or any other run) uses.
pub fn new_device() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{DEVICE_PREFIX}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Remove the containers of test devices whose test process is gone.
async fn reap_dead_devices(docker: &Docker) {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&HashMap::from([("label", vec![labels::DEVICE])]))
        .build();
    let Ok(found) = docker.list_containers(Some(options)).await else {
        return;
    };
    for c in found {
        let device = c.labels.as_ref().and_then(|l| l.get(labels::DEVICE));
        let pid = device
            .and_then(|d| d.strip_prefix(DEVICE_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let (Some(pid), Some(id)) = (pid, c.id) {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                remove_container(docker, &id).await;
            }
        }
    }
}

async fn remove_container(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let _ = docker.remove_container(id, Some(options)).await;
}

/// A fresh client (each test has its own tokio runtime).
pub async fn client(engine: &Engine) -> Docker {
    connect(&engine.url).await.expect("engine answered before")
}

/// On drop (also when the test fails): removes every container of its
/// devices and the image references it was given.
pub struct Cleanup {
    url: String,
    pub devices: Vec<String>,
    pub images: Vec<String>,
}

impl Cleanup {
    /// A guard for `devices`.
    pub fn new(engine: &Engine, devices: &[&str]) -> Cleanup {
        Cleanup {
            url: engine.url.clone(),
            devices: devices.iter().map(|d| d.to_string()).collect(),
            images: Vec::new(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let url = self.url.clone();
        let devices = std::mem::take(&mut self.devices);
        let images = std::mem::take(&mut self.images);
        // Its own runtime on its own thread: the test may be inside one.
        let cleaned = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let docker = connect(&url).await.expect("engine for cleanup");
                    for device in devices {
                        let options = ListContainersOptionsBuilder::new()
                            .all(true)
                            .filters(&HashMap::from([(
                                "label",
                                vec![format!("{}={device}", labels::DEVICE)],
                            )]))
                            .build();
                        for c in docker
                            .list_containers(Some(options))
                            .await
                            .unwrap_or_default()
                        {
                            if let Some(id) = c.id {
                                remove_container(&docker, &id).await;
                            }
                        }
                    }
                    for image in images {
                        let options = RemoveImageOptionsBuilder::new().force(true).build();
                        let _ = docker.remove_image(&image, Some(options), None).await;
                    }
                })
        })
        .join();
        if cleaned.is_err() && !std::thread::panicking() {
            panic!("cleanup failed");
        }
    }
}
