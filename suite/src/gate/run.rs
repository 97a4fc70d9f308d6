//! `lockcheck gate`: pick the tools, probe each (several at once), decide
//! the verdicts from the rows, and print the report.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use lockgates::Profile;

use super::installed::{self, Installed};
use super::probe::{ProbeResult, Status};
use super::probes::{self, Probe, Settings, Unrunnable};
use super::report::{Format, GateReport, ToolReport};
use super::tool::{Shape, Tool};
use super::{profiles, verdict};
use crate::exit_codes;

/// The probes' names, for rows of a tool that cannot be probed.
const PROBES: [&str; 6] = [
    "path",
    "existing-lock",
    "race",
    "release",
    "stealing",
    "live",
];

/// `lockcheck gate` flags.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// A built-in tool to judge (repeatable); see --list.
    #[arg(long = "tool", value_name = "NAME")]
    tools: Vec<String>,
    /// Judge every built-in tool and print the compatibility table.
    #[arg(long, conflicts_with_all = ["tools", "acquire", "release", "hold"])]
    all: bool,
    /// Command that takes the lock at {path}: exit 0 = taken, else refused.
    #[arg(
        long,
        value_name = "TEMPLATE",
        requires = "release",
        conflicts_with = "hold"
    )]
    acquire: Option<String>,
    /// Command that gives the lock at {path} back.
    #[arg(long, value_name = "TEMPLATE", requires = "acquire")]
    release: Option<String>,
    /// Command that holds the lock at {path} while it runs {critical}, e.g. 'flock {path} {critical}'.
    #[arg(long, value_name = "TEMPLATE")]
    hold: Option<String>,
    /// Name shown for the tool given by --acquire/--release or --hold.
    #[arg(long, default_value = "custom", value_name = "NAME")]
    name: String,
    /// List the built-in tools and their templates, then exit.
    #[arg(long)]
    list: bool,
    /// Supervisor profile SUPERVISOR@OS: who owns its locks, and what the live check runs.
    #[arg(long, default_value = "17.3.5@5.1.0", value_name = "SUP@OS")]
    profile: String,
    /// Copies racing in each round of the race probe.
    #[arg(long, default_value_t = 8, value_name = "N")]
    copies: usize,
    /// Rounds of the race probe.
    #[arg(long, default_value_t = 10, value_name = "N")]
    rounds: usize,
    /// Seconds a tool may take to take a free lock or release it before the
    /// probe says "could not run: timed out".
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    timeout: f64,
    /// Seconds a tool facing a held lock is watched before it counts as waiting.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    watch: f64,
    /// Skip the live check against refsup.
    #[arg(long)]
    no_live: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report here (the human report still goes to stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Tools probed at once.
    #[arg(long, default_value_t = 2, value_name = "N")]
    jobs: usize,
}

/// Run `lockcheck gate`; the exit status: 0 every tool compatible, 1 some
/// tool is not, 2 bad usage or a tool that could not be judged.
pub fn run(args: GateArgs) -> Result<u8> {
    if args.list {
        list();
        return Ok(exit_codes::OK);
    }
    let tools = select(&args)?;
    let settings = settings(&args)?;
    if let Some(out) = &args.out {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(out)
            .with_context(|| format!("cannot write --out {}", out.display()))?;
    }
    let start = Instant::now();
    let reports = judge_all(&tools, &settings, args.jobs.max(1));
    let report = GateReport {
        profile: settings.profile.to_string(),
        copies: settings.copies,
        rounds: settings.rounds,
        tools: reports,
        wall_ms: millis(start.elapsed()),
    };
    emit(&report, &args)?;
    let unjudged: Vec<String> = report
        .tools
        .iter()
        .filter(|t| {
            matches!(
                t.verdict,
                verdict::Verdict::NotInstalled | verdict::Verdict::CouldNotRun
            )
        })
        .map(|t| {
            format!(
                "{} ({})",
                t.name,
                t.reasons.first().cloned().unwrap_or_default()
            )
        })
        .collect();
    if !unjudged.is_empty() {
        eprintln!("lockcheck: gate could not judge {}", unjudged.join("; "));
        return Ok(exit_codes::USAGE);
    }
    let all_ok = report
        .tools
        .iter()
        .all(|t| t.verdict == verdict::Verdict::Compatible);
    Ok(if all_ok {
        exit_codes::OK
    } else {
        exit_codes::INCOMPATIBLE
    })
}

/// Judge one tool: install check, probes, verdict.
pub fn judge(tool: &Tool, settings: &Settings) -> ToolReport {
    let start = Instant::now();
    let mut version = None;
    let mut rows: Vec<ProbeResult> = match &tool.package {
        Some(package) => match installed::check(package) {
            Installed::Yes(v) => {
                version = Some(v);
                Vec::new()
            }
            Installed::No(reason) => {
                let why = Unrunnable {
                    status: Status::NotInstalled,
                    reason,
                };
                PROBES.iter().map(|p| why.row(p)).collect()
            }
            Installed::Unknown => Vec::new(),
        },
        None if tool.name == "reference" => {
            version = Some(format!("lockcheck {}", env!("CARGO_PKG_VERSION")));
            Vec::new()
        }
        None => Vec::new(),
    };
    if rows.is_empty() {
        rows = probes::run_all(&Probe { tool, settings });
    }
    let (verdict, reasons) = verdict::decide(&rows);
    ToolReport {
        name: tool.name.clone(),
        title: tool.title.clone(),
        package: tool.package.clone(),
        version,
        templates: tool.describe(),
        notes: tool.notes.clone(),
        verdict,
        reasons,
        probes: rows,
        duration_ms: millis(start.elapsed()),
    }
}

/// Judge every tool, `jobs` at a time, keeping their order.
fn judge_all(tools: &[Tool], settings: &Settings, jobs: usize) -> Vec<ToolReport> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<ToolReport>>> = Mutex::new(vec![None; tools.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(tools.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(tool) = tools.get(i) else { break };
                let report = judge(tool, settings);
                done.lock().expect("no panics while holding it")[i] = Some(report);
            });
        }
    });
    done.into_inner()
        .expect("no panics while holding it")
        .into_iter()
        .flatten()
        .collect()
}

/// The tools the flags ask for.
fn select(args: &GateArgs) -> Result<Vec<Tool>> {
    if args.all {
        return Ok(profiles::all());
    }
    let mut tools = Vec::new();
    for name in &args.tools {
        let tool = profiles::find(name)?;
        if !tools.contains(&tool) {
            tools.push(tool);
        }
    }
    if args.acquire.is_some() || args.release.is_some() || args.hold.is_some() {
        let shape = Shape::from_templates(
            "custom",
            args.acquire.as_deref(),
            args.release.as_deref(),
            args.hold.as_deref(),
        )?;
        tools.push(Tool {
            name: args.name.clone(),
            title: "a tool given by templates".into(),
            package: None,
            shape,
            notes: None,
        });
    }
    if tools.is_empty() {
        bail!("say which tool: --tool NAME, --all, --acquire T --release T, or --hold T (see lockcheck gate --list)");
    }
    Ok(tools)
}

/// The probe settings from the flags.
fn settings(args: &GateArgs) -> Result<Settings> {
    let profile: Profile = args
        .profile
        .parse()
        .map_err(|e| anyhow::anyhow!("--profile: {e}"))?;
    let secs = |name: &str, v: f64| -> Result<Duration> {
        if v.is_finite() && v > 0.0 && v < 3600.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            bail!("--{name} must be a positive number of seconds below 3600, got {v}")
        }
    };
    if !(2..=64).contains(&args.copies) {
        bail!("--copies must be 2 to 64, got {}", args.copies);
    }
    if !(1..=1000).contains(&args.rounds) {
        bail!("--rounds must be 1 to 1000, got {}", args.rounds);
    }
    Ok(Settings {
        copies: args.copies,
        rounds: args.rounds,
        timeout: secs("timeout", args.timeout)?,
        watch: secs("watch", args.watch)?,
        pulse: Duration::from_millis(50),
        profile,
        lockcheck: std::env::current_exe().context("cannot find the lockcheck executable")?,
        live: !args.no_live,
    })
}

fn list() {
    let mut out = std::io::stdout().lock();
    for tool in profiles::all() {
        let package = tool.package.as_deref().unwrap_or("built in");
        // A closed pipe (`| head`) ends the listing, quietly.
        let shown = writeln!(out, "{:<16} {:<48} {package}", tool.name, tool.title)
            .and_then(|()| writeln!(out, "{:<16} {}", "", tool.describe()));
        if shown.is_err() {
            return;
        }
    }
}

fn emit(report: &GateReport, args: &GateArgs) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Some(out) = &args.out {
        let text = report.render(args.format, args.all)?;
        let tmp = out.with_extension("lockcheck-tmp");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, out)
            .with_context(|| format!("cannot write --out {}", out.display()))?;
        write!(stdout, "{}", report.render(Format::Human, args.all)?)?;
    } else {
        write!(stdout, "{}", report.render(args.format, args.all)?)?;
    }
    Ok(())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
