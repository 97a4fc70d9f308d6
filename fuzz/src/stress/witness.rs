//! The independent witness: every holder appends `E <id>` to one log right
//! after it takes the lock and `L <id>` right before it releases it, each
//! one `write` on an `O_APPEND` file, so the kernel orders them. An `E`
//! between another holder's `E` and `L` is a moment both held the lock: the
//! count needs no trust in the lock method it judges.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// One holder's handle on the log.
pub struct Witness {
    log: File,
    enter: Vec<u8>,
    leave: Vec<u8>,
}

impl Witness {
    /// Append to `log` as holder `id` (`sup`, `0`, `1`, ...).
    pub fn open(log: &Path, id: &str) -> io::Result<Witness> {
        Ok(Witness {
            log: OpenOptions::new().append(true).create(true).open(log)?,
            enter: format!("E {id}\n").into_bytes(),
            leave: format!("L {id}\n").into_bytes(),
        })
    }

    /// Just took the lock.
    pub fn enter(&mut self) -> io::Result<()> {
        self.log.write_all(&self.enter)
    }

    /// About to release it.
    pub fn leave(&mut self) -> io::Result<()> {
        self.log.write_all(&self.leave)
    }
}

/// What the log shows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Count {
    /// Critical sections entered.
    pub entries: u64,
    /// Most holders at one moment.
    pub max_holders: usize,
    /// Entries made while someone else held the lock.
    pub overlapping: u64,
    /// Of those, entries where the supervisor was one of the holders.
    pub with_supervisor: u64,
}

/// Read the log's lines in order.
pub fn count(log: &str) -> Result<Count, String> {
    let mut inside: Vec<&str> = Vec::new();
    let mut c = Count::default();
    for (n, line) in log.lines().enumerate() {
        match line.split_once(' ') {
            Some(("E", id)) => {
                if inside.contains(&id) {
                    return Err(format!("line {}: {id} entered twice", n + 1));
                }
                c.entries += 1;
                if !inside.is_empty() {
                    c.overlapping += 1;
                    if id == "sup" || inside.contains(&"sup") {
                        c.with_supervisor += 1;
                    }
                }
                inside.push(id);
                c.max_holders = c.max_holders.max(inside.len());
            }
            Some(("L", id)) => {
                let i = inside
                    .iter()
                    .position(|h| *h == id)
                    .ok_or_else(|| format!("line {}: {id} left without entering", n + 1))?;
                inside.swap_remove(i);
            }
            _ => return Err(format!("line {}: {line:?} is not `E id` or `L id`", n + 1)),
        }
    }
    Ok(c)
}
