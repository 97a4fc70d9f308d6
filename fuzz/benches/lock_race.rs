//! How many `lock_race` inputs a second one core runs, without a fuzzer or
//! sanitizer, through the same `run` the target calls: the committed corpus,
//! and 1,000 pseudo-random scenarios of the longest kind ([`MAX_OPS`] ops).
//! Prints inputs/s and ops/s; the fuzzer's own rate (with ASan and coverage)
//! is in the README.
//!
//! `cargo bench --manifest-path fuzz/Cargo.toml --bench lock_race`

use std::time::Instant;

use arbitrary::{Arbitrary, Unstructured};
use lockcheck_fuzz::lock_race::{MAX_OPS, PROFILES};
use lockcheck_fuzz::{run, run_one, scenario_from_bytes, Op, Scenario};

/// This process' user + system CPU time, in seconds (from /proc), so a
/// rate is per CPU-second and does not drop when other jobs share the core.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields 14 and 15 (utime, stime) in clock ticks, after the `(comm)`.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split(' ')
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn rate(name: &str, inputs: &[Scenario]) {
    let start = Instant::now();
    let cpu = cpu_secs();
    for s in inputs {
        if let Err(e) = run_one(s) {
            panic!("{e}\nreproducer: {s:?}");
        }
    }
    let cpu = cpu_secs() - cpu;
    println!(
        "lock_race {name}, one profile per input (the fuzz target): {:.0} inputs/s wall, {:.0} inputs per CPU-second",
        inputs.len() as f64 / start.elapsed().as_secs_f64(),
        inputs.len() as f64 / cpu
    );
    // Warm up the fixtures.
    for s in inputs.iter().take(10) {
        let _ = run(s);
    }
    let ops: usize = inputs.iter().map(|s| s.ops.len().min(MAX_OPS)).sum();
    let start = Instant::now();
    for s in inputs {
        if let Err(e) = run(s) {
            panic!("{e}\nreproducer: {s:?}");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "lock_race {name}, every profile: {} inputs, {:.1} ops each (x{} profiles): {:.0} inputs/s, {:.0} ops/s",
        inputs.len(),
        ops as f64 / inputs.len() as f64,
        PROFILES.len(),
        inputs.len() as f64 / secs,
        (ops * PROFILES.len()) as f64 / secs
    );
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/lock_race");
    let corpus: Vec<Scenario> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| scenario_from_bytes(&std::fs::read(e.unwrap().path()).unwrap()))
        .collect();
    let corpus: Vec<Scenario> = corpus
        .iter()
        .cycle()
        .take(20 * corpus.len())
        .cloned()
        .collect();
    rate("corpus", &corpus);

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let bytes: Vec<u8> = (0..1000 * MAX_OPS * 8)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let mut u = Unstructured::new(&bytes);
    let long: Vec<Scenario> = (0..1000)
        .map(|_| Scenario {
            services: u8::arbitrary(&mut u).unwrap(),
            ops: (0..MAX_OPS)
                .map(|_| Op::arbitrary(&mut u).unwrap())
                .collect(),
        })
        .collect();
    rate("longest", &long);
}
