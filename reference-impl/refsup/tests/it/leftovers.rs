//! refsup leaves no service behind when it is told to stop: not when the
//! SIGTERM comes right after it announced itself (P3 and C1 restart it and
//! finish at once), and its services carry a test harness's marks so that
//! the harness can find whatever outlived a crash.

use crate::common;

use common::{running, Refsup};
use lockcheck_reaper::Owner;

const PROFILE: &str = "2.8.2@1.20.0";

fn environ(pid: u64) -> Vec<String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    bytes
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Alive, not a zombie waiting for us to reap it.
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat[stat.rfind(')').unwrap() + 2..].chars().next(),
            Some('Z' | 'X')
        )
    })
}

#[test]
fn services_carry_the_harness_marks() {
    let (r, pid) = running(PROFILE, &[]);
    let env = environ(pid.unwrap());
    assert!(
        env.contains(&format!("LOCKCHECK_RUN={}", Owner::this_process())),
        "{env:?}"
    );
    assert!(
        env.contains(&format!("LOCKCHECK_CELL={}", r.root.display())),
        "{env:?}"
    );
}

#[test]
fn sigterm_right_after_a_restart_stops_the_adopted_services() {
    // The window was short but hit most runs of P3: repeat it.
    for _ in 0..5 {
        let (r, pid) = running(PROFILE, &[]);
        let pid = pid.unwrap();
        let (root, _dir) = r.crash();
        assert!(alive(pid), "a crash leaves the service running");
        let mut again = Refsup::start_on(&root, PROFILE, &[]);
        // At once, as a case that is done the moment refsup is back.
        unsafe { libc::kill(again.child.id() as i32, libc::SIGTERM) };
        let status = again.child.wait().unwrap();
        assert!(status.success(), "SIGTERM is handled, not fatal: {status}");
        assert!(!alive(pid), "the adopted service {pid} was stopped");
    }
}
