//! Depth-first enumeration of every schedule, loom/shuttle style: each
//! execution runs from the start, asking [`Dfs::choose`] at every point
//! where more than one actor could go next; the next execution takes the
//! deepest untried alternative.

/// The DFS scheduler's state between executions.
#[derive(Debug, Default)]
pub struct Dfs {
    /// Per decision point of the current execution: (chosen, choices).
    stack: Vec<(usize, usize)>,
    /// How deep the current execution has got.
    pos: usize,
    started: bool,
}

impl Dfs {
    /// A scheduler that has run nothing yet.
    pub fn new() -> Dfs {
        Dfs::default()
    }

    /// Start the next execution; `false` when every schedule has run.
    pub fn begin(&mut self) -> bool {
        if !self.started {
            self.started = true;
            self.pos = 0;
            return true;
        }
        // An execution cut short (a broken invariant) explored no further.
        self.stack.truncate(self.pos);
        while let Some((chosen, choices)) = self.stack.pop() {
            if chosen + 1 < choices {
                self.stack.push((chosen + 1, choices));
                self.pos = 0;
                return true;
            }
        }
        false
    }

    /// Which of `choices` (> 0) alternatives this execution takes here.
    pub fn choose(&mut self, choices: usize) -> usize {
        assert!(choices > 0, "nothing to choose from");
        let chosen = match self.stack.get(self.pos) {
            Some(&(chosen, recorded)) => {
                assert_eq!(
                    recorded, choices,
                    "the replayed prefix offered different choices: the run is not deterministic"
                );
                chosen
            }
            None => {
                self.stack.push((0, choices));
                0
            }
        };
        self.pos += 1;
        chosen
    }
}
