//! A forced take against a user who re-creates the lock after every clear:
//! force clears it a bounded number of times (3), then gives up blocked,
//! leaving the user's lock, instead of fighting the user forever.

use std::fs;

use lockgates::Profile;
use refsup::fault::Faults;
use refsup::locking::{LockRules, Step, TakeAll};
use updatelock::Beneath;

/// The reference's limit (`MAX_CLEARS` in `locking/take_all.rs`).
const CLEARS: u32 = 3;

#[test]
fn forced_take_gives_up_after_three_clears_of_a_lock_that_keeps_coming_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("updates.lock");
    fs::write(&path, b"").unwrap();
    let profile: Profile = "17.3.5@5.1.0".parse().unwrap();
    let rules = LockRules::new(&profile, &Faults::default(), Beneath::new(dir.path()));
    let mut take = TakeAll::new(vec![path.clone()], rules, true);
    let mut clears = 0;
    let blocked = (0..100)
        .find_map(|_| {
            let step = take.step();
            if !path.exists() {
                // Cleared: the user takes it again at once.
                clears += 1;
                fs::write(&path, b"").unwrap();
            }
            match step {
                Step::Continue => None,
                Step::Acquired(_) => panic!("took a lock the user keeps re-creating"),
                Step::Blocked(b) => Some(b),
            }
        })
        .expect("the forced take did not give up within 100 steps");
    assert_eq!(clears, CLEARS, "clears before giving up");
    assert_eq!(blocked.path, path);
    assert!(path.exists(), "the user's lock stays after the give-up");
}
