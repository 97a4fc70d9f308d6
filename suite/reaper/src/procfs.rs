//! What `/proc` says about a process: its state, parent, process group,
//! start time, and the marks in its environment.

use std::fs;

/// The parts of `/proc/<pid>/stat` the reaper needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 3: `R`, `S`, `Z`, ...
    pub state: char,
    /// Field 4.
    pub ppid: i32,
    /// Field 5.
    pub pgrp: i32,
    /// Field 22: start time in clock ticks since boot.
    pub start_time: u64,
}

impl Stat {
    /// Whether the process has ended (a zombie waiting to be reaped counts).
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// `/proc/<pid>/stat`, `None` if there is no such process.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parse a stat line; the name (field 2) may hold spaces and parentheses,
/// so fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<Stat> {
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // Field 5 was the third after the name; field 22 is 17 further.
    let start_time = fields.nth(16)?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        pgrp,
        start_time,
    })
}

/// Every pid in `/proc`.
pub(crate) fn pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The value of `name` in the environment `pid` was started with; `None`
/// when unset or unreadable (another user's process, a zombie).
pub(crate) fn environ_var(pid: i32, name: &str) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/environ")).ok()?;
    bytes.split(|b| *b == 0).find_map(|entry| {
        let rest = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        String::from_utf8(rest.to_vec()).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_parens_and_spaces() {
        let text = "42 (a) b (c) S 7 40 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp), (7, 40));
        assert_eq!(stat.start_time, 987654);
    }

    #[test]
    fn own_stat_and_environ_are_readable() {
        let me = std::process::id() as i32;
        let stat = stat(me).unwrap();
        assert!(!stat.is_dead());
        assert_eq!(stat.pgrp, nix::unistd::getpgrp().as_raw());
        // cargo sets CARGO_PKG_NAME for test binaries it runs.
        if std::env::var_os("CARGO_PKG_NAME").is_some() {
            assert_eq!(
                environ_var(me, "CARGO_PKG_NAME").as_deref(),
                Some("lockcheck-reaper")
            );
        }
        assert_eq!(environ_var(me, "LOCKCHECK_NO_SUCH_VAR"), None);
    }
}
