//! One cell's belongings: its scratch dir and every process started for it.

use std::io;
use std::path::{Path, PathBuf};

use lockcheck_reaper::{kill_marked, reap_adopted, Filter, Mark, Scratch};

/// The mark of the cell whose scratch dir is `work`: the device started for
/// it carries it, and so does every service of that device.
pub fn cell_mark(work: &Path) -> Mark {
    Mark::new(work.display().to_string())
}

/// A cell's scratch dir and the processes marked with [`cell_mark`] of it.
/// [`CellGuard::finish`] (and dropping it) kills those processes (the
/// supervisor, every service, including ones a crashed supervisor left
/// behind) and removes the dir unless [`CellGuard::keep`] said to keep it
/// (then it loses its marker: it is evidence, not scratch).
#[derive(Debug)]
pub struct CellGuard {
    scratch: Scratch,
}

impl CellGuard {
    /// A new scratch dir marked as this run's: `<runs_dir>/<case>-<profile>`
    /// (`-2`, `-3`, ... if taken), or `lockcheck-<case>-<profile>-XXXXXX`
    /// under the temp dir.
    pub fn new(case: &str, profile: &str, runs_dir: Option<&Path>) -> io::Result<CellGuard> {
        super::become_reaper();
        let name = format!("{case}-{profile}");
        let scratch = match runs_dir {
            None => Scratch::new(&name)?,
            Some(dir) => {
                // Absolute: the target and the cell's mark see the same path.
                let dir = std::path::absolute(dir)?;
                std::fs::create_dir_all(&dir)?;
                let mut n = 1;
                loop {
                    let path: PathBuf = match n {
                        1 => dir.join(&name),
                        _ => dir.join(format!("{name}-{n}")),
                    };
                    match Scratch::create(&path) {
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                        other => break other?,
                    }
                }
            }
        };
        Ok(CellGuard { scratch })
    }

    /// The scratch dir.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// Leave the scratch dir in place when the cell ends (a report points
    /// at it); its processes are killed all the same.
    pub fn keep(&self, keep: bool) {
        self.scratch.set_keep(keep);
    }

    /// Kill every process of the cell now; returns how many there were.
    pub fn kill(&self) -> usize {
        let killed = kill_marked(&Filter::Scope(cell_mark(self.dir())));
        reap_adopted();
        killed
    }

    /// End the cell: kill its processes, then remove its dir, or if kept
    /// take its marker away. Done again on drop, harmlessly.
    pub fn finish(&self) -> io::Result<()> {
        self.kill();
        if self.scratch.kept() {
            return self.scratch.unmark();
        }
        self.scratch.remove()
    }
}

impl Drop for CellGuard {
    fn drop(&mut self) {
        // Before the scratch dir goes: nothing may still be using it.
        let _ = self.finish();
    }
}
