//! The invariants (a) - (e) of [`super`], judged after each op.

use std::collections::BTreeSet;
use std::path::PathBuf;

use refsup::locking::{Blocked, HeldLocks};

use super::method::Method;
use super::model::{kind_name, Diff, Entry, Origin};
use super::race::{Break, Race};

impl Race<'_> {
    /// (c): one supervisor step changes at most one entry.
    pub(super) fn check_one_change(&self, diff: &Diff) -> Result<(), Break> {
        if diff.len() <= 1 {
            return Ok(());
        }
        Err(Break(format!(
            "(c) one step changed {} entries (created {:?}, removed {:?})",
            diff.len(),
            diff.created
                .iter()
                .map(|&i| self.fx.name(i))
                .collect::<Vec<_>>(),
            diff.removed
                .iter()
                .map(|r| self.fx.name(r.0))
                .collect::<Vec<_>>()
        )))
    }

    /// (a) and (c) for what one step created.
    pub(super) fn check_created(&self, created: &[usize]) -> Result<(), Break> {
        for &i in created {
            let Some((entry, _)) = self.state[i] else {
                continue;
            };
            let path = self.fx.paths[i].display();
            if !entry.kind.is_file() || entry.uid != self.rules.owner.uid {
                return Err(Break(format!(
                    "(a) the supervisor created {path} as a {} owned by uid {}, not a regular file owned by uid {}",
                    kind_name(entry.kind),
                    entry.uid,
                    self.rules.owner.uid
                )));
            }
            // No version follows a link at a lock path (L6): a file made
            // anywhere else, a link's target included, is a bug.
            if !self.requested.contains(&i) {
                return Err(Break(format!(
                    "(c) the supervisor created {path} outside its lock paths"
                )));
            }
        }
        Ok(())
    }

    /// (b) for what the supervisor removed.
    pub(super) fn check_removed(
        &self,
        removed: &[(usize, Entry, Origin)],
        force: bool,
    ) -> Result<(), Break> {
        for &(i, entry, origin) in removed {
            let path = self.fx.paths[i].display();
            let whose = match origin {
                Origin::Supervisor => continue,
                // Adopted from a crashed supervisor: its own, released with
                // the rest.
                Origin::Orphan if self.adopts && self.requested.contains(&i) => continue,
                Origin::User(_) => "the user's",
                Origin::Orphan => "a crashed supervisor's",
            };
            let kind = kind_name(entry.kind);
            if !force {
                return Err(Break(format!(
                    "(b) the supervisor removed {whose} {kind} {path} without force"
                )));
            }
            if !self.requested.contains(&i) {
                return Err(Break(format!(
                    "(b) force removed {whose} {kind} {path}, which is not one of its lock paths"
                )));
            }
            if entry.kind.is_dir() && !self.dirs_removable {
                return Err(Break(format!(
                    "(b) force removed {whose} directory {path} on a profile that cannot (L5)"
                )));
            }
        }
        Ok(())
    }

    /// (a): `Acquired` claims what it created, one entry per lock path.
    pub(super) fn check_acquired(&self, held: &HeldLocks) -> Result<(), Break> {
        let requested: Vec<PathBuf> = self
            .requested
            .iter()
            .map(|&k| self.fx.paths[k].clone())
            .collect();
        let claimed: BTreeSet<&PathBuf> = held.paths().iter().collect();
        let mut made: BTreeSet<&PathBuf> = self.entries(Origin::Supervisor).collect();
        if self.adopts {
            // Adopted leftovers of a crashed supervisor count as taken.
            made.extend(
                self.entries(Origin::Orphan)
                    .filter(|p| claimed.contains(p) && requested.contains(p)),
            );
        }
        if claimed != made || held.paths().len() != requested.len() {
            return Err(Break(format!(
                "(a) Acquired claims {claimed:?} for {} lock paths, but the entries it made are {made:?}",
                requested.len()
            )));
        }
        if held.paths() != requested {
            return Err(Break(format!(
                "(a) Acquired claims {:?}, not its lock paths {requested:?}",
                held.paths()
            )));
        }
        for &k in &self.requested {
            let origin = self.state[k].map(|(_, o)| o);
            let adopted = self.adopts && origin == Some(Origin::Orphan);
            if origin != Some(Origin::Supervisor) && !adopted {
                return Err(Break(format!(
                    "(a) Acquired, but {} is {} made by {origin:?}",
                    self.fx.paths[k].display(),
                    self.state[k].map_or("missing".to_string(), |(e, _)| format!(
                        "a {}",
                        kind_name(e.kind)
                    )),
                )));
            }
        }
        Ok(())
    }

    /// (b): a blocked take rolled everything back.
    pub(super) fn check_blocked(&self, blocked: &Blocked) -> Result<(), Break> {
        if !self
            .requested
            .iter()
            .any(|&k| self.fx.paths[k] == blocked.path)
        {
            return Err(Break(format!(
                "Blocked on {}, which is not one of its lock paths",
                blocked.path.display()
            )));
        }
        self.none_left(&format!(
            "(b) Blocked on {} ({})",
            blocked.path.display(),
            blocked.reason
        ))
    }

    pub(super) fn none_left(&self, when: &str) -> Result<(), Break> {
        let left: Vec<&PathBuf> = self.entries(Origin::Supervisor).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(Break(format!(
                "{when}: the supervisor's entries {left:?} are left behind"
            )))
        }
    }

    /// (e): an app removed only entries nobody alive holds.
    pub(super) fn check_user_removed(
        &self,
        user: u8,
        method: Method,
        diff: &Diff,
    ) -> Result<(), Break> {
        for &(i, entry, origin) in &diff.removed {
            let live = match origin {
                Origin::Supervisor => Some("the live supervisor's".to_string()),
                Origin::User(u) if u != user && self.holds(u, i) => Some(format!("app{u}'s")),
                _ => None,
            };
            if let Some(whose) = live {
                return Err(Break(format!(
                    "(e) app{user} ({}) removed {whose} {} {} while it holds it",
                    method.name(),
                    kind_name(entry.kind),
                    self.fx.name(i)
                )));
            }
        }
        Ok(())
    }

    /// (d): one holder per lock path, and none of the supervisor's while it
    /// holds them for a non-forced operation.
    pub(super) fn check_exclusion(&self) -> Result<(), Break> {
        for (n, a) in self.beliefs.iter().enumerate() {
            if let Some(b) = self.beliefs[n + 1..].iter().find(|b| b.slot == a.slot) {
                return Err(Break(format!(
                    "(d) app{} ({}) and app{} ({}) both hold {}",
                    a.user,
                    a.method.name(),
                    b.user,
                    b.method.name(),
                    self.fx.name(a.slot)
                )));
            }
            if matches!(self.held, Some((_, false))) && self.requested.contains(&a.slot) {
                return Err(Break(format!(
                    "(d) the supervisor holds every lock (it kills the services next) while app{} ({}) holds {}",
                    a.user,
                    a.method.name(),
                    self.fx.name(a.slot)
                )));
            }
        }
        Ok(())
    }

    fn holds(&self, user: u8, slot: usize) -> bool {
        self.beliefs
            .iter()
            .any(|b| b.user == user && b.slot == slot)
    }

    fn entries(&self, origin: Origin) -> impl Iterator<Item = &PathBuf> {
        self.state
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.is_some_and(|(_, o)| o == origin))
            .map(|(i, _)| &self.fx.paths[i])
    }
}
