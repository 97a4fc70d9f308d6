//! Timings of the suite on the process runtime, in one run: wall time of the
//! full default matrix with per-case medians (budget 60 s), and the U2
//! latency from lock removal to the new release running over 100 releases
//! (budget p99 2 s). `cargo bench -p lockcheck --bench matrix`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockcheck::case;
use lockcheck::ctx::Ctx;
use lockcheck::runner::{self, RunConfig};
use lockcheck::sut::{DeviceOpts, Embedded, Sut};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lockcheck"))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "within"
    } else {
        "OVER"
    }
}

fn matrix() {
    let cfg = RunConfig {
        profiles: lockcheck::profiles::defaults(),
        cases: case::all(),
        jobs: 6,
        case_timeout: Duration::from_secs(90),
        exe: exe(),
        progress: false,
        faults: vec![],
        patience: lockcheck::ctx::Patience {
            time_scale: lockcheck::sut::EMBEDDED_TIME_SCALE,
            ..Default::default()
        },
        runs_dir: None,
        keep_all: false,
        keep_cell: None,
        rerun_flags: None,
    };
    let report = runner::run(
        Arc::new(Embedded {
            exe: exe(),
            faults: vec![],
            time_scale: lockcheck::sut::EMBEDDED_TIME_SCALE,
            runtime: Default::default(),
        }),
        &cfg,
    );
    let wall = report.wall_ms as f64 / 1000.0;
    println!(
        "full default matrix: {} cells in {wall:.1} s (budget 60 s: {})",
        report.cells.len(),
        verdict(wall < 60.0)
    );
    println!("  {}", report.summary());
    for c in &report.cases {
        let mut ms: Vec<u64> = report
            .cells
            .iter()
            .filter(|x| x.case == c.id && x.duration_ms > 0)
            .map(|x| x.duration_ms)
            .collect();
        ms.sort_unstable();
        if let Some(m) = ms.get(ms.len() / 2) {
            println!("  {:<3} median {m:>5} ms", c.id);
        }
    }
}

fn u2_latency(releases: usize) -> anyhow::Result<()> {
    let profile: lockgates::Profile = "17.3.5@5.1.0".parse()?;
    let work = tempfile::tempdir()?;
    let target = Embedded {
        exe: exe(),
        faults: vec![],
        time_scale: lockcheck::sut::EMBEDDED_TIME_SCALE,
        runtime: Default::default(),
    };
    let opts = DeviceOpts::default();
    let device = target.device(&profile, work.path(), &opts)?;
    let mut ctx = Ctx::new(profile, device, work.path().to_path_buf(), &opts);
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    let mut ms = Vec::with_capacity(releases);
    for _ in 0..releases {
        ctx.user_lock(&lock)?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_pending()?;
        let t = Instant::now();
        ctx.release_lock(&lock)?;
        ctx.wait_applied()?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "U2 latency over {releases} releases: p50 {:.0} ms, p99 {:.0} ms (budget p99 2000 ms: {}); the suite polls every 15 ms, so that is its resolution",
        pick(0.5),
        pick(0.99),
        verdict(pick(0.99) < 2000.0)
    );
    Ok(())
}

fn main() {
    matrix();
    if let Err(e) = u2_latency(100) {
        eprintln!("U2 latency bench failed: {e:#}");
        std::process::exit(1);
    }
}
