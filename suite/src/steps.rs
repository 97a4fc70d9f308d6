//! A cell's step log: what the case did and how long each wait took, in
//! `steps.log` of the cell's scratch dir. A failing cell keeps that dir as
//! its evidence, so the log says which wait ran out and what came before
//! it, on a machine (CI) where the run cannot be watched.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The file name in the cell's scratch dir.
pub const FILE: &str = "steps.log";

/// Appends timed lines to a cell's `steps.log`.
#[derive(Debug)]
pub struct StepLog {
    path: PathBuf,
    started: Instant,
}

impl StepLog {
    /// The step log of the cell whose scratch dir is `work`; times count
    /// from now.
    pub fn new(work: &Path) -> StepLog {
        let log = StepLog {
            path: work.join(FILE),
            started: Instant::now(),
        };
        // The wall time once, to line the log up with the target's log.
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        log.line(format_args!("cell began at {now}"));
        log
    }

    /// Time since the cell began.
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Append `line`, prefixed with the seconds since the cell began. A
    /// log that cannot be written loses the line, never the cell.
    pub fn line(&self, line: std::fmt::Arguments<'_>) {
        let secs = self.elapsed().as_secs_f64();
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(f, "{secs:8.3}s {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_with_their_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = StepLog::new(dir.path());
        log.line(format_args!("deployed {}", 1));
        log.line(format_args!("waited for x"));
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("s cell began at 20"), "{text}");
        assert!(lines[1].ends_with("s deployed 1"), "{text}");
        assert!(lines[2].trim_start().starts_with("0."), "{text}");
    }

    #[test]
    fn an_unwritable_log_is_no_error() {
        StepLog::new(Path::new("/nonexistent/dir")).line(format_args!("lost"));
    }
}
