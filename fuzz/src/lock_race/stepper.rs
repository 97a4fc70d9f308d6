//! A run driven one op at a time from outside, for the explorer: it decides
//! the next op from what the supervisor is doing.

use lockgates::Profile;
use refsup::fault::Faults;

use super::race::{Break, Race};
use super::{Op, Outcome, Row, Settings};

/// A run in progress; see [`super::check`] for the one-shot form.
pub struct Stepper<'s> {
    race: Race<'s>,
    done: usize,
    broken: Option<Break>,
}

impl<'s> Stepper<'s> {
    /// A fresh run of an app with `services % 4 + 1` services.
    pub fn new(
        services: u8,
        profile: &Profile,
        faults: &Faults,
        settings: &'s Settings,
        tracing: bool,
    ) -> Result<Stepper<'s>, String> {
        Ok(Stepper {
            race: Race::new(services, profile, faults, settings, tracing)?,
            done: 0,
            broken: None,
        })
    }

    /// Apply `op`; `false` once an invariant has broken (later ops are
    /// ignored).
    pub fn apply(&mut self, op: Op) -> bool {
        if self.broken.is_some() {
            return false;
        }
        if let Err(b) = self.race.apply(self.done, op) {
            self.broken = Some(b);
        }
        self.done += 1;
        self.broken.is_none()
    }

    /// The device root this run works in (for a test that plants an entry
    /// the model knows nothing about).
    pub fn root(&self) -> &std::path::Path {
        self.race.fx.layout.root()
    }

    /// Whether a take is running or its locks are held.
    pub fn supervisor_busy(&self) -> bool {
        self.race.supervisor_busy()
    }

    /// Finish the take, audit, and judge; with the trace when tracing.
    pub fn finish(mut self) -> (Result<Outcome, String>, Vec<Row>) {
        let result = match self.broken.take() {
            Some(b) => Err(b),
            None => self.race.finish(self.done),
        };
        let outcome = self.race.judge(result);
        (outcome, self.race.take_trace())
    }
}
