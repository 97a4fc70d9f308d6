//! The images against the real engine: they build, a second ask is a cache
//! hit, and the tools in them run. Without a reachable engine every test
//! passes after printing "skipped: no container engine" once.

mod container;

use std::io::Write;
use std::sync::Once;
use std::time::{Duration, Instant};

use container::{run, run_ok};
use lockcheck_images::{Context, Images, Recipe};

/// A connection, or `None` (and the skip notice, once) without an engine.
async fn images() -> Option<Images> {
    static SKIP_NOTICE: Once = Once::new();
    match Images::connect(None).await {
        Ok(images) => Some(images),
        Err(e) => {
            // Straight to stderr: the test harness captures `eprintln!`.
            SKIP_NOTICE.call_once(|| {
                let line = format!("skipped: no container engine ({e:#})\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
            });
            None
        }
    }
}

/// The image's id and creation time on the engine.
async fn identity(images: &Images, tag: &str) -> (String, String) {
    let inspect = images.docker().inspect_image(tag).await.unwrap();
    (
        inspect.id.unwrap_or_default(),
        // Debug form: the field is a String or a time value depending on
        // the bollard features the workspace unifies (testcontainers turns
        // on `time`).
        format!("{:?}", inspect.created),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_builds_and_a_second_ask_is_a_cache_hit() {
    let Some(first) = images().await else { return };
    let tag = first.fixture().await.unwrap();
    assert!(tag.starts_with("lockcheck-fixture:"), "{tag}");
    let before = identity(&first, &tag).await;
    let inspect = first.docker().inspect_image(&tag).await.unwrap();
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels
            .get(lockcheck_images::IMAGE_LABEL)
            .map(String::as_str),
        Some("fixture")
    );

    let second = images().await.unwrap();
    let started = Instant::now();
    let again = second.fixture().await.unwrap();
    let took = started.elapsed();
    eprintln!("cache hit for {tag} in {took:?}");
    assert_eq!(again, tag);
    assert_eq!(second.builds(), 0, "the second ask built");
    assert_eq!(identity(&second, &tag).await, before, "the image changed");
    assert!(took < Duration::from_secs(5), "cache hit took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_app_runs() {
    let Some(images) = images().await else { return };
    let tag = images.fixture().await.unwrap();
    let out = run_ok(
        &images,
        &tag,
        None,
        &["/usr/local/bin/fixture-app", "--help"],
    )
    .await
    .unwrap();
    assert!(out.to_lowercase().contains("usage"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procmail_lockfile_creates_its_lock() {
    let Some(images) = images().await else { return };
    let tag = images.fixture().await.unwrap();
    let script = "lockfile -1 -r0 /tmp/x && test -f /tmp/x && command -v lockfile";
    let out = run_ok(&images, &tag, None, &["sh", "-c", script])
        .await
        .unwrap();
    assert_eq!(out.trim(), "/usr/bin/lockfile");
    // A second lockfile on the held lock fails at once (-r0: no retries).
    let script = "lockfile -r0 /tmp/x; lockfile -1 -r0 /tmp/x";
    let ran = run(&images, &tag, None, &["sh", "-c", script])
        .await
        .unwrap();
    assert_ne!(ran.code, 0, "{}", ran.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn util_linux_flock_runs_a_command() {
    let Some(images) = images().await else { return };
    let tag = images.fixture().await.unwrap();
    run_ok(&images, &tag, None, &["flock", "/tmp/y", "true"])
        .await
        .unwrap();
    let out = run_ok(
        &images,
        &tag,
        None,
        &["sh", "-c", "command -v flock; flock --version"],
    )
    .await
    .unwrap();
    assert!(out.starts_with("/usr/bin/flock\n"), "{out}");
    assert!(out.contains("util-linux"), "not the real flock: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_lock_tools_run_when_the_host_has_them() {
    let Some(images) = images().await else { return };
    let tag = images.fixture().await.unwrap();
    if std::path::Path::new("/usr/bin/lockfile-create").is_file() {
        let script = "lockfile-create /tmp/z && test -f /tmp/z.lock && lockfile-remove /tmp/z";
        run_ok(&images, &tag, None, &["sh", "-c", script])
            .await
            .unwrap();
    }
    if std::path::Path::new("/usr/bin/dotlockfile").is_file() {
        let script = "dotlockfile -l /tmp/d.lock && test -f /tmp/d.lock";
        run_ok(&images, &tag, None, &["sh", "-c", script])
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_runs_busybox_with_a_writable_tmp() {
    let Some(images) = images().await else { return };
    let tag = images.fixture().await.unwrap();
    let script = "id -u; touch /tmp/mine && echo ok";
    let out = run_ok(
        &images,
        &tag,
        Some("65534"),
        &["busybox", "sh", "-c", script],
    )
    .await
    .unwrap();
    assert_eq!(out, "65534\nok\n");
    let out = run_ok(&images, &tag, Some("nobody"), &["id", "-un"])
        .await
        .unwrap();
    assert_eq!(out.trim(), "nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refsup_image_runs_refsup() {
    let Some(images) = images().await else { return };
    let tag = images.refsup().await.unwrap();
    assert!(tag.starts_with("lockcheck-refsup:"), "{tag}");
    let out = run_ok(&images, &tag, None, &["--help"]).await.unwrap();
    assert!(out.to_lowercase().contains("usage"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_tags_come_and_go_without_touching_the_cache() {
    let Some(images) = images().await else { return };
    let tag = images.fixture().await.unwrap();
    let prefix = format!("lockcheck-images-test-{}-", std::process::id());
    let run_tag = format!("{prefix}0:fixture");
    images.tag_for(&tag, &run_tag).await.unwrap();
    assert_eq!(
        identity(&images, &run_tag).await,
        identity(&images, &tag).await
    );
    let removed = images.remove_tags_with_prefix(&prefix).await.unwrap();
    assert_eq!(removed, std::slice::from_ref(&run_tag));
    assert!(!images.remove_tag(&run_tag).await.unwrap(), "removed twice");
    // The cache tag survives even a prefix that matches it.
    assert!(images
        .remove_tags_with_prefix("lockcheck-fixture")
        .await
        .unwrap()
        .is_empty());
    images.docker().inspect_image(&tag).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_build_names_the_image_and_its_log() {
    let Some(images) = images().await else { return };
    let ctx =
        Context::new("FROM scratch\nCOPY rootfs/ /\nRUN [\"/bin/no-such-program\"]\n").unwrap();
    ctx.write("/etc/hostname", b"broken\n", 0o644).unwrap();
    let name = format!("images-test-broken-{}", std::process::id());
    let recipe = Recipe::new(&name, &ctx).unwrap();
    let err = images.ensure(&recipe).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("building image {} failed: ", recipe.tag())),
        "{err}"
    );
    assert!(
        err.contains(": RUN [\"/bin/no-such-program\"]"),
        "no build log in: {err}"
    );
    assert_eq!(images.builds(), 1);
    assert!(images.docker().inspect_image(&recipe.tag()).await.is_err());
    // The COPY step finished as an image of its own: removed with the
    // failure, not left dangling on the engine.
    let step = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("---> ").filter(|id| id.len() == 12))
        .unwrap_or_else(|| panic!("no step image in: {err}"));
    assert!(
        images.docker().inspect_image(step).await.is_err(),
        "the step image {step} stayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_one_clear_error() {
    let err = Images::connect(Some("unix:///nonexistent/docker.sock"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("no container engine at unix:///nonexistent/docker.sock: "),
        "{message}"
    );
    assert!(!lockcheck_images::engine_available(Some("unix:///nonexistent/docker.sock")).await);
}

/// A new build of an image removes its older cache tags (the sources
/// changed), but not one a container still uses, and never another name's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_build_prunes_the_older_ones_not_in_use() {
    let Some(images) = images().await else { return };
    let name = |n: &str| format!("images-test-prune-{n}-{}", std::process::id());
    let recipe = |name: &str, version: &str| {
        let ctx = Context::new("FROM scratch\nCOPY rootfs/ /\n").unwrap();
        ctx.write("/etc/version", version.as_bytes(), 0o644)
            .unwrap();
        Recipe::new(name, &ctx).unwrap()
    };
    let (v1, other) = (recipe(&name("a"), "1"), recipe(&name("b"), "1"));
    images.ensure(&v1).await.unwrap();
    images.ensure(&other).await.unwrap();
    // v2 replaces v1.
    let v2 = recipe(&name("a"), "2");
    images.ensure(&v2).await.unwrap();
    assert!(
        images.docker().inspect_image(&v1.tag()).await.is_err(),
        "v1 stayed"
    );
    assert!(
        images.docker().inspect_image(&other.tag()).await.is_ok(),
        "another name went"
    );
    // A container made from v2 keeps it through the build of v3.
    let body = bollard::models::ContainerCreateBody {
        image: Some(v2.tag()),
        cmd: Some(vec!["/none".into()]),
        ..Default::default()
    };
    let user = images.docker().create_container(None, body).await.unwrap();
    let v3 = recipe(&name("a"), "3");
    images.ensure(&v3).await.unwrap();
    assert!(
        images.docker().inspect_image(&v2.tag()).await.is_ok(),
        "an image in use went"
    );
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    images
        .docker()
        .remove_container(&user.id, Some(remove))
        .await
        .unwrap();
    for tag in [v2.tag(), v3.tag(), other.tag()] {
        let _ = images.remove_tag(&tag).await;
    }
}
