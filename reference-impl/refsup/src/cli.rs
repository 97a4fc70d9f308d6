//! The `refsup` command line: parse, check the environment, run. Every error
//! a user can cause is one line on stderr and a non-zero exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use lockgates::Profile;
use semver::Version;

use crate::engine::{Engine, EngineConfig};
use crate::fault::{Fault, Faults};
use crate::layout::Layout;
use crate::runtime::docker::{ConnectError, DockerConfig, DockerRuntime};
use crate::runtime::process::ProcessRuntime;
use crate::runtime::Runtime;

/// Exit status: the supervisor ran and stopped normally.
pub const EXIT_OK: u8 = 0;
/// Exit status: it failed while running.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: bad flags or an unusable environment (root, port, profile).
pub const EXIT_USAGE: u8 = 2;

/// Which runtime runs the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// Services are child processes; no daemon needed.
    Process,
    /// Services are containers on a Docker engine (`--engine`).
    Docker,
}

/// The reference update-lock supervisor: behaves as the given supervisor
/// version on the given OS version, with the real supervisor's HTTP API.
#[derive(Debug, Parser)]
#[command(name = "refsup", version, about, long_about = None)]
pub struct Args {
    /// Device root (like the real supervisor's /mnt/root); must be an existing writable directory.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Supervisor version to behave as, e.g. 17.3.5.
    #[arg(long, value_name = "X.Y.Z")]
    pub supervisor_version: String,
    /// OS version to behave as, e.g. 2.115.0 (1.x has the /data lock).
    #[arg(long, value_name = "X.Y.Z")]
    pub os_version: String,
    /// Address for the HTTP API; port 0 picks a free port. The bound address is printed on stdout as "listening on ADDR".
    #[arg(long, default_value = "127.0.0.1:48484", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// How services run.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Process)]
    pub runtime: RuntimeKind,
    /// Docker runtime: the engine, unix:///path/to/docker.sock or tcp://host:port [default: $DOCKER_HOST, else unix:///var/run/docker.sock].
    #[arg(long, value_name = "URL")]
    pub engine: Option<String>,
    /// Docker runtime: where the engine's host sees --root (bind mount sources), when refsup runs in a container with the host's root mounted [default: --root].
    #[arg(long, value_name = "DIR")]
    pub host_root: Option<PathBuf>,
    /// Docker runtime: the id labelling this refsup's containers (io.lockcheck.device); unique per refsup on one engine [default: a hash of --host-root, else --root].
    #[arg(long, value_name = "ID")]
    pub device_id: Option<String>,
    /// Require this API key (Authorization: Bearer KEY or ?apikey=KEY) on every call.
    #[arg(long, env = "REFSUP_API_KEY", value_name = "KEY")]
    pub api_key: Option<String>,
    /// Re-enable a historical supervisor bug (repeatable), for proving the suite catches it.
    #[arg(long = "fault", value_enum, value_name = "NAME")]
    pub faults: Vec<Fault>,
    /// Test hook: after taking locks and before killing, create FILE and wait until it is removed.
    #[arg(long, value_name = "FILE")]
    pub pause_after_lock: Option<PathBuf>,
    /// Test hook (L1 before 16.2.0): between two locking steps of an update, if FILE.arm exists, remove it, create FILE and wait until FILE is removed.
    #[arg(long, value_name = "FILE")]
    pub pause_between_steps: Option<PathBuf>,
    /// Factor on the supervisor's own timings (retry backoff 2^n x 500 ms, the poll interval, the 10 s app-lock wait); 1 is the real schedule.
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub time_scale: f64,
    /// Seconds a killed service gets between SIGTERM and SIGKILL.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub stop_timeout: f64,
    /// On SIGTERM/SIGINT leave services running (as the real supervisor leaves containers); default: stop them.
    #[arg(long)]
    pub keep_services_on_exit: bool,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// Run refsup with these arguments (`args[0]` is the program name); lets
/// another binary (the `lockcheck` CLI) embed the reference supervisor.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(EXIT_OK);
        }
        Err(e) => {
            eprintln!("{}", usage_error_line("refsup", &e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // No colour codes in a log file (a cell's kept refsup.log).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REFSUP_LOG")
                .unwrap_or_else(|_| "refsup=info".into()),
        )
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("refsup: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(Failure::Usage(e)) => {
            eprintln!("refsup: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("refsup: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// A clap usage error as the one line every CLI of this project prints:
/// `PROGRAM: <clap's first paragraph> (see PROGRAM --help)`. clap's first
/// paragraph may span lines (it names missing flags below), so it is joined.
pub fn usage_error_line(program: &str, e: &clap::Error) -> String {
    let text = e.render().to_string();
    let para: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    format!(
        "{program}: {} (see {program} --help)",
        para.join(" ").trim_start_matches("error: ")
    )
}

/// Why `run` failed: the user's doing (exit 2) or not (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// Bad flags or environment.
    Usage(anyhow::Error),
    /// Failure while running.
    Runtime(anyhow::Error),
}

fn parse_profile(args: &Args) -> Result<Profile> {
    let sup =
        Version::parse(args.supervisor_version.trim_start_matches('v')).with_context(|| {
            format!(
                "--supervisor-version '{}' is not a version like 17.3.5",
                args.supervisor_version
            )
        })?;
    let os = Version::parse(args.os_version.trim_start_matches('v')).with_context(|| {
        format!(
            "--os-version '{}' is not a version like 2.115.0",
            args.os_version
        )
    })?;
    Ok(Profile::new(sup, os)?)
}

/// Longest `--stop-timeout` accepted: a day.
const MAX_STOP_TIMEOUT: f64 = 86_400.0;

/// `--stop-timeout` as a duration: finite, 0 to a day.
fn stop_grace(secs: f64) -> Result<Duration> {
    if !(secs.is_finite() && (0.0..=MAX_STOP_TIMEOUT).contains(&secs)) {
        bail!(
            "--stop-timeout must be a number of seconds from 0 to {MAX_STOP_TIMEOUT}, not {secs}"
        );
    }
    Ok(Duration::from_secs_f64(secs))
}

fn check_root(root: &Path) -> Result<PathBuf> {
    let meta = std::fs::metadata(root).with_context(|| format!("--root {}", root.display()))?;
    if !meta.is_dir() {
        bail!("--root {} is not a directory", root.display());
    }
    let root = root
        .canonicalize()
        .with_context(|| format!("--root {}", root.display()))?;
    let probe = root.join(format!(".refsup-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("--root {} is not writable", root.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(root)
}

/// The Docker runtime of `args`; every failure is a usage error (exit 2).
async fn docker_runtime(
    args: &Args,
    root: &Path,
    layout: &Layout,
) -> Result<DockerRuntime, Failure> {
    let host_root = match &args.host_root {
        Some(dir) if !dir.is_absolute() => {
            return Err(Failure::Usage(anyhow::anyhow!(
                "--host-root {} must be an absolute path (as the engine's host sees --root)",
                dir.display()
            )))
        }
        other => other.clone(),
    };
    DockerRuntime::connect(DockerConfig {
        engine: args.engine.clone(),
        root: root.to_path_buf(),
        host_root,
        device_id: args.device_id.clone(),
        state_dir: layout.runtime_state(),
    })
    .await
    .map_err(|e: ConnectError| Failure::Usage(e.into()))
}

/// The flags only the Docker runtime reads, given without it.
fn docker_only_flags(args: &Args) -> Option<&'static str> {
    if args.runtime == RuntimeKind::Docker {
        return None;
    }
    [
        (args.engine.is_some(), "--engine"),
        (args.host_root.is_some(), "--host-root"),
        (args.device_id.is_some(), "--device-id"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// Run a supervisor until SIGTERM/SIGINT or an API shutdown.
pub async fn run(args: Args) -> Result<(), Failure> {
    let profile = parse_profile(&args).map_err(Failure::Usage)?;
    let root = check_root(&args.root).map_err(Failure::Usage)?;
    let stop_grace = stop_grace(args.stop_timeout).map_err(Failure::Usage)?;
    if !(args.time_scale.is_finite() && args.time_scale > 0.0 && args.time_scale <= 1000.0) {
        return Err(Failure::Usage(anyhow::anyhow!(
            "--time-scale must be a number above 0 and at most 1000, not {}",
            args.time_scale
        )));
    }
    if let Some(warning) = profile.beyond_known() {
        eprintln!("refsup: warning: {warning}");
    }
    if args.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(Failure::Usage(anyhow::anyhow!(
            "the API key (--api-key or REFSUP_API_KEY) is empty: give a key, or unset it to run without one"
        )));
    }
    if let Some(flag) = docker_only_flags(&args) {
        return Err(Failure::Usage(anyhow::anyhow!(
            "{flag} is for --runtime docker only"
        )));
    }
    let layout = Layout::new(root.clone(), profile.clone());
    let runtime: Arc<dyn Runtime> = match args.runtime {
        RuntimeKind::Process => Arc::new(
            ProcessRuntime::new(&root, layout.runtime_state(), layout.service_logs())
                .map_err(|e| Failure::Usage(anyhow::anyhow!("process runtime: {e}")))?,
        ),
        RuntimeKind::Docker => Arc::new(docker_runtime(&args, &root, &layout).await?),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))
        .map_err(Failure::Usage)?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.into()))?;
    let cfg = EngineConfig {
        root,
        profile,
        faults: Faults::new(args.faults.iter().copied()),
        stop_grace,
        pause_after_lock: args.pause_after_lock.clone(),
        pause_between_steps: args.pause_between_steps.clone(),
        time_scale: args.time_scale,
    };
    // Registered before the engine boots, so before "listening on": a
    // SIGTERM any time after that stops the services (the default action
    // would kill refsup and leave them running).
    let terminated = terminate_signal().map_err(|e| Failure::Runtime(e.into()))?;
    let engine = Engine::start(cfg, runtime)
        .await
        .map_err(Failure::Runtime)?;
    tokio::spawn(engine.clone().run());
    println!("listening on {addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tracing::info!(
        "refsup {} on {addr} ({:?} runtime)",
        engine.profile(),
        args.runtime
    );
    let app = crate::api::router(engine.clone(), args.api_key.clone());
    let stop = {
        let engine = engine.clone();
        async move {
            tokio::select! {
                _ = terminated => {
                    if !args.keep_services_on_exit {
                        engine.stop_all_services().await;
                    }
                }
                _ = engine.powered_off() => tracing::info!("shut down by API"),
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| Failure::Runtime(e.into()))
}

/// Install the SIGTERM and SIGINT handlers now; the future resolves on the
/// first of them, including one that arrived before it was polled.
fn terminate_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
