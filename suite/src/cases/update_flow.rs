//! U1-U5: downloads, applying after release, strategies, metadata-only
//! changes and app removal.

use std::time::Instant;

use anyhow::{ensure, Context};
use serde_json::Value;

use super::{blocks_until_released, pending_behind_lock};
use crate::case::CaseResult;
use crate::ctx::Ctx;
use crate::outcome::Promise;
use crate::release::Svc;
use lockcheck_macros::case;

/// the new release is downloaded (state reports it downloaded) but not applied while a lock is
/// held
#[case(
    id = "U1",
    title = "download while locked",
    promise = |_| Promise::Pass
)]
fn u1_download_while_locked(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let before = ctx.kill_snapshot()?;
    ctx.bump(1);
    ctx.deploy()?;
    // A device without `update_downloaded` (helios has no /v1/device) is
    // judged on what it shows: pending, and nothing killed.
    let reports_download = ctx.device_field("update_downloaded").is_some();
    if reports_download {
        ctx.wait_for("update_downloaded", || {
            Ok((ctx.device_field("update_downloaded") == Some(Value::Bool(true))).then_some(()))
        })?;
    }
    ctx.wait_pending()?;
    ensure!(
        !reports_download || ctx.device_field("update_downloaded") == Some(Value::Bool(true)),
        "expected update_downloaded while locked"
    );
    ctx.ensure_not_killed(&before, 1)?;
    ctx.release_lock(&lock)?;
    ctx.wait_applied()
}

/// once the last lock is gone the pending update is applied; the supervisor does not watch the
/// lock: a locked update is a failed apply (update_failed from 1.6.0) retried after min(2^n x
/// 500 ms, cap), so it lands within one retry delay
#[case(
    id = "U2",
    title = "apply after release",
    promise = |_| Promise::Pass
)]
fn u2_apply_after_release(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = pending_behind_lock(ctx)?;
    if ctx.profile.update_failed_field() && ctx.device_field("update_failed").is_some() {
        ensure!(
            ctx.device_field("update_failed") == Some(Value::Bool(true)),
            "expected update_failed while the update waits behind a lock"
        );
    }
    let released = Instant::now();
    ctx.release_lock(&lock)?;
    ctx.wait_applied()?;
    let ms = released.elapsed().as_secs_f64() * 1000.0;
    ctx.metrics.push(("u2_latency_ms".into(), ms));
    if ctx.device_field("update_failed").is_some() {
        // Cleared when the apply's pass ends, a moment after its containers
        // run (on the Docker runtime, after the engine answered for them).
        ctx.wait_for("update_failed cleared once applied", || {
            Ok((ctx.device_field("update_failed") == Some(Value::Bool(false))).then_some(()))
        })?;
    }
    Ok(())
}

/// download-then-kill, kill-then-download, delete-then-download and hand-over all respect
/// locks; from 16.2.0 the hand-over step takes no lock, so a hand-over update goes ahead while
/// locked (hazard)
#[case(
    id = "U3",
    title = "every update strategy",
    promise = |p| Promise::hazard_if(p.hand_over_ignores_locks())
)]
fn u3_every_update_strategy(ctx: &mut Ctx) -> CaseResult {
    for strategy in [
        "download-then-kill",
        "kill-then-download",
        "delete-then-download",
        "hand-over",
    ] {
        ctx.set_app(1, &[("main", Svc::idle().strategy(strategy))]);
        ctx.deploy()?;
        ctx.wait_applied()?;
        let lock = ctx.primary_path("main");
        ctx.user_lock(&lock)?;
        if strategy == "hand-over" && ctx.profile.hand_over_ignores_locks() {
            ctx.bump(1);
            ctx.deploy()?;
            ctx.wait_applied().context(
                "expected the hand-over to go ahead despite the lock (documented hazard)",
            )?;
            ctx.release_lock(&lock)?;
            continue;
        }
        blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
            .map_err(|e| e.context(format!("strategy {strategy}")))?;
    }
    Ok(())
}

/// a change that kills no container (only the release changes) still takes the locks, from
/// 7.0.0 (17.3.5 only delays taking them until the images are downloaded); before 7.0.0 every
/// release was a new image
#[case(
    id = "U4",
    title = "metadata-only change",
    promise = |p| Promise::applies_if(p.metadata_update_takes_locks(), Promise::Pass)
)]
fn u4_metadata_only_change(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let before = ctx.kill_snapshot()?;
    ctx.bump_metadata(1);
    ctx.deploy()?;
    ctx.wait_pending()
        .context("a metadata-only change must wait for the lock")?;
    ctx.release_lock(&lock)?;
    ctx.wait_applied()?;
    for ((_, name), count) in &before {
        ensure!(
            ctx.sigterms(1, name)? == *count,
            "expected {name} not restarted by a metadata-only change"
        );
    }
    Ok(())
}

/// removing an app takes its locks (blocked by a user lock) and leaves no supervisor lock
/// behind, except 16.2.0 - 16.12.6 where the removal never released them (hazard)
#[case(
    id = "U5",
    title = "app removal",
    promise = |p| Promise::hazard_if(p.removal_leaves_lock())
)]
fn u5_app_removal(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    let before = ctx.kill_snapshot()?;
    ctx.state.apps.remove(&1);
    ctx.deploy()?;
    ctx.settled()?;
    ensure!(
        ctx.containers()?.iter().any(|c| c.app_id == 1),
        "expected the locked app to stay installed"
    );
    ctx.ensure_not_killed(&before, 1)?;
    ctx.release_lock(&lock)?;
    ctx.wait_applied()?;
    let left = |ctx: &crate::ctx::Ctx| -> Vec<std::path::PathBuf> {
        ctx.profile
            .lock_files()
            .iter()
            .map(|f| ctx.lock_path(1, "main", f))
            .filter(|p| ctx.held(p))
            .collect()
    };
    if !ctx.profile.removal_leaves_lock() {
        // The supervisor releases a moment after the last container goes.
        ctx.wait_for("no supervisor lock left after the removal", || {
            Ok(left(ctx).is_empty().then_some(()))
        })?;
    } else {
        ctx.settled()?;
        ensure!(
            !left(ctx).is_empty(),
            "expected this version to leave its locks behind after removal (documented hazard)"
        );
    }
    Ok(())
}
