//! C1-C3: a supervisor that dies holding its locks, and the clean-up at start.

use anyhow::{ensure, Context};
use updatelock::Owner;

use super::tmp_lock;
use crate::case::CaseResult;
use crate::ctx::Ctx;
use crate::outcome::Promise;
use lockcheck_macros::case;

/// Whether a crashed supervisor's own locks stop nothing after a restart:
/// removed at start (13.1.0 - 16.1.x), adopted (16.2.0), or there is no
/// /tmp lock (before 4.0.0 only the /data lock, cleared at every start).
fn leftovers_harmless(p: &lockgates::Profile) -> bool {
    p.cleans_leftover_locks_at_start() || p.adopts_leftover_locks() || tmp_lock(p).is_none()
}

/// Whether a nobody-owned user lock is lost to the supervisor's leftover
/// handling (C3 hazard).
fn nobody_lock_lost(p: &lockgates::Profile) -> bool {
    p.cleans_leftover_locks_at_start() || p.adopts_leftover_locks()
}

/// if the supervisor dies holding its locks and restarts: 13.1.0 - 16.1.x its start script
/// deletes the uid-65534 locks; from 16.2.0 it adopts them as its own and goes on; before
/// 13.1.0 they block updates until a reboot (hazard)
#[case(
    id = "C1",
    title = "leftover supervisor locks",
    promise = |p| Promise::hazard_if(!leftovers_harmless(p)),
    needs = [PauseHook, Restart]
)]
fn c1_leftover_supervisor_locks(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_paused()?;
    // Crash while holding the locks, and come back without the hook.
    ctx.restart_supervisor(false)?;
    let _ = ctx.resume();
    if leftovers_harmless(&ctx.profile) {
        ctx.wait_applied()?;
        for file in ctx.profile.lock_files() {
            let path = ctx.lock_path(1, "main", &file);
            ensure!(
                !ctx.held(&path),
                "expected no leftover lock at {}",
                path.display()
            );
        }
        return Ok(());
    }
    // Documented hazard: its own leftover locks block it until a reboot.
    ctx.wait_pending()?;
    let boot = ctx.boot_id()?;
    ensure!(
        ctx.post_force("/v1/reboot", true)? == 202,
        "forced reboot refused"
    );
    ctx.wait_for("the reboot", || Ok((ctx.boot_id()? != boot).then_some(())))?;
    ctx.wait_applied()
}

/// cleanup never removes a lock not owned by uid 65534
#[case(
    id = "C2",
    title = "cleanup spares user locks",
    promise = |p| Promise::applies_if(tmp_lock(p).is_some(), Promise::Pass),
    needs = [Restart]
)]
fn c2_cleanup_spares_user_locks(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let file = tmp_lock(&ctx.profile).context("no /tmp lock")?;
    let lock = ctx.lock_path(1, "main", &file);
    ctx.user_lock(&lock)?;
    ctx.restart_supervisor(false)?;
    ctx.settled()?;
    ensure!(
        ctx.held(&lock),
        "expected the root-owned user lock to survive a supervisor restart"
    );
    Ok(())
}

/// hazard from 13.1.0: a service running as uid 65534 has its lock taken for a supervisor
/// leftover: 13.1.0 - 16.1.x it is deleted when the supervisor restarts; from 16.2.0 it does
/// not block an update and is deleted with the supervisor's locks
#[case(
    id = "C3",
    title = "nobody-owned user lock",
    promise = |p| {
        Promise::applies_if(tmp_lock(p).is_some(), Promise::hazard_if(nobody_lock_lost(p)))
    },
    needs = [Restart]
)]
fn c3_nobody_owned_user_lock(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let file = tmp_lock(&ctx.profile).context("no /tmp lock")?;
    let lock = ctx.lock_path(1, "main", &file);
    ctx.user_lock_as(&lock, Some(Owner::NOBODY.uid))?;
    if ctx.profile.cleans_leftover_locks_at_start() {
        ctx.restart_supervisor(false)?;
        ctx.settled()?;
        ensure!(
            !ctx.held(&lock),
            "expected the nobody-owned user lock removed at supervisor start (documented hazard)"
        );
        return Ok(());
    }
    if ctx.profile.adopts_leftover_locks() {
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_applied().context(
            "expected the nobody-owned user lock not to block the update (documented hazard)",
        )?;
        ensure!(
            !ctx.held(&lock),
            "expected the nobody-owned lock deleted with the supervisor's (documented hazard)"
        );
        return Ok(());
    }
    ctx.restart_supervisor(false)?;
    super::blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
}
