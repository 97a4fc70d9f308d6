//! What `/proc` says about a process: whether a recorded pid is still the
//! process that was recorded (same start time, same boot, not a zombie).

use std::fs;

/// The parts of `/proc/<pid>/stat` the runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProcStat {
    /// Field 3: `R`, `S`, `Z`, ...
    pub state: char,
    /// Field 22: start time in clock ticks since boot.
    pub start_time: u64,
}

/// Read `/proc/<pid>/stat`; `None` if there is no such process (or the file
/// cannot be parsed).
pub(super) fn read_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parse the text of a `/proc/<pid>/stat` file. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted from the last
/// `)`.
pub(super) fn parse_stat(text: &str) -> Option<ProcStat> {
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // Fields after the name start at field 3 (state); field 22 is 19 further.
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), when readable.
pub(super) fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether `pid` is alive and is the process that started at `start_time`
/// during boot `boot` (`None`: unknown boot, not compared).
pub(super) fn is_same_alive(
    pid: u32,
    start_time: u64,
    boot: Option<&str>,
    this_boot: Option<&str>,
) -> bool {
    if let (Some(recorded), Some(now)) = (boot, this_boot) {
        if recorded != now {
            return false;
        }
    }
    match read_stat(pid) {
        Some(stat) => stat.start_time == start_time && !matches!(stat.state, 'Z' | 'X' | 'x'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_parens_and_spaces() {
        let text = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.start_time, 987654);
    }

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id();
        let stat = read_stat(pid).unwrap();
        assert!(is_same_alive(pid, stat.start_time, None, None));
        assert!(!is_same_alive(pid, stat.start_time + 1, None, None));
        let boot = boot_id();
        assert!(!is_same_alive(
            pid,
            stat.start_time,
            Some("another-boot"),
            boot.as_deref().or(Some("x"))
        ));
    }
}
