//! The `lockcheck` command line. `main` returns the exit status; `run`
//! returns a `Result`, and any error is printed once, on one line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use globset::Glob;

use crate::case::{self, Case};
use crate::cleanup::{self, Interrupt};
use crate::exit_codes;
use crate::expectations::Expectations;
use crate::report::{Format, Report};
use crate::runner::{self, RunConfig};
use crate::sut::engine::Engine;
use crate::sut::Observe;
use crate::sut::{DockerRuntime, Embedded, EmbeddedRuntime, External, Sut};

/// Update-lock conformance suite: runs every SPEC behaviour on every profile
/// against the embedded reference supervisor or an external one.
#[derive(Debug, Parser)]
#[command(name = "lockcheck", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the suite and print the matrix (cases down, profiles across).
    Run(Box<RunArgs>),
    /// List the cases and the fault catalogue.
    List,
    /// Judge a lock tool: can it share a lock path with the supervisor?
    Gate(Box<crate::gate::GateArgs>),
    /// Run a command while holding an update lock (the reference library).
    Hold(crate::gate::HoldArgs),
}

/// `lockcheck run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Profile SUPERVISOR@OS to run (repeatable); default: every version gate on both sides.
    #[arg(long = "profile", value_name = "SUP@OS")]
    profiles: Vec<String>,
    /// Only cases whose id or name matches this glob (repeatable), e.g. "L*" or "locking::*".
    #[arg(long = "case", value_name = "GLOB")]
    cases: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report here (the matrix still goes to stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// What to test: the embedded reference (default, or an external supervisor with --target-url), or `helios` (balena's Rust supervisor: a fresh one per cell from --helios-bin on --engine).
    #[arg(long, value_enum, value_name = "KIND", conflicts_with = "target_url")]
    target: Option<TargetKind>,
    /// The helios binary for --target helios.
    #[arg(long, env = "HELIOS_BIN", value_name = "PATH")]
    helios_bin: Option<PathBuf>,
    /// Test an external supervisor at this URL instead of the embedded reference.
    #[arg(long, value_name = "URL", requires = "root")]
    target_url: Option<String>,
    /// API key of the external supervisor.
    #[arg(long, value_name = "KEY", requires = "target_url")]
    api_key: Option<String>,
    /// Host root of the external supervisor (its /mnt/root).
    #[arg(long, value_name = "DIR", requires = "target_url")]
    root: Option<PathBuf>,
    /// How the embedded reference runs services: processes, or containers on the engine (`--engine`, else DOCKER_HOST, else the local socket).
    #[arg(long, value_enum, default_value_t = RuntimeArg::Process, conflicts_with = "target_url")]
    runtime: RuntimeArg,
    /// Container engine (unix:///path or tcp://host:port): the embedded reference's with --runtime docker, or the external target's (its services are observed through it and the fixture image is built on it).
    #[arg(long, value_name = "URL")]
    engine: Option<String>,
    /// Cells run at once (an external target always runs one at a time).
    #[arg(long, default_value_t = 6, value_name = "N")]
    jobs: usize,
    /// Re-enable a historical bug in the embedded reference (repeatable); see `lockcheck list`.
    #[arg(long = "fault", value_enum, value_name = "NAME")]
    faults: Vec<refsup::fault::Fault>,
    /// Where failing cells keep their evidence: each run gets DIR/<UTC time>/, each kept cell DIR/<time>/<case>-<profile>/ (target log, service logs, lock dirs).
    #[arg(
        long,
        env = "LOCKCHECK_RUNS_DIR",
        default_value = "lockcheck-runs",
        value_name = "DIR"
    )]
    runs_dir: PathBuf,
    /// Keep every cell's scratch dir, passing ones too (default: only failures and known failures).
    #[arg(long)]
    keep: bool,
    /// Known failures of this target (TOML); only other failures fail the run.
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// Seconds before a hung cell is failed.
    #[arg(long, default_value_t = 90, value_name = "SECS")]
    case_timeout: u64,
    /// Seconds a case waits for something that should happen [default: 20; 60 when the services are containers: --runtime docker, --engine, --target helios] (raise it for slow real devices).
    #[arg(long, value_name = "SECS")]
    event_timeout: Option<f64>,
    /// Seconds a case watches a target without reconcile counters before
    /// asserting that something did not happen.
    #[arg(long, default_value_t = 1.5, value_name = "SECS")]
    settle: f64,
    /// The target's timings relative to the real supervisor's: the retry backoff a locked update waits is allowed for at this scale. Default: 0.001 for the embedded reference (which is run that much faster), 1 for --target-url.
    #[arg(long, value_name = "FACTOR")]
    time_scale: Option<f64>,
    /// Also print wall time, per-case medians and U2 latencies.
    #[arg(long)]
    timings: bool,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// `lockcheck run --target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TargetKind {
    /// The embedded reference supervisor.
    Reference,
    /// balena's helios, started per cell.
    Helios,
}

/// `lockcheck run --runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeArg {
    /// Services are refsup's child processes (no daemon).
    Process,
    /// Services are containers (`refsup --runtime docker`).
    Docker,
}

/// Connect to the engine, reap what killed runs left on it, and build (or
/// find cached) the fixture image there.
fn engine_with_fixture(url: Option<&str>) -> Result<(Arc<Engine>, String)> {
    let engine = Engine::connect(url)?;
    let reaped = crate::sut::engine::reap::reap_dead_runs(&engine);
    if reaped.containers + reaped.tags > 0 {
        eprintln!(
            "lockcheck: removed what an earlier killed run left on the engine: {} containers, {} image tags",
            reaped.containers, reaped.tags
        );
    }
    let image = engine.fixture_image()?;
    Ok((engine, image))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The embedded programs: the reference supervisor and the fixture app.
    match args.get(1).and_then(|a| a.to_str()) {
        Some("refsup") => return refsup::cli::main_from(args[1..].iter().cloned()),
        Some("fixture") => {
            let code = fixture_app::run(args[1..].iter().cloned());
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
        _ => {}
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(exit_codes::OK);
        }
        Err(e) => {
            eprintln!("{}", refsup::cli::usage_error_line("lockcheck", &e));
            return ExitCode::from(exit_codes::USAGE);
        }
    };
    match cli.command {
        Command::List => {
            list();
            ExitCode::from(exit_codes::OK)
        }
        Command::Gate(args) => match crate::gate::run(*args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("lockcheck: {e:#}");
                ExitCode::from(exit_codes::USAGE)
            }
        },
        Command::Hold(args) => ExitCode::from(crate::gate::hold_cmd::run(args)),
        Command::Run(args) => match run(*args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("lockcheck: {e:#}");
                ExitCode::from(exit_codes::USAGE)
            }
        },
    }
}

fn list() {
    for case in case::all() {
        println!("{:<3} {:<40} {}", case.id, case.short_name(), case.title);
    }
    println!();
    println!("faults (lockcheck run --fault NAME):");
    for fault in <refsup::fault::Fault as clap::ValueEnum>::value_variants() {
        let help = clap::ValueEnum::to_possible_value(fault)
            .and_then(|v| v.get_help().map(|h| h.to_string()))
            .unwrap_or_default();
        println!("  {:<32} {}", fault.name(), help);
    }
}

/// Cases matching the globs (all when none), erroring on a glob matching nothing.
pub fn select_cases(globs: &[String]) -> Result<Vec<&'static Case>> {
    let all = case::all();
    if globs.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<&'static Case> = Vec::new();
    for text in globs {
        let glob = Glob::new(text)
            .with_context(|| format!("--case '{text}' is not a valid glob"))?
            .compile_matcher();
        let hits: Vec<_> = all
            .iter()
            .filter(|c| glob.is_match(c.id) || glob.is_match(c.short_name()))
            .collect();
        if hits.is_empty() {
            bail!("no case matches --case '{text}' (see lockcheck list)");
        }
        for c in hits {
            if !chosen.iter().any(|x| x.id == c.id) {
                chosen.push(c);
            }
        }
    }
    chosen.sort_by_key(|c| case::SPEC_IDS.iter().position(|id| *id == c.id));
    Ok(chosen)
}

fn run(args: RunArgs) -> Result<u8> {
    let interrupt = Arc::new(Interrupt::new());
    cleanup::handle_signals(interrupt.clone(), exit_codes::INTERRUPTED)
        .context("cannot install the SIGINT/SIGTERM handling")?;
    let cases = select_cases(&args.cases)?;
    let secs = |name: &str, v: f64| -> Result<Duration> {
        if v.is_finite() && v > 0.0 && v < 86400.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            bail!("--{name} must be a positive number of seconds, got {v}")
        }
    };
    let time_scale = match args.time_scale {
        Some(v) if !(v.is_finite() && v > 0.0 && v <= 1000.0) => {
            bail!("--time-scale must be a number above 0 and at most 1000, got {v}")
        }
        Some(v) => v,
        None if args.target_url.is_some() => 1.0,
        // helios retries a blocked update at a fixed 200 ms (set by the
        // driver), with no backoff to allow for.
        None if args.target == Some(TargetKind::Helios) => 1.0,
        None => crate::sut::EMBEDDED_TIME_SCALE,
    };
    let patience = crate::ctx::Patience {
        event: match args.event_timeout {
            Some(v) => secs("event-timeout", v)?,
            None => default_event_timeout(&args),
        },
        settle: secs("settle", args.settle)?,
        time_scale,
    };
    let mut profiles = if args.profiles.is_empty() {
        crate::profiles::defaults()
    } else {
        crate::profiles::parse_all(&args.profiles)?
    };
    profiles.dedup();
    let expectations = args
        .expectations
        .as_deref()
        .map(Expectations::load)
        .transpose()?;
    if let Some(out) = &args.out {
        // Fail before the run, not after it, and never truncate a file we cannot replace.
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(out)
            .with_context(|| format!("cannot write --out {}", out.display()))?;
    }
    let exe = std::env::current_exe().context("cannot find the lockcheck executable")?;
    let faults: Vec<String> = args.faults.iter().map(|f| f.name()).collect();
    let target: Arc<dyn Sut> = match (&args.target_url, &args.root) {
        _ if args.target == Some(TargetKind::Helios) => {
            if !faults.is_empty() {
                bail!("--fault works only with the embedded reference, not with --target helios");
            }
            if profiles.len() != 1 || args.profiles.is_empty() {
                bail!("with --target helios give exactly one --profile: the versions helios is judged as");
            }
            let bin = args
                .helios_bin
                .as_deref()
                .context("--target helios needs --helios-bin PATH (or HELIOS_BIN)")?;
            let url = args
                .engine
                .as_deref()
                .context("--target helios needs --engine URL: an engine of API 1.43 or newer (see fixtures/helios)")?;
            let (engine, fixture_image) = engine_with_fixture(Some(url))?;
            Arc::new(crate::sut::helios::Helios::new(bin, engine, fixture_image)?)
        }
        (Some(url), Some(root)) => {
            if !faults.is_empty() {
                bail!("--fault works only with the embedded reference, not with --target-url");
            }
            if profiles.len() != 1 || args.profiles.is_empty() {
                bail!("with --target-url give exactly one --profile: the versions the target claims to be");
            }
            let observe = match &args.engine {
                Some(url) => {
                    let (engine, fixture_image) = engine_with_fixture(Some(url))?;
                    Observe::Engine {
                        engine,
                        fixture_image,
                    }
                }
                None => Observe::Host { exe: exe.clone() },
            };
            Arc::new(External::connect(
                url,
                args.api_key.as_deref(),
                root,
                &profiles[0],
                observe,
            )?)
        }
        _ => {
            let runtime = match args.runtime {
                RuntimeArg::Process if args.engine.is_some() => {
                    bail!("--engine needs --runtime docker (or --target-url)")
                }
                RuntimeArg::Process => EmbeddedRuntime::Process,
                RuntimeArg::Docker => {
                    let (engine, fixture_image) = engine_with_fixture(args.engine.as_deref())?;
                    EmbeddedRuntime::Docker(Arc::new(DockerRuntime {
                        engine,
                        fixture_image,
                    }))
                }
            };
            Arc::new(Embedded {
                exe: exe.clone(),
                faults: args.faults.clone(),
                time_scale: patience.time_scale,
                runtime,
            })
        }
    };
    // Absolute: the device roots under it are handed to services and targets.
    let runs_dir = std::env::current_dir()
        .context("cannot read the current directory")?
        .join(&args.runs_dir);
    let run_dir = runs_dir.join(utc_stamp(std::time::SystemTime::now()));
    let keep_cell: Option<runner::KeepCell> = expectations.clone().map(|exp| {
        let exp = Arc::new(exp);
        Arc::new(move |id: &str, profile: &str| {
            let name = case::all()
                .into_iter()
                .find(|c| c.id == id)
                .map_or(id, |c| c.short_name());
            exp.lists(id, name, profile)
        }) as runner::KeepCell
    });
    let cfg = RunConfig {
        profiles,
        cases,
        jobs: args.jobs.max(1),
        case_timeout: Duration::from_secs(args.case_timeout.max(1)),
        exe,
        progress: !args.no_progress && std::io::stderr().is_terminal(),
        faults,
        patience,
        runs_dir: Some(run_dir.clone()),
        keep_all: args.keep,
        keep_cell,
        rerun_flags: Some(rerun_flags(&args)),
    };
    cleanup::reap_earlier_runs(Some(&runs_dir));
    let mut report = runner::run_until(target, &cfg, &interrupt);
    cleanup::end_of_run();
    // Nothing kept: no run dir left behind (and no empty parent).
    if report.cells.iter().all(|c| c.evidence.is_none()) {
        let _ = std::fs::remove_dir(&run_dir);
        let _ = std::fs::remove_dir(&runs_dir);
    }
    if let Some(exp) = &expectations {
        exp.apply(&mut report);
        for unused in exp.unused(&report) {
            eprintln!("lockcheck: {unused}");
        }
    }
    emit(&report, &args)?;
    if args.timings {
        print_timings(&report);
    }
    if let Some(signal) = interrupt.signal() {
        eprintln!(
            "lockcheck: stopped by {signal}: {} of {} cells finished; the others were killed and cleaned up",
            report.cells.len(),
            cfg.cases.len() * cfg.profiles.len()
        );
        return Ok(exit_codes::INTERRUPTED);
    }
    let summary = report.summary();
    Ok(if summary.failed > 0 {
        exit_codes::CASE_FAILED
    } else {
        exit_codes::OK
    })
}

fn emit(report: &Report, args: &RunArgs) -> Result<()> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut stdout = std::io::stdout().lock();
    match &args.out {
        Some(out) => {
            let text = report.render(args.format, false)?;
            let tmp = out.with_extension("lockcheck-tmp");
            std::fs::write(&tmp, text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, out)
                .with_context(|| format!("cannot write --out {}", out.display()))?;
            write!(stdout, "{}", report.render(Format::Human, color)?)?;
        }
        None => write!(
            stdout,
            "{}",
            report.render(args.format, color && args.format == Format::Human)?
        )?,
    }
    Ok(())
}

/// `--event-timeout` when not given: longer when the services are
/// containers.
fn default_event_timeout(args: &RunArgs) -> Duration {
    let containers = args.runtime == RuntimeArg::Docker
        || args.engine.is_some()
        || args.target == Some(TargetKind::Helios);
    if containers {
        crate::ctx::CONTAINER_EVENT_TIMEOUT
    } else {
        crate::ctx::EVENT_TIMEOUT
    }
}

/// The flags of this run that a re-run of some of its cells must repeat
/// (the API key as a variable, never its value).
fn rerun_flags(args: &RunArgs) -> String {
    let mut flags = Vec::new();
    if let (Some(url), Some(root)) = (&args.target_url, &args.root) {
        flags.push(format!("--target-url {url} --root {}", root.display()));
        if args.api_key.is_some() {
            flags.push("--api-key \"$LOCKCHECK_API_KEY\"".to_string());
        }
    }
    if args.target == Some(TargetKind::Helios) {
        let bin = args
            .helios_bin
            .as_deref()
            .unwrap_or(std::path::Path::new("?"));
        flags.push(format!("--target helios --helios-bin {}", bin.display()));
    }
    if args.runtime == RuntimeArg::Docker {
        flags.push("--runtime docker".to_string());
    }
    if let Some(engine) = &args.engine {
        flags.push(format!("--engine {engine}"));
    }
    for fault in &args.faults {
        flags.push(format!("--fault {}", fault.name()));
    }
    if let Some(scale) = args.time_scale {
        flags.push(format!("--time-scale {scale}"));
    }
    if let Some(secs) = args.event_timeout {
        flags.push(format!("--event-timeout {secs}"));
    }
    if let Some(exp) = &args.expectations {
        flags.push(format!("--expectations {}", exp.display()));
    }
    flags.join(" ")
}

/// `20261123T083900Z`: a run dir name that sorts by time.
fn utc_stamp(now: std::time::SystemTime) -> String {
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn print_timings(report: &Report) {
    println!(
        "wall time: {:.1} s for {} cells",
        report.wall_ms as f64 / 1000.0,
        report.cells.len()
    );
    for case in &report.cases {
        let mut ms: Vec<u64> = report
            .cells
            .iter()
            .filter(|c| c.case == case.id && c.duration_ms > 0)
            .map(|c| c.duration_ms)
            .collect();
        ms.sort_unstable();
        if let Some(median) = ms.get(ms.len() / 2) {
            println!(
                "  {:<3} median {:>6} ms over {} cells",
                case.id,
                median,
                ms.len()
            );
        }
    }
    let mut u2: Vec<f64> = report
        .cells
        .iter()
        .filter_map(|c| c.metrics.get("u2_latency_ms").copied())
        .collect();
    u2.sort_by(f64::total_cmp);
    if !u2.is_empty() {
        let pick = |q: f64| u2[((u2.len() - 1) as f64 * q).round() as usize];
        println!(
            "U2 latency (lock removed -> new release running) over {} cells: p50 {:.0} ms, p99 {:.0} ms",
            u2.len(),
            pick(0.5),
            pick(0.99)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(flags: &[&str]) -> RunArgs {
        let argv = ["lockcheck", "run"].iter().chain(flags);
        match Cli::try_parse_from(argv).expect("valid flags").command {
            Command::Run(args) => *args,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn containers_get_the_longer_event_timeout_unless_one_is_given() {
        let default = |flags: &[&str]| default_event_timeout(&run_args(flags)).as_secs_f64();
        assert_eq!(default(&[]), 20.0);
        assert_eq!(default(&["--runtime", "docker"]), 60.0);
        assert_eq!(
            default(&[
                "--target-url",
                "http://d:48484",
                "--root",
                "/",
                "--engine",
                "tcp://d:2375"
            ]),
            60.0
        );
        assert_eq!(
            default(&["--target-url", "http://d:48484", "--root", "/"]),
            20.0
        );
        assert_eq!(default(&["--target", "helios"]), 60.0);
        let given = run_args(&["--runtime", "docker", "--event-timeout", "5"]);
        assert_eq!(given.event_timeout, Some(5.0));
        assert!(rerun_flags(&given).contains("--event-timeout 5"));
    }
}
