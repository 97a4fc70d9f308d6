//! Real processes hammering one lock path; see `lockcheck_fuzz::stress`.
//!
//! `stress --method touch|flock|steal-stale|exclusive|mkdir|symlink [--procs 8] [--secs 5]
//! [--no-supervisor] [--hold-us 200] [--stale-ms 1]`
//!
//! Exit status: 0 the kernel showed what the model predicts, 1 it did not
//! (a safe method had two holders, or an unsafe one never did in the time
//! given), 2 bad usage or a failed run.

use std::process::ExitCode;
use std::time::Duration;

use lockcheck_fuzz::lock_race::Method;
use lockcheck_fuzz::stress::{job_from_args, run, work, Options};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        return match job_from_args(&args[1..]).and_then(|job| work(&job)) {
            Ok(entered) => {
                println!("{entered}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        };
    }
    match parse(&args).and_then(|opts| {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        run(&exe, &opts).map(|r| (opts, r))
    }) {
        Err(e) => {
            eprintln!("stress: {e}");
            ExitCode::from(2)
        }
        Ok((opts, report)) => {
            let c = &report.count;
            println!(
                "{}: {} processes{} for {:?}: {} critical sections, at most {} holders at once, {} entered while another held ({} with the supervisor)",
                opts.method.name(),
                opts.procs,
                if opts.supervisor { " + supervisor" } else { "" },
                opts.duration,
                c.entries,
                c.max_holders,
                c.overlapping,
                c.with_supervisor
            );
            println!(
                "model (explorer): {}; kernel: {}",
                if report.model_unsafe {
                    "unsafe"
                } else {
                    "safe"
                },
                if report.agrees() {
                    "agrees"
                } else {
                    "DISAGREES"
                }
            );
            if report.agrees() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut method = None;
    let mut opts = Options::new(Method::Exclusive);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value"))
                .cloned()
        };
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v:?}: {e}"));
        match flag.as_str() {
            "--method" => {
                let name = value()?;
                method = Some(Method::from_name(&name).ok_or_else(|| {
                    format!(
                        "--method {name:?}: one of {}",
                        Method::ALL.map(Method::name).join(", ")
                    )
                })?);
            }
            "--procs" => opts.procs = num(value()?)? as usize,
            "--secs" => opts.duration = Duration::from_secs(num(value()?)?),
            "--hold-us" => opts.hold = Duration::from_micros(num(value()?)?),
            "--stale-ms" => opts.stale = Duration::from_millis(num(value()?)?),
            "--no-supervisor" => opts.supervisor = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    opts.method = method.ok_or("--method is required")?;
    if opts.procs == 0 {
        return Err("--procs must be at least 1".into());
    }
    Ok(opts)
}
