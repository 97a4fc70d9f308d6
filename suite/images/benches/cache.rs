//! What the image cache saves: a cold build of the fixture image (under a
//! throwaway tag, the engine's layer cache bypassed, removed afterwards)
//! against a warm ask for it, with one engine ping as the baseline.
//!
//! `cargo bench -p lockcheck-images --bench cache` (needs the engine).

use std::future::Future;
use std::time::{Duration, Instant};

use lockcheck_images::{fixture_recipe, Images, StaticBin};

/// Warm asks and pings timed; the median is reported.
const ROUNDS: usize = 10;

async fn timed<T>(fut: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<(T, Duration)> {
    let started = Instant::now();
    let value = fut.await?;
    Ok((value, started.elapsed()))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn row(what: &str, took: Duration) {
    println!("{what:<52} {:>10.1} ms", took.as_secs_f64() * 1e3);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let images = match Images::connect(None).await {
        Ok(images) => images,
        Err(e) => {
            println!("skipped: no container engine ({e:#})");
            return Ok(());
        }
    };
    let mut pings = Vec::new();
    for _ in 0..ROUNDS {
        pings.push(timed(async { Ok(images.docker().ping().await?) }).await?.1);
    }
    row("engine ping (median)", median(pings));

    let (_, took) = timed(StaticBin::FixtureApp.get()).await?;
    row("static fixture-app, first ask in a process (cargo)", took);
    let (recipe, took) = timed(fixture_recipe()).await?;
    row("fixture context: assemble + hash", took);

    let (tag, took) = timed(images.ensure(&recipe)).await?;
    let hit = images.builds() == 0;
    row(
        &format!(
            "first ensure ({})",
            if hit { "was cached" } else { "built" }
        ),
        took,
    );

    let mut warm = Vec::new();
    for _ in 0..ROUNDS {
        let fresh = Images::connect(None).await?;
        warm.push(timed(fresh.fixture()).await?.1);
        assert_eq!(fresh.builds(), 0, "a warm ask built");
    }
    row(
        "warm fixture() on a fresh connection (median)",
        median(warm),
    );
    let mut lookups = Vec::new();
    for _ in 0..ROUNDS {
        lookups.push(timed(images.ensure(&recipe)).await?.1);
    }
    row(
        "warm ensure() of an assembled recipe (median)",
        median(lookups),
    );

    let cold = recipe.renamed(&format!("bench-cold-{}", std::process::id()));
    let result = timed(images.build(&cold, true)).await;
    images.remove_tag(&cold.tag()).await?;
    let (_, took) = result?;
    row("cold build (no layer cache, throwaway tag)", took);
    println!("image: {tag}");
    Ok(())
}
