//! A run as rows a person can read: step, locker, syscall, result.

use std::fmt;

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The op's index in the scenario (`ops.len()` and up while draining).
    pub step: usize,
    /// `supervisor`, `app0`, `app1`, or `time`.
    pub locker: String,
    /// What it called, with the path (`open(O_CREAT|O_EXCL) svc0/updates.lock`).
    pub call: String,
    /// `ok`, the errno's name, or what the step ended in.
    pub result: String,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>4}  {:<10}  {:<60}  {}",
            self.step, self.locker, self.call, self.result
        )
    }
}

/// The rows as a table with a header.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:>4}  {:<10}  {:<60}  {}\n",
        "step", "locker", "syscall", "result"
    );
    for row in rows {
        out.push_str(&format!("{row}\n"));
    }
    out
}
