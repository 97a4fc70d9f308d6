//! Shared test helpers: the lockcheck binary, running it, and starting a
//! standalone reference supervisor to point the suite at. Whatever they
//! start carries this test binary's mark and is killed when its helper is
//! dropped; what killed earlier test runs left is reaped once per binary.

#![allow(dead_code)]

pub mod docker;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Once;
use std::time::Duration;

use lockcheck_reaper::{Filter, Mark, Owner, Scratch};
use nix::sys::signal::Signal;

/// Once per test binary: remove what killed earlier test runs left.
pub fn harness() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        lockcheck_reaper::reap_dead_runs(&std::env::temp_dir());
    });
}

/// The lockcheck executable under test (and the harness set up).
pub fn exe() -> PathBuf {
    harness();
    PathBuf::from(env!("CARGO_BIN_EXE_lockcheck"))
}

/// `lockcheck ARGS`, marked as this test binary's and SIGTERMed (so it
/// cleans up) if the test thread dies first.
pub fn lockcheck_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(exe());
    cmd.args(args).env("NO_COLOR", "1");
    Mark::new("lockcheck-cli").apply(&mut cmd);
    lockcheck_reaper::die_with_parent(&mut cmd, Signal::SIGTERM);
    cmd
}

/// Run `lockcheck ARGS`: (exit code, stdout, stderr).
pub fn lockcheck(args: &[&str]) -> (i32, String, String) {
    let (code, out, err, _) = lockcheck_with_evidence(args);
    (code, out, err)
}

/// How many of each kept log's last lines [`lockcheck_with_evidence`] shows.
const EVIDENCE_TAIL: usize = 30;

/// [`lockcheck`], plus the tails of the logs (and verdicts) its failing cells
/// kept, read before the scratch runs dir goes: a CI log then shows why a
/// cell failed, not only a path that no longer exists.
pub fn lockcheck_with_evidence(args: &[&str]) -> (i32, String, String, String) {
    // Kept evidence of failing cells goes to a scratch dir of this call
    // (gone after it), not the repo; a test that inspects it passes
    // --runs-dir.
    let runs = Scratch::new("cli-test-runs").expect("scratch dir");
    let out = lockcheck_command(args)
        .env("LOCKCHECK_RUNS_DIR", runs.path())
        .output()
        .expect("run lockcheck");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        evidence_tails(runs.path()),
    )
}

/// The last [`EVIDENCE_TAIL`] lines of every `*.log` and `verdict.txt`
/// under `dir`, each under its path.
fn evidence_tails(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "log")
                || p.file_name().is_some_and(|n| n == "verdict.txt")
        })
        .collect();
    files.sort();
    let mut out = String::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(EVIDENCE_TAIL)..];
        out.push_str(&format!(
            "--- {} (last {} of {} lines)\n{}\n",
            file.display(),
            tail.len(),
            lines.len(),
            tail.join("\n")
        ));
    }
    out
}

/// Assert a usage error: exit 2, one stderr line containing `needle`.
pub fn usage_error(args: &[&str], needle: &str) {
    let (code, _, err) = lockcheck(args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A reference supervisor started outside the suite (an "external" target).
pub struct Standalone {
    pub child: Child,
    pub url: String,
    pub root: PathBuf,
    mark: Mark,
    _dir: Scratch,
}

impl Standalone {
    pub fn start(profile: &str, extra: &[&str]) -> Standalone {
        let dir = Scratch::new("standalone").unwrap();
        let mark = Mark::new(dir.path().display().to_string());
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let mut flags = vec!["--stop-timeout".to_string(), "3".to_string()];
        flags.extend(extra.iter().map(|s| s.to_string()));
        let launched = refsup::launch::Launch {
            program: vec![exe().display().to_string(), "refsup".into()],
            root: root.clone(),
            profile: profile.into(),
            extra: flags,
            log: Some(dir.path().join("refsup.log")),
        }
        .start_with(|cmd| {
            mark.apply(cmd);
            lockcheck_reaper::die_with_parent(cmd, Signal::SIGTERM);
        })
        .expect("refsup started");
        Standalone {
            child: launched.child,
            url: launched.url,
            root,
            mark,
            _dir: dir,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        stop(&mut self.child);
        lockcheck_reaper::kill_marked(&Filter::Scope(self.mark.clone()));
    }
}

/// SIGTERM a supervisor (it stops its services) and wait for it; kill it
/// if it takes too long.
pub fn stop(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    );
    if !matches!(
        lockcheck_reaper::wait_timeout(child, Duration::from_secs(20)),
        Ok(Some(_))
    ) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The owner a lockcheck child marks its processes with.
pub fn owner_of(child: &Child) -> Owner {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap();
    Owner {
        pid: child.id(),
        start_time: start.parse().unwrap(),
    }
}

/// Live processes (zombies aside) marked as `owner`'s, with their command
/// lines.
pub fn marked_alive(owner: &Owner) -> Vec<(u32, String)> {
    let want = format!("LOCKCHECK_RUN={owner}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let marked = environ.split(|b| *b == 0).any(|v| v == want.as_bytes());
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'))
            .unwrap_or(true);
        if marked && !zombie {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// The `lockcheck-*` entries in `dir`.
pub fn scratch_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("lockcheck-"))
        .collect()
}
