//! Shared test helpers: the lockcheck binary, running it, and starting a
//! standalone reference supervisor to point the suite at.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The lockcheck executable under test.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lockcheck"))
}

/// Run `lockcheck ARGS`: (exit code, stdout, stderr).
pub fn lockcheck(args: &[&str]) -> (i32, String, String) {
    // Kept evidence of failing cells goes to a temp dir of this call (gone
    // after it), not the repo; a test that inspects it passes --runs-dir.
    let runs = tempfile::tempdir().expect("temp dir");
    let out = Command::new(exe())
        .args(args)
        .env("NO_COLOR", "1")
        .env("LOCKCHECK_RUNS_DIR", runs.path())
        .output()
        .expect("run lockcheck");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    _dir: tempfile::TempDir,
}

impl Standalone {
    pub fn start(profile: &str, extra: &[&str]) -> Standalone {
        let dir = tempfile::tempdir().unwrap();
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
        .start()
        .expect("refsup started");
        Standalone {
            child: launched.child,
            url: launched.url,
            root,
            _dir: dir,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
