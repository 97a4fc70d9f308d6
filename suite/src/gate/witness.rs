//! Reading a witness file: the `enter PID` / `leave PID` / `sigterm PID`
//! lines critical sections append (one `write(2)` each, `O_APPEND`), in the
//! order they happened.

use std::collections::BTreeSet;
use std::path::Path;

/// What a witness recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witnessed {
    /// Sections entered.
    pub enters: usize,
    /// Sections left normally.
    pub leaves: usize,
    /// SIGTERMs received inside a section.
    pub sigterms: usize,
    /// The most sections inside at one time.
    pub max_inside: usize,
    /// The pids inside at that moment.
    pub max_pids: Vec<u32>,
}

/// Read `path` (a missing file is an empty witness).
pub fn read(path: &Path) -> Witnessed {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse(&text)
}

/// Count a witness's lines.
pub fn parse(text: &str) -> Witnessed {
    let mut w = Witnessed::default();
    let mut inside: BTreeSet<u32> = BTreeSet::new();
    for line in text.lines() {
        let Some((ev, pid)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        match ev {
            "enter" => {
                w.enters += 1;
                inside.insert(pid);
                if inside.len() > w.max_inside {
                    w.max_inside = inside.len();
                    w.max_pids = inside.iter().copied().collect();
                }
            }
            "leave" => {
                w.leaves += 1;
                inside.remove(&pid);
            }
            "sigterm" => {
                w.sigterms += 1;
                inside.remove(&pid);
            }
            _ => {}
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_most_holders_inside_at_once() {
        let w = parse("enter 1\nleave 1\nenter 2\nenter 3\nleave 2\nenter 4\nsigterm 3\nleave 4\n");
        assert_eq!(w.enters, 4);
        assert_eq!(w.leaves, 3);
        assert_eq!(w.sigterms, 1);
        assert_eq!(w.max_inside, 2);
        assert_eq!(w.max_pids, vec![2, 3]);
        assert_eq!(parse("enter 1\nleave 1\nenter 2\nleave 2\n").max_inside, 1);
        assert_eq!(parse("").max_inside, 0);
    }
}
