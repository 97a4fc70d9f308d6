//! Failed applies and their backoff (U2): a pass held back by a lock (or a
//! service that cannot start) counts as a failed apply; `update_failed` is
//! reported until a pass succeeds, and the next pass waits the profile's
//! retry delay, logging "Updates are locked, retrying in ..." where the
//! version did.

use std::time::Duration;

use super::Engine;

/// Consecutive failed applies and what the last one was.
#[derive(Debug, Default, Clone)]
pub(crate) struct RetryState {
    /// Failed passes in a row (0 after a success).
    pub failures: u32,
    /// Why the last pass failed.
    pub reason: Option<String>,
}

impl Engine {
    /// Record how a pass ended; returns how long to wait for the next one
    /// unless something wakes the reconciler first.
    pub(super) fn pass_ended(&self, failure: Option<String>) -> Duration {
        let profile = &self.cfg.profile;
        let mut shared = self.shared.lock().unwrap();
        let Some(reason) = failure else {
            shared.retry = RetryState::default();
            return self.scaled(profile.poll_interval());
        };
        shared.retry.failures = shared.retry.failures.saturating_add(1);
        let delay = profile.retry_delay(shared.retry.failures);
        let changed = shared.retry.reason.as_deref() != Some(&reason);
        shared.retry.reason = Some(reason.clone());
        let failures = shared.retry.failures;
        drop(shared);
        // One line per failure, as the real supervisor logs it; a bounded
        // log because the delay doubles (only reason changes are at info
        // level once the delay is long).
        let shown = humantime_ms(delay);
        if profile.locked_log_line() {
            tracing::info!("Updates are locked, retrying in {shown}. Reason: {reason}");
        } else if changed || failures.is_power_of_two() {
            tracing::info!("Scheduling another update attempt in {shown} due to failure: {reason}");
        }
        self.scaled(delay)
    }

    /// Whether the last apply failed and is waiting for its retry.
    pub(crate) fn update_failed(&self) -> bool {
        self.shared.lock().unwrap().retry.failures > 0
    }
}

/// `1s`, `500ms`, `15m`: how the real supervisor prints the delay.
fn humantime_ms(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}m", ms / 60_000)
    }
}
