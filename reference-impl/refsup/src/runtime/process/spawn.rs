//! Starting a service as a child process: command resolution, environment
//! (with lock paths mapped to the host, and a test harness's `LOCKCHECK_*`
//! marks passed on), log file, user, process group.

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::super::{RuntimeError, RuntimeResult, ServiceInstance};
use super::procfs;

/// Variables of refsup's own environment that services inherit.
const HARNESS_PREFIX: &str = "LOCKCHECK_";

/// A freshly started service.
pub(super) struct Spawned {
    /// The child, for reaping.
    pub child: Child,
    /// Its pid (also its process group id).
    pub pid: u32,
    /// Field 22 of its `/proc/<pid>/stat`.
    pub start_time: u64,
}

fn start_error(spec: &ServiceInstance, reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Start {
        app_id: spec.app_id,
        service: spec.service.clone(),
        reason: reason.into(),
    }
}

/// Start `spec` with its stdout and stderr appended to
/// `log_dir/<appId>-<service>.log`.
pub(super) fn spawn(spec: &ServiceInstance, root: &Path, log_dir: &Path) -> RuntimeResult<Spawned> {
    check_service_name(spec)?;
    let Some(program) = spec.command.first() else {
        return Err(start_error(spec, "empty command"));
    };
    let resolved = resolve_command(program).ok_or_else(|| {
        start_error(
            spec,
            format!("command `{program}` not found on PATH nor beside the refsup executable"),
        )
    })?;

    let mut cmd = Command::new(&resolved);
    cmd.args(&spec.command[1..]);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(&spec.environment);
    // The marks of a test harness (lockcheck's LOCKCHECK_RUN and
    // LOCKCHECK_CELL) go on to the services, after the target's variables
    // so it cannot hide them: the harness finds every process it caused.
    for (name, value) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with(HARNESS_PREFIX)) {
            cmd.env(name, value);
        }
    }
    cmd.env("REFSUP_ROOT", root)
        .env("REFSUP_APP_ID", spec.app_id.to_string())
        .env("REFSUP_SERVICE", &spec.service)
        .env("REFSUP_COMMIT", &spec.commit)
        .env("REFSUP_LOCK_DIR", &spec.lock_dir);
    if let Some(data_dir) = &spec.data_dir {
        cmd.env("REFSUP_DATA_DIR", data_dir);
    }
    for (name, path) in &spec.lock_env {
        let host = host_path(spec, path).map_err(|reason| start_error(spec, reason))?;
        cmd.env(name, host);
    }

    if let Some(uid) = spec.user {
        let euid = nix::unistd::geteuid().as_raw();
        if uid != euid {
            if euid != 0 {
                return Err(start_error(
                    spec,
                    format!("cannot run as uid {uid}: refsup runs as uid {euid}, not root"),
                ));
            }
            cmd.uid(uid).gid(uid);
        }
    }

    let log_path = log_dir.join(format!("{}-{}.log", spec.app_id, spec.service));
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(&log_path)
        .map_err(|e| start_error(spec, format!("cannot open log {}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| start_error(spec, format!("cannot open log {}: {e}", log_path.display())))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .kill_on_drop(false);

    let child = cmd
        .spawn()
        .map_err(|e| start_error(spec, format!("cannot run `{}`: {e}", resolved.display())))?;
    // Not reaped before we wait on it, so /proc/<pid> exists even if it died.
    let pid = child.id();
    let start_time = pid.and_then(procfs::read_stat).map(|s| s.start_time);
    match (pid, start_time) {
        (Some(pid), Some(start_time)) => Ok(Spawned {
            child,
            pid,
            start_time,
        }),
        _ => Err(start_error(
            spec,
            format!(
                "`{}` started but its /proc entry is unreadable",
                resolved.display()
            ),
        )),
    }
}

fn check_service_name(spec: &ServiceInstance) -> RuntimeResult<()> {
    let name = &spec.service;
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(start_error(spec, format!("invalid service name {name:?}")));
    }
    Ok(())
}

/// `command[0]` as is when it contains `/`; else the first executable of
/// that name on PATH, then beside the running executable (and, for test
/// binaries in `target/*/deps`, one level up).
fn resolve_command(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    if program.is_empty() {
        return None;
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        if exe_dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(up) = exe_dir.parent() {
                dirs.push(exe_dir.clone());
                dirs.push(up.to_path_buf());
            }
        } else {
            dirs.push(exe_dir);
        }
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Map a lock path as the service sees it to the host: `/tmp/balena/...` and
/// `/tmp/resin/...` live in the lock dir, `/data/...` in the data dir; other
/// paths are passed unchanged.
pub(super) fn host_path(spec: &ServiceInstance, path: &str) -> Result<PathBuf, String> {
    for mount in ["/tmp/balena", "/tmp/resin"] {
        if let Some(rest) = under(path, mount) {
            return join_inside(&spec.lock_dir, rest, path);
        }
    }
    if let Some(rest) = under(path, "/data") {
        return match &spec.data_dir {
            Some(data_dir) => join_inside(data_dir, rest, path),
            None => Err(format!(
                "lock path {path} is under /data but this profile has no data dir"
            )),
        };
    }
    Ok(PathBuf::from(path))
}

/// The part of `path` below `mount` (`""` for the mount itself).
fn under<'a>(path: &'a str, mount: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(mount)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

fn join_inside(base: &Path, rest: &str, original: &str) -> Result<PathBuf, String> {
    let rest = Path::new(rest);
    if rest
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        Ok(base.join(rest))
    } else {
        Err(format!("lock path {original} leaves its mount"))
    }
}
