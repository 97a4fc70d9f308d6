//! Timings of the Docker side, in one run: the fixture image cache hit
//! (budget 5 s), one container's life (create + start + exec + stop +
//! remove) on refsup's network mode and on a network namespace of its own,
//! against the baseline of spawning the same program as a process,
//! and the full default matrix on `--runtime docker` warm (budget 5 min)
//! next to the process runtime's. `cargo bench -p lockcheck --bench
//! containers` (needs an engine; `LOCKCHECK_BENCH_MATRIX=0` skips the
//! matrices).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use lockcheck::report::human::failures_text;
use lockcheck::report::Report;
use lockcheck::sut::engine::exec::exec;
use lockcheck::sut::engine::Engine;
use refsup::runtime::docker::NETWORK_MODE;

const LIVES: u32 = 10;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn container_life(engine: &Engine, image: &str, network_mode: &str) -> Duration {
    let t = Instant::now();
    engine.block_on(async {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["/bin/sleep".into(), "1000".into()]),
            labels: Some(HashMap::from([(
                "io.lockcheck.role".into(),
                "bench".into(),
            )])),
            host_config: Some(HostConfig {
                network_mode: Some(network_mode.into()),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        };
        let id = engine
            .docker()
            .create_container(Some(CreateContainerOptionsBuilder::default().build()), body)
            .await
            .expect("create")
            .id;
        engine
            .docker()
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .expect("start");
        let out = exec(
            engine,
            &id,
            None,
            &["/usr/local/bin/fixture-app", "--version"],
        )
        .await
        .expect("exec");
        assert_eq!(out.code, 0);
        engine
            .docker()
            .stop_container(
                &id,
                Some(StopContainerOptionsBuilder::default().t(0).build()),
            )
            .await
            .expect("stop");
        engine
            .docker()
            .remove_container(
                &id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
            .expect("remove");
    });
    t.elapsed()
}

fn process_life(exe: &PathBuf) -> Duration {
    let t = Instant::now();
    let status = Command::new(exe)
        .args(["fixture", "--version"])
        .status()
        .expect("spawn");
    assert!(status.success());
    t.elapsed()
}

fn matrix(runtime: &str) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lockcheck"))
        .args([
            "run",
            "--runtime",
            runtime,
            "--no-progress",
            "--format",
            "json",
        ])
        .output()
        .expect("lockcheck run");
    let took = t.elapsed();
    if !out.status.success() {
        // The failing cells, not the whole JSON report.
        let failing = serde_json::from_slice::<Report>(&out.stdout)
            .map(|r| failures_text(&r))
            .unwrap_or_else(|e| format!("no JSON report: {e}"));
        panic!(
            "--runtime {runtime} failed:\n{failing}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    took
}

fn main() {
    let engine = match Engine::connect(None) {
        Ok(e) => e,
        Err(e) => {
            println!("skipped: no container engine ({e:#})");
            return;
        }
    };
    let t = Instant::now();
    let image = engine.fixture_image().expect("fixture image");
    let first = t.elapsed();
    let t = Instant::now();
    let again = engine.fixture_image().expect("fixture image");
    let hit = t.elapsed();
    assert_eq!(image, again);
    println!(
        "fixture image: first call {:.1} s (a build if the cache was cold), cache hit {:.2} s (budget 5 s: {})",
        first.as_secs_f64(),
        hit.as_secs_f64(),
        if hit < Duration::from_secs(5) { "within" } else { "OVER" }
    );
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_lockcheck"));
    let lives = |mode: &str| {
        median(
            (0..LIVES)
                .map(|_| container_life(&engine, &image, mode))
                .collect(),
        )
    };
    let (containers, own_netns) = (lives(NETWORK_MODE), lives("none"));
    let processes = median((0..LIVES).map(|_| process_life(&exe)).collect());
    println!(
        "one container's life (create+start+exec+stop+remove), network {NETWORK_MODE} as refsup runs services: median {:.0} ms; one process (spawn+wait) {:.1} ms; ratio {:.0}x",
        containers.as_secs_f64() * 1000.0,
        processes.as_secs_f64() * 1000.0,
        containers.as_secs_f64() / processes.as_secs_f64()
    );
    println!(
        "the same with a network namespace of its own (network none): median {:.0} ms, {:.2}x refsup's",
        own_netns.as_secs_f64() * 1000.0,
        own_netns.as_secs_f64() / containers.as_secs_f64()
    );
    if std::env::var("LOCKCHECK_BENCH_MATRIX").as_deref() == Ok("0") {
        return;
    }
    let docker = matrix("docker");
    let process = matrix("process");
    println!(
        "full default matrix: docker runtime {:.0} s (budget 300 s: {}), process runtime {:.0} s, ratio {:.1}x",
        docker.as_secs_f64(),
        if docker < Duration::from_secs(300) { "within" } else { "OVER" },
        process.as_secs_f64(),
        docker.as_secs_f64() / process.as_secs_f64()
    );
}
