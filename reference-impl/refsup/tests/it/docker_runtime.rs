//! The Docker runtime against a real engine: containers created, started,
//! stopped and removed as the engine shows them; the lock dir mounted at
//! both paths; users; adoption by label after a restart; device scoping;
//! stop's grace; images without a registry; start errors; shutdown. And
//! end to end, the refsup binary with `--runtime docker`.
//!
//! Without an engine every test prints "skipped: no container engine"
//! (once) and passes. Each test uses its own device id and removes its
//! containers when it ends, also when it fails.

mod cache;
mod e2e;
mod engine;
mod exec;
mod tar;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::query_parameters::{ListContainersOptionsBuilder, TagImageOptionsBuilder};
use bollard::Docker;
use refsup::runtime::docker::{labels, DockerConfig, DockerRuntime, KEEPER_REPO};
use refsup::runtime::{ContainerStatus, Runtime, RuntimeError, ServiceInstance};

use engine::{Cleanup, Engine};
use exec::exec;

/// Upper bound for anything a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// A service that exits at once on SIGTERM (PID 1 has no default action).
const POLITE: &[&str] = &["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"];

/// A device root in a temp dir and a runtime over it.
struct Device {
    tmp: tempfile::TempDir,
    id: String,
}

impl Device {
    fn new() -> Device {
        let tmp = tempfile::tempdir().unwrap();
        Device {
            tmp,
            id: engine::new_device(),
        }
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().canonicalize().unwrap()
    }

    async fn runtime(&self, engine: &Engine) -> DockerRuntime {
        DockerRuntime::connect(DockerConfig {
            engine: Some(engine.url.clone()),
            root: self.root(),
            host_root: None,
            device_id: Some(self.id.clone()),
            state_dir: self.root().join("mnt/state/refsup/runtime"),
        })
        .await
        .unwrap()
    }

    fn lock_dir(&self, service: &str) -> PathBuf {
        self.root().join(format!("tmp/locks/{service}"))
    }

    fn spec(&self, engine: &Engine, service: &str, command: &[&str]) -> ServiceInstance {
        ServiceInstance {
            app_id: 1,
            service: service.to_string(),
            commit: "aaa".to_string(),
            release_id: 1,
            image: engine.image.clone(),
            command: command.iter().map(|s| s.to_string()).collect(),
            environment: BTreeMap::from([("FOO".to_string(), "bar".to_string())]),
            lock_env: vec![(
                "BALENA_APP_LOCK_PATH".to_string(),
                "/tmp/balena/updates.lock".to_string(),
            )],
            labels: BTreeMap::from([(engine::TEST_LABEL.to_string(), "1".to_string())]),
            user: None,
            spec_hash: format!("hash-{service}"),
            lock_dir: self.lock_dir(service),
            data_dir: None,
        }
    }
}

/// The engine and a cleanup guard for `devices`, or `None` (skip).
fn setup(devices: &[&Device]) -> Option<(&'static Engine, Cleanup)> {
    let engine = engine::engine()?;
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    Some((engine, Cleanup::new(engine, &ids)))
}

/// The engine's view of one container: (running, labels).
async fn engine_view(docker: &Docker, id: &str) -> Option<(bool, HashMap<String, String>)> {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&HashMap::from([("id", vec![id])]))
        .build();
    let found = docker.list_containers(Some(options)).await.unwrap();
    found.into_iter().next().map(|c| {
        (
            c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING),
            c.labels.unwrap_or_default(),
        )
    })
}

/// Poll `f` every 50 ms until it is `Some`, or panic after `PATIENCE`.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn containers_are_created_started_stopped_and_removed_on_the_engine() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let docker = engine::client(engine).await;
    let rt = dev.runtime(engine).await;
    assert_eq!(rt.name(), "docker");
    let spec = dev.spec(engine, "main", POLITE);
    let c = rt.create_and_start(&spec).await.unwrap();
    assert_eq!(c.status, ContainerStatus::Running);
    assert_eq!(c.spec, spec);
    assert!(dev.lock_dir("main").is_dir(), "lock dir created");

    let (running, l) = engine_view(&docker, &c.id).await.expect("in docker ps");
    assert!(running);
    for (key, value) in [
        (labels::SUPERVISED, "true"),
        (labels::APP_ID, "1"),
        (labels::SERVICE_NAME, "main"),
        (labels::DEVICE, dev.id.as_str()),
        (labels::COMMIT, "aaa"),
        (labels::RELEASE_ID, "1"),
        (labels::SPEC_HASH, "hash-main"),
        (labels::SEQ, "0"),
        (engine::TEST_LABEL, "1"),
    ] {
        assert_eq!(l.get(key).map(String::as_str), Some(value), "label {key}");
    }
    let (code, env) = exec(&docker, &c.id, None, &["env"]).await;
    assert_eq!(code, 0);
    assert!(env.contains("FOO=bar\n"), "{env}");
    assert!(
        env.contains("BALENA_APP_LOCK_PATH=/tmp/balena/updates.lock\n"),
        "lock paths as the service sees them: {env}"
    );
    assert!(!env.contains("REFSUP_LOCK_DIR"), "{env}");

    let started = Instant::now();
    rt.stop(&c.id, Duration::from_secs(10)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM honoured"
    );
    assert!(!engine_view(&docker, &c.id).await.unwrap().0);
    let listed = rt.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, ContainerStatus::Exited);
    rt.stop(&c.id, Duration::from_secs(1)).await.unwrap();

    rt.start(&c.id).await.unwrap();
    assert_eq!(rt.list().await.unwrap()[0].status, ContainerStatus::Running);
    rt.start(&c.id).await.unwrap();

    rt.remove(&c.id).await.unwrap();
    assert!(engine_view(&docker, &c.id).await.is_none(), "removed");
    assert!(rt.list().await.unwrap().is_empty());
    rt.remove(&c.id).await.unwrap();
    assert!(matches!(
        rt.stop(&c.id, Duration::from_secs(1)).await,
        Err(RuntimeError::NoSuchContainer(_))
    ));
    assert!(matches!(
        rt.start(&c.id).await,
        Err(RuntimeError::NoSuchContainer(_))
    ));
}

#[tokio::test]
async fn the_lock_dir_is_at_both_paths_and_the_data_dir_at_data() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let docker = engine::client(engine).await;
    let rt = dev.runtime(engine).await;
    let mut spec = dev.spec(engine, "main", POLITE);
    spec.data_dir = Some(dev.root().join("resin-data/1"));
    let c = rt.create_and_start(&spec).await.unwrap();
    assert_eq!(
        std::fs::metadata(dev.lock_dir("main"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
    let (code, out) = exec(&docker, &c.id, None, &["touch", "/tmp/balena/x"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(dev.lock_dir("main").join("x").exists(), "on the host");
    let (code, _) = exec(&docker, &c.id, None, &["test", "-e", "/tmp/resin/x"]).await;
    assert_eq!(code, 0, "/tmp/resin/x is the same file");
    std::fs::write(dev.lock_dir("main").join("from-host"), "").unwrap();
    let (code, _) = exec(
        &docker,
        &c.id,
        None,
        &["test", "-e", "/tmp/resin/from-host"],
    )
    .await;
    assert_eq!(code, 0, "the host's files show inside");
    let (code, _) = exec(&docker, &c.id, None, &["touch", "/data/d"]).await;
    assert_eq!(code, 0);
    assert!(dev.root().join("resin-data/1/d").exists());
}

#[tokio::test]
async fn host_paths_use_the_host_root_and_so_does_the_default_device_id() {
    // refsup sees the root at `view`; the engine's host at `host`.
    let tmp = tempfile::tempdir().unwrap();
    let view = tmp.path().canonicalize().unwrap().join("view");
    let host = tmp.path().canonicalize().unwrap().join("host");
    std::fs::create_dir(&view).unwrap();
    std::os::unix::fs::symlink(&view, &host).unwrap();
    let device = refsup::runtime::docker::device_id(None, &host).unwrap();
    assert_ne!(
        device,
        refsup::runtime::docker::device_id(None, &view).unwrap()
    );
    let Some(engine) = engine::engine() else {
        return;
    };
    let _cleanup = Cleanup::new(engine, &[&device]);
    let rt = DockerRuntime::connect(DockerConfig {
        engine: Some(engine.url.clone()),
        root: view.clone(),
        host_root: Some(host.clone()),
        device_id: None,
        state_dir: view.join("state"),
    })
    .await
    .unwrap();
    let mut spec = Device::new().spec(engine, "main", POLITE);
    spec.lock_dir = view.join("tmp/lock");
    let c = rt.create_and_start(&spec).await.unwrap();
    let docker = engine::client(engine).await;
    let (_, l) = engine_view(&docker, &c.id).await.unwrap();
    assert_eq!(l[labels::DEVICE], device);
    let mounts = docker
        .inspect_container(&c.id, None)
        .await
        .unwrap()
        .host_config
        .unwrap()
        .mounts
        .unwrap();
    assert!(mounts
        .iter()
        .all(|m| m.source.as_deref() == Some(host.join("tmp/lock").to_str().unwrap())));
    let (code, _) = exec(&docker, &c.id, None, &["touch", "/tmp/balena/x"]).await;
    assert_eq!(code, 0);
    assert!(view.join("tmp/lock/x").exists());
}

#[tokio::test]
async fn a_service_user_owns_the_lock_files_it_creates() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let docker = engine::client(engine).await;
    let rt = dev.runtime(engine).await;
    // As the supervisor makes lock dirs: writable by every uid.
    std::fs::create_dir_all(dev.lock_dir("main")).unwrap();
    std::fs::set_permissions(dev.lock_dir("main"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut spec = dev.spec(engine, "main", POLITE);
    spec.user = Some(65534);
    let c = rt.create_and_start(&spec).await.unwrap();
    let (_, ids) = exec(&docker, &c.id, None, &["sh", "-c", "id -u; id -g"]).await;
    assert_eq!(ids, "65534\n65534\n");
    let (code, out) = exec(&docker, &c.id, None, &["touch", "/tmp/balena/updates.lock"]).await;
    assert_eq!(code, 0, "{out}");
    let meta = std::fs::metadata(dev.lock_dir("main").join("updates.lock")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
}

#[tokio::test]
async fn a_new_runtime_adopts_the_devices_containers_by_label() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let first = dev.runtime(engine).await;
    let a = first
        .create_and_start(&dev.spec(engine, "a", POLITE))
        .await
        .unwrap();
    let b = first
        .create_and_start(&dev.spec(engine, "b", POLITE))
        .await
        .unwrap();
    first.relabel(&b.id, "bbb", 2).await.unwrap();
    let before = first.list().await.unwrap();
    assert_eq!(before[1].spec.commit, "bbb");
    assert_eq!(before[1].spec.release_id, 2);
    drop(first);

    let second = dev.runtime(engine).await;
    let after = second.list().await.unwrap();
    assert_eq!(after, before, "the same containers, relabel included");
    assert_eq!(
        after.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        [a.id.clone(), b.id.clone()]
    );
    assert!(after.iter().all(|c| c.status == ContainerStatus::Running));
    let c = second
        .create_and_start(&dev.spec(engine, "c", POLITE))
        .await
        .unwrap();
    let docker = engine::client(engine).await;
    let (_, l) = engine_view(&docker, &c.id).await.unwrap();
    assert_eq!(
        l[labels::SEQ],
        "2",
        "numbering goes on after the adopted ones"
    );
    second.remove(&b.id).await.unwrap();
    let third = dev.runtime(engine).await;
    let ids: Vec<String> = third
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [a.id, c.id]);
}

#[tokio::test]
async fn devices_do_not_see_or_stop_each_others_containers() {
    let (one, two) = (Device::new(), Device::new());
    let Some((engine, _cleanup)) = setup(&[&one, &two]) else {
        return;
    };
    let rt1 = one.runtime(engine).await;
    let rt2 = two.runtime(engine).await;
    let c1 = rt1
        .create_and_start(&one.spec(engine, "main", POLITE))
        .await
        .unwrap();
    let c2 = rt2
        .create_and_start(&two.spec(engine, "main", POLITE))
        .await
        .unwrap();
    let ids = |list: Vec<refsup::runtime::Container>| -> Vec<String> {
        list.into_iter().map(|c| c.id).collect()
    };
    assert_eq!(ids(rt1.list().await.unwrap()), std::slice::from_ref(&c1.id));
    assert_eq!(ids(rt2.list().await.unwrap()), std::slice::from_ref(&c2.id));
    rt1.shutdown(Duration::from_secs(5)).await;
    assert_eq!(rt1.list().await.unwrap()[0].status, ContainerStatus::Exited);
    assert_eq!(
        rt2.list().await.unwrap()[0].status,
        ContainerStatus::Running,
        "another device's shutdown leaves it alone"
    );
}

#[tokio::test]
async fn stop_kills_a_service_that_ignores_sigterm_after_the_grace() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let rt = dev.runtime(engine).await;
    let stubborn = &["sh", "-c", "trap '' TERM; sleep 1000"];
    let c = rt
        .create_and_start(&dev.spec(engine, "main", stubborn))
        .await
        .unwrap();
    let grace = Duration::from_secs(2);
    let started = Instant::now();
    rt.stop(&c.id, grace).await.unwrap();
    let took = started.elapsed();
    assert!(took >= grace - Duration::from_millis(100), "{took:?}");
    assert!(took < grace + Duration::from_secs(5), "{took:?}");
    let docker = engine::client(engine).await;
    let inspected = docker.inspect_container(&c.id, None).await.unwrap();
    let state = inspected.state.unwrap();
    assert_eq!(state.running, Some(false));
    assert_eq!(state.exit_code, Some(137), "SIGKILLed");
}

#[tokio::test]
async fn a_missing_image_is_named_and_never_pulled() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let rt = dev.runtime(engine).await;
    let missing = format!("lockcheck-refsup-test-missing:{}", dev.id);
    assert!(!rt.has_image(&missing).await.unwrap());
    let e = rt.fetch_image(&missing).await.unwrap_err().to_string();
    assert_eq!(
        e,
        format!("image {missing} is not on the engine and refsup cannot pull it (no registry): build or load it first")
    );
    let mut spec = dev.spec(engine, "main", POLITE);
    spec.image = missing.clone();
    match rt.create_and_start(&spec).await {
        Err(RuntimeError::Start {
            app_id,
            service,
            reason,
        }) => {
            assert_eq!((app_id, service.as_str()), (1, "main"));
            assert!(reason.contains(&missing), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(rt.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_removed_image_is_fetched_back_from_the_id_refsup_remembered() {
    let dev = Device::new();
    let Some((engine, mut cleanup)) = setup(&[&dev]) else {
        return;
    };
    let docker = engine::client(engine).await;
    let rt = dev.runtime(engine).await;
    let base_id = docker
        .inspect_image(&engine.image)
        .await
        .unwrap()
        .id
        .unwrap();

    // A second tag of the shared test image: removing it only untags.
    let extra = format!("lockcheck-refsup-test-extra:{}", dev.id);
    let (repo, tag) = extra.split_once(':').unwrap();
    docker
        .tag_image(
            &engine.image,
            Some(TagImageOptionsBuilder::new().repo(repo).tag(tag).build()),
        )
        .await
        .unwrap();
    cleanup.images.push(extra.clone());
    assert!(rt.has_image(&extra).await.unwrap());
    rt.remove_image(&extra).await.unwrap();
    assert!(!rt.has_image(&extra).await.unwrap());
    assert!(rt.has_image(&engine.image).await.unwrap(), "base tag kept");
    rt.remove_image(&extra).await.unwrap();
    // A new runtime: the memory is on disk.
    let rt = dev.runtime(engine).await;
    rt.fetch_image(&extra).await.unwrap();
    assert_eq!(
        docker.inspect_image(&extra).await.unwrap().id.unwrap(),
        base_id
    );

    // An image whose only tag is removed stays on the engine (keeper tag).
    let busybox = std::fs::read("/bin/busybox").unwrap();
    let variant = engine::ensure_image(
        &docker,
        &busybox,
        &format!("LABEL io.lockcheck.variant={}\n", dev.id),
    )
    .await;
    let variant_id = docker.inspect_image(&variant).await.unwrap().id.unwrap();
    cleanup.images.push(variant_id.clone());
    rt.remove_image(&variant).await.unwrap();
    assert!(!rt.has_image(&variant).await.unwrap());
    let kept = docker.inspect_image(&variant_id).await.unwrap();
    assert!(
        kept.repo_tags
            .unwrap_or_default()
            .iter()
            .any(|t| t.starts_with(&format!("{KEEPER_REPO}:"))),
        "kept under a keeper tag"
    );
    rt.fetch_image(&variant).await.unwrap();
    assert!(rt.has_image(&variant).await.unwrap());
}

#[tokio::test]
async fn a_start_error_names_app_service_and_image_and_leaves_nothing() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let rt = dev.runtime(engine).await;
    let spec = dev.spec(engine, "main", &["/no/such/program"]);
    match rt.create_and_start(&spec).await {
        Err(e @ RuntimeError::Start { .. }) => {
            let text = e.to_string();
            assert!(text.contains("main") && text.contains("app 1"), "{text}");
            assert!(text.contains(&engine.image), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        rt.list().await.unwrap().is_empty(),
        "no broken container left"
    );

    // A service that exits at once is still created and started.
    let c = rt
        .create_and_start(&dev.spec(engine, "quick", &["true"]))
        .await
        .unwrap();
    eventually("the quick service to exit", || async {
        let list = rt.list().await.unwrap();
        (list.iter().find(|x| x.id == c.id)?.status == ContainerStatus::Exited).then_some(())
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_everything_and_refuses_new_starts() {
    let dev = Device::new();
    let Some((engine, _cleanup)) = setup(&[&dev]) else {
        return;
    };
    let rt = dev.runtime(engine).await;
    let stubborn = &["sh", "-c", "trap '' TERM; sleep 1000"];
    let a = rt
        .create_and_start(&dev.spec(engine, "a", stubborn))
        .await
        .unwrap();
    rt.create_and_start(&dev.spec(engine, "b", stubborn))
        .await
        .unwrap();
    let started = Instant::now();
    rt.shutdown(Duration::from_secs(2)).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "stopped at once, not one by one: {took:?}"
    );
    let list = rt.list().await.unwrap();
    assert!(list.iter().all(|c| c.status == ContainerStatus::Exited));
    match rt.create_and_start(&dev.spec(engine, "c", POLITE)).await {
        Err(RuntimeError::Start { reason, .. }) => assert!(reason.contains("shut down")),
        other => panic!("{other:?}"),
    }
    assert!(rt.start(&a.id).await.is_err());
    assert_eq!(rt.list().await.unwrap().len(), 2);
}
