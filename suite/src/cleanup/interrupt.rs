//! Stopping a run on SIGINT or SIGTERM: the first stops the running cells
//! (each is killed and cleaned up, and what finished is reported); a second
//! kills what the run started and quits at once.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::signal::Signal;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

type Waiter = Box<dyn Fn() + Send>;

/// Whether, and by which signal, a run was asked to stop; running cells
/// register to hear it at once.
#[derive(Default)]
pub struct Interrupt {
    signal: AtomicI32,
    next_id: AtomicU64,
    waiters: Mutex<Vec<(u64, Waiter)>>,
}

impl Interrupt {
    /// Not (yet) interrupted.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The signal that stopped the run, if one did.
    pub fn signal(&self) -> Option<Signal> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            n => Signal::try_from(n).ok(),
        }
    }

    /// Whether the run was asked to stop.
    pub fn is_set(&self) -> bool {
        self.signal.load(Ordering::SeqCst) != 0
    }

    /// Ask the run to stop; `true` the first time, when every registered
    /// cell is told.
    pub fn trigger(&self, signal: Signal) -> bool {
        let first = self
            .signal
            .compare_exchange(0, signal as i32, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if first {
            for (_, tell) in self.waiters.lock().unwrap().iter() {
                tell();
            }
        }
        first
    }

    /// Call `tell` when the run is asked to stop (at once if it was), until
    /// the registration is dropped.
    pub fn register(&self, tell: impl Fn() + Send + 'static) -> Registration<'_> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut waiters = self.waiters.lock().unwrap();
        if self.is_set() {
            tell();
        }
        waiters.push((id, Box::new(tell)));
        Registration {
            interrupt: self,
            id,
        }
    }
}

/// A cell listening to an [`Interrupt`]; dropping it stops listening.
pub struct Registration<'a> {
    interrupt: &'a Interrupt,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut waiters = self.interrupt.waiters.lock().unwrap();
        waiters.retain(|(id, _)| *id != self.id);
    }
}

/// Handle SIGINT and SIGTERM on a thread of their own: the first triggers
/// `interrupt`; a second kills what this run started and exits with
/// `exit_code` at once. (Handlers, not a blocked mask: children must start
/// with SIGTERM deliverable, and exec resets handlers but not the mask.)
pub fn handle_signals(interrupt: Arc<Interrupt>, exit_code: u8) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("lockcheck-signals".into())
        .spawn(move || {
            for raw in signals.forever() {
                let Ok(signal) = Signal::try_from(raw) else {
                    continue;
                };
                if interrupt.trigger(signal) {
                    eprintln!(
                        "lockcheck: {signal}: stopping the running cells and cleaning up (again to quit at once)"
                    );
                } else {
                    eprintln!(
                        "lockcheck: {signal} again: killing what the run started and quitting"
                    );
                    super::end_of_run();
                    std::process::exit(exit_code.into());
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn registered_cells_hear_the_first_signal_once() {
        let interrupt = Interrupt::new();
        let heard = Arc::new(AtomicUsize::new(0));
        let h = heard.clone();
        let registration = interrupt.register(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!interrupt.is_set());
        assert!(interrupt.trigger(Signal::SIGINT));
        assert!(!interrupt.trigger(Signal::SIGTERM));
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        assert_eq!(interrupt.signal(), Some(Signal::SIGINT));
        drop(registration);

        let late = Arc::new(AtomicUsize::new(0));
        let l = late.clone();
        let _registration = interrupt.register(move || {
            l.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(
            late.load(Ordering::SeqCst),
            1,
            "told at once when already stopped"
        );
    }
}
