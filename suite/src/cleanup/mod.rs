//! What a run cleans up, and when: every cell ends by killing what it
//! started and removing its scratch dir ([`CellGuard`]); SIGINT/SIGTERM stop
//! the running cells ([`Interrupt`], [`handle_signals`]); a run starts by
//! reaping what earlier killed runs left ([`reap_earlier_runs`]). The
//! marking and killing itself is `lockcheck_reaper`'s.

mod cell;
mod interrupt;

use std::path::Path;
use std::sync::Once;

pub use cell::{cell_mark, CellGuard};
pub use interrupt::{handle_signals, Interrupt, Registration};

/// Make this process the reaper of its descendants, once: a service whose
/// supervisor crashed (C1, P3 restart it on purpose) re-parents to us, not
/// to init, and is killed with its cell.
pub fn become_reaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = lockcheck_reaper::become_subreaper() {
            eprintln!("lockcheck: warning: cannot become the reaper of its services: {e}");
        }
    });
}

/// Kill and remove what runs that no longer exist left: their marked
/// services, their `lockcheck-*` dirs in the temp dir and the cell dirs they
/// had not finished under `runs_dir/<time>/` (kept evidence is unmarked and
/// stays). A line on stderr says what, if anything.
pub fn reap_earlier_runs(runs_dir: Option<&Path>) {
    let mut reaped = lockcheck_reaper::reap_dead_runs(&std::env::temp_dir());
    if let Some(runs_dir) = runs_dir {
        reaped.dirs += reap_dead_cells(runs_dir);
    }
    if !reaped.is_empty() {
        eprintln!(
            "lockcheck: removed what an earlier killed run left: {} processes, {} scratch dirs",
            reaped.processes, reaped.dirs
        );
    }
}

/// Remove the unfinished cell dirs of dead runs under `runs_dir/<time>/`,
/// and a run dir they leave empty; returns how many cell dirs.
fn reap_dead_cells(runs_dir: &Path) -> usize {
    let Ok(runs) = std::fs::read_dir(runs_dir) else {
        return 0;
    };
    let mut removed = 0;
    for run in runs.flatten() {
        let Ok(cells) = std::fs::read_dir(run.path()) else {
            continue;
        };
        let before = removed;
        for cell in cells.flatten() {
            if lockcheck_reaper::reap_if_dead(&cell.path()) {
                removed += 1;
            }
        }
        if removed > before {
            // Only when it held nothing else.
            let _ = std::fs::remove_dir(run.path());
        }
    }
    removed
}

/// Kill whatever this process started that is still alive: what a hung
/// cell's body started after its cell was cleaned up, and any orphan that
/// re-parented to it, marked or not. Only for `lockcheck run` itself, once
/// its cells are over (a test binary may have other tests' cells running).
pub fn end_of_run() {
    let me = lockcheck_reaper::Owner::this_process();
    lockcheck_reaper::kill_marked(&lockcheck_reaper::Filter::Owner(me));
    lockcheck_reaper::kill_adopted();
    lockcheck_reaper::reap_adopted();
}
