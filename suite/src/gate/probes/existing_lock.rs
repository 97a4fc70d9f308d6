//! Existing lock: with the supervisor's lock file, an empty directory, or a
//! symlink (dangling, and to a file) at the path, does the tool refuse or
//! wait, or report success? Is any symlink target touched?

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::contest::{contest, rel_lock_path};
use super::{broken, plant, timed, Probe};
use crate::gate::probe::{ProbeResult, Status};
use crate::gate::sandbox::Sandbox;
use crate::gate::snapshot;

const PROBE: &str = "existing-lock";

/// What is planted at the lock path.
#[derive(Debug, Clone, Copy)]
enum Planted {
    SupervisorFile,
    EmptyDir,
    DanglingSymlink,
    SymlinkToFile,
}

impl Planted {
    fn case(self) -> &'static str {
        match self {
            Planted::SupervisorFile => "supervisor's lock file",
            Planted::EmptyDir => "empty directory",
            Planted::DanglingSymlink => "dangling symlink",
            Planted::SymlinkToFile => "symlink to a file",
        }
    }

    /// The case in a sentence: "with {phrase} at the path".
    fn phrase(self) -> &'static str {
        match self {
            Planted::SupervisorFile => "the supervisor's lock file",
            Planted::EmptyDir => "an empty directory",
            Planted::DanglingSymlink => "a dangling symlink",
            Planted::SymlinkToFile => "a symlink to a file",
        }
    }
}

/// Run the four cases in parallel.
pub fn run(probe: &Probe<'_>) -> Vec<ProbeResult> {
    let all = [
        Planted::SupervisorFile,
        Planted::EmptyDir,
        Planted::DanglingSymlink,
        Planted::SymlinkToFile,
    ];
    std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|p| s.spawn(move || timed(|| vec![one(probe, *p)])))
            .collect();
        handles
            .into_iter()
            .zip(all)
            .flat_map(|(h, p)| {
                h.join().unwrap_or_else(|_| {
                    vec![broken(
                        PROBE,
                        p.case(),
                        &anyhow::anyhow!("the probe crashed"),
                    )]
                })
            })
            .collect()
    })
}

fn one(probe: &Probe<'_>, planted: Planted) -> ProbeResult {
    match measure(probe, planted) {
        Ok(row) => row,
        Err(e) => broken(PROBE, planted.case(), &e),
    }
}

fn measure(probe: &Probe<'_>, planted: Planted) -> Result<ProbeResult> {
    let sandbox = Sandbox::new(&probe.settings.profile)?;
    let path = sandbox.lock_path();
    let mut evidence = Vec::new();
    match planted {
        Planted::SupervisorFile => {
            let note = plant::supervisor_lock(
                &path,
                &probe.settings.profile,
                plant::LOCKFILE_CONTENT,
                Duration::ZERO,
            )?;
            evidence.extend(note);
        }
        Planted::EmptyDir => std::fs::create_dir(&path)?,
        Planted::DanglingSymlink => {
            std::os::unix::fs::symlink(sandbox.outside().join("absent"), &path)?
        }
        Planted::SymlinkToFile => {
            let target = sandbox.outside().join("target");
            // A fresh target: an old one would look stale to tools that
            // stat() through the link, which is the stealing probe's question.
            std::fs::write(&target, "the link's target; must stay as it is\n")?;
            std::os::unix::fs::symlink(&target, &path)?;
        }
    }
    let rel = rel_lock_path(&sandbox);
    let planted_entry = snapshot::entry(&path).expect("just planted");
    evidence.insert(
        0,
        format!("planted {}", snapshot::with_entry(&rel, &planted_entry)),
    );
    let c = contest(probe, &sandbox, "existing")?;
    evidence.extend(c.evidence.iter().cloned());
    let outside = Path::new("outside");
    let at_path: Vec<String> = c.touching(&rel).iter().map(|ch| ch.describe()).collect();
    let at_target: Vec<String> = c.touching(outside).iter().map(|ch| ch.describe()).collect();
    let (status, finding) = if c.took {
        (
            Status::Unsafe,
            format!(
                "took the lock with {} already at the path",
                planted.phrase()
            ),
        )
    } else if !at_target.is_empty() {
        (
            Status::Unsafe,
            format!(
                "{}, but touched the symlink's target: {}",
                c.behaviour,
                at_target.join("; ")
            ),
        )
    } else if !at_path.is_empty() {
        (
            Status::Unsafe,
            format!(
                "{}, but changed the existing lock: {}",
                c.behaviour,
                at_path.join("; ")
            ),
        )
    } else {
        (Status::Ok, c.behaviour.clone())
    };
    let finding = if c.took && !at_target.is_empty() {
        format!("{finding}, and touched the symlink's target")
    } else {
        finding
    };
    Ok(ProbeResult::new(PROBE, planted.case(), status, finding).with_evidence(evidence))
}
