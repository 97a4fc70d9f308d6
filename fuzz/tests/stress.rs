//! Real processes: the `stress` binary for one second each, counted by the
//! witness log. Exclusive create never shows two holders (a certainty the
//! kernel guarantees); touch shows several (every touch "succeeds", so with
//! four processes it is all but certain in one second).

use std::path::Path;
use std::time::Duration;

use lockcheck_fuzz::lock_race::Method;
use lockcheck_fuzz::stress::witness::count;
use lockcheck_fuzz::stress::{run, Options};

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_stress"))
}

fn short(method: Method) -> Options {
    let mut opts = Options::new(method);
    opts.procs = 4;
    opts.duration = Duration::from_secs(1);
    opts
}

#[test]
fn exclusive_create_never_has_two_holders() {
    let report = run(exe(), &short(Method::Exclusive)).unwrap();
    assert!(report.count.entries > 0, "{report:?}");
    assert_eq!(report.count.max_holders, 1, "{report:?}");
    assert!(!report.model_unsafe);
    assert!(report.agrees());
    // The processes' own counts (4 apps and the supervisor) add up to what
    // the witness saw.
    assert_eq!(report.entered.len(), 5);
    assert_eq!(report.entered.iter().sum::<u64>(), report.count.entries);
}

#[test]
fn touch_has_several_holders() {
    let report = run(exe(), &short(Method::Touch)).unwrap();
    assert!(report.count.max_holders > 1, "{report:?}");
    assert!(report.model_unsafe);
    assert!(report.agrees());
}

#[test]
fn witness_counts_overlaps_from_the_log_order() {
    let c = count("E 0\nE sup\nL 0\nE 1\nL 1\nL sup\nE 0\nL 0\n").unwrap();
    assert_eq!(c.entries, 4);
    assert_eq!(c.max_holders, 2);
    assert_eq!(c.overlapping, 2);
    assert_eq!(c.with_supervisor, 2);
    assert!(count("L 0\n").is_err());
    assert!(count("E 0\nE 0\n").is_err());
    assert!(count("X\n").is_err());
}
