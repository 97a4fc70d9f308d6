//! C1-C3: a supervisor that dies holding its locks, and the clean-up at start.

use anyhow::{ensure, Context};
use updatelock::{Owner, TakeOptions};

use super::tmp_lock;
use crate::case;
use crate::outcome::Promise;

case! {
    id: "C1",
    title: "leftover supervisor locks",
    spec: "if the supervisor dies holding its locks and restarts: from 13.1.0 it removes the locks it owns (uid 65534) and goes on; before 13.1.0 they block updates until a reboot",
    promise: |p| if p.cleans_leftover_locks() || tmp_lock(p).is_none() { Promise::Pass } else { Promise::Hazard },
    needs: [PauseHook, Restart],
    fn c1_leftover_supervisor_locks(ctx) {
        ctx.start_simple()?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_paused()?;
        // Crash while holding the locks, and come back without the hook.
        ctx.restart_supervisor(false)?;
        let _ = ctx.resume();
        let cleaned = ctx.profile.cleans_leftover_locks() || tmp_lock(&ctx.profile).is_none();
        if cleaned {
            ctx.wait_applied()?;
            for file in ctx.profile.lock_files() {
                let path = ctx.lock_path(1, "main", &file);
                ensure!(!ctx.held(&path), "expected no leftover lock at {}", path.display());
            }
            return Ok(());
        }
        // Documented hazard: its own leftover locks block it until a reboot.
        ctx.wait_pending()?;
        let boot = ctx.boot_count()?;
        ensure!(ctx.post_force("/v1/reboot", true)? == 202, "forced reboot refused");
        ctx.wait_for("the reboot", || Ok((ctx.boot_count()? > boot).then_some(())))?;
        ctx.wait_applied()
    }
}

case! {
    id: "C2",
    title: "cleanup spares user locks",
    spec: "cleanup never removes a lock not owned by uid 65534",
    promise: |p| if tmp_lock(p).is_some() { Promise::Pass } else { Promise::NotApplicable },
    needs: [Restart],
    fn c2_cleanup_spares_user_locks(ctx) {
        ctx.start_simple()?;
        let file = tmp_lock(&ctx.profile).context("no /tmp lock")?;
        let lock = ctx.lock_path(1, "main", &file);
        ctx.user_lock(&lock)?;
        ctx.restart_supervisor(false)?;
        ctx.settled()?;
        ensure!(ctx.held(&lock), "expected the root-owned user lock to survive a supervisor restart");
        Ok(())
    }
}

case! {
    id: "C3",
    title: "nobody-owned user lock",
    spec: "hazard from 13.1.0: a service running as uid 65534 has its lock mistaken for a leftover and removed",
    promise: |p| if tmp_lock(p).is_none() { Promise::NotApplicable } else if p.cleans_leftover_locks() { Promise::Hazard } else { Promise::Pass },
    needs: [Restart],
    fn c3_nobody_owned_user_lock(ctx) {
        ctx.start_simple()?;
        let file = tmp_lock(&ctx.profile).context("no /tmp lock")?;
        let lock = ctx.lock_path(1, "main", &file);
        let lock_taken = updatelock::take(&lock, &TakeOptions { owner: Some(Owner::NOBODY), ..TakeOptions::default() })?;
        drop(lock_taken); // a Lock leaves its file when dropped
        ctx.restart_supervisor(false)?;
        ctx.settled()?;
        if ctx.profile.cleans_leftover_locks() {
            ensure!(!ctx.held(&lock), "expected the nobody-owned user lock to be removed as a leftover (documented hazard)");
        } else {
            ensure!(ctx.held(&lock), "expected the user lock to survive: this version has no leftover clean-up");
        }
        Ok(())
    }
}
