//! Who owns a process or a dir: a live process named by pid and start time.

use std::fmt;
use std::process::Command;
use std::sync::OnceLock;

use crate::procfs;

/// A process, named so that a reused pid is never taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Its pid.
    pub pid: u32,
    /// Field 22 of its `/proc/<pid>/stat`.
    pub start_time: u64,
}

impl Owner {
    /// This process.
    pub fn this_process() -> Owner {
        static THIS: OnceLock<Owner> = OnceLock::new();
        *THIS.get_or_init(|| {
            let pid = std::process::id();
            let stat = procfs::stat(pid as i32).expect("/proc/self/stat is readable");
            Owner {
                pid,
                start_time: stat.start_time,
            }
        })
    }

    /// Parse `<pid>:<start time>`.
    pub fn parse(text: &str) -> Option<Owner> {
        let (pid, start) = text.trim().split_once(':')?;
        Some(Owner {
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        })
    }

    /// Whether this process still runs (a zombie does not).
    pub fn is_alive(&self) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        procfs::stat(pid).is_some_and(|s| s.start_time == self.start_time && !s.is_dead())
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.pid, self.start_time)
    }
}

/// The mark of one scope (a cell, a test helper) of an owner, carried by
/// every process started in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The run.
    pub owner: Owner,
    /// The scope inside the run.
    pub scope: String,
}

impl Mark {
    /// A scope of this process.
    pub fn new(scope: impl Into<String>) -> Mark {
        Mark {
            owner: Owner::this_process(),
            scope: scope.into(),
        }
    }

    /// Mark what `cmd` starts (and, through inheritance, its descendants).
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env(crate::ENV_RUN, self.owner.to_string())
            .env(crate::ENV_SCOPE, &self.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_round_trips() {
        let me = Owner::this_process();
        assert_eq!(me.pid, std::process::id());
        assert!(me.is_alive());
        assert_eq!(Owner::parse(&me.to_string()), Some(me));
        let other = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive(), "same pid, other start time");
        assert_eq!(Owner::parse("12"), None);
        assert_eq!(Owner::parse("a:1"), None);
    }
}
