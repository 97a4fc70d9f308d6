//! U1-U5: downloads, applying after release, strategies, metadata-only
//! changes and app removal.

use std::time::Instant;

use anyhow::ensure;

use super::{blocks_until_released, pending_behind_lock};
use crate::case;
use crate::outcome::Promise;
use crate::release::Svc;

case! {
    id: "U1",
    title: "download while locked",
    spec: "the new release is downloaded (state reports it downloaded) but not applied while a lock is held",
    promise: |_| Promise::Pass,
    needs: [],
    fn u1_download_while_locked(ctx) {
        ctx.start_simple()?;
        let lock = ctx.primary_path("main");
        ctx.user_lock(&lock)?;
        let before = ctx.kill_snapshot()?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_for("update_downloaded", || Ok((ctx.device_info()?["update_downloaded"] == true).then_some(())))?;
        ctx.wait_pending()?;
        ensure!(ctx.device_info()?["update_downloaded"] == true, "expected update_downloaded while locked");
        ctx.ensure_not_killed(&before, 1)?;
        ctx.release_lock(&lock)?;
        ctx.wait_applied()
    }
}

case! {
    id: "U2",
    title: "apply after release",
    spec: "once the last lock is gone the pending update is applied; the reference does it within 2 s (event-driven, not slow polling)",
    promise: |_| Promise::Pass,
    needs: [],
    fn u2_apply_after_release(ctx) {
        ctx.start_simple()?;
        let lock = pending_behind_lock(ctx)?;
        let released = Instant::now();
        ctx.release_lock(&lock)?;
        ctx.wait_applied()?;
        let ms = released.elapsed().as_secs_f64() * 1000.0;
        ctx.metrics.push(("u2_latency_ms".into(), ms));
        ensure!(ms <= 2000.0, "expected the update applied within 2 s of the release, took {ms:.0} ms");
        Ok(())
    }
}

case! {
    id: "U3",
    title: "every update strategy",
    spec: "download-then-kill, kill-then-download, delete-then-download and hand-over all respect locks",
    promise: |_| Promise::Pass,
    needs: [],
    fn u3_every_update_strategy(ctx) {
        for strategy in ["download-then-kill", "kill-then-download", "delete-then-download", "hand-over"] {
            ctx.set_app(1, &[("main", Svc::idle().strategy(strategy))]);
            ctx.deploy()?;
            ctx.wait_applied()?;
            let lock = ctx.primary_path("main");
            ctx.user_lock(&lock)?;
            blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
                .map_err(|e| e.context(format!("strategy {strategy}")))?;
        }
        Ok(())
    }
}

case! {
    id: "U4",
    title: "metadata-only change",
    spec: "from 17.3.5 a change that kills no container is applied without taking locks",
    promise: |_| Promise::Pass,
    needs: [],
    fn u4_metadata_only_change(ctx) {
        ctx.start_simple()?;
        let lock = ctx.primary_path("main");
        ctx.user_lock(&lock)?;
        let before = ctx.kill_snapshot()?;
        ctx.bump_metadata(1);
        ctx.deploy()?;
        if ctx.profile.metadata_change_without_locks() {
            ctx.wait_applied()?;
        } else {
            ctx.wait_pending()?;
            ctx.release_lock(&lock)?;
            ctx.wait_applied()?;
        }
        // Either way nothing restarts for a metadata-only change.
        for ((_, name), count) in &before {
            ensure!(ctx.sigterms(1, name)? == *count, "expected {name} not restarted by a metadata-only change");
        }
        Ok(())
    }
}

case! {
    id: "U5",
    title: "app removal",
    spec: "removing an app takes its locks (blocked by a user lock) and, from 16.12.7, leaves no supervisor lock behind",
    promise: |p| if p.removal_leaves_no_lock() { Promise::Pass } else { Promise::Hazard },
    needs: [],
    fn u5_app_removal(ctx) {
        ctx.start_simple()?;
        let lock = ctx.primary_path("main");
        ctx.user_lock(&lock)?;
        let before = ctx.kill_snapshot()?;
        ctx.state.apps.remove(&1);
        ctx.deploy()?;
        ctx.settled()?;
        ensure!(ctx.containers()?.iter().any(|c| c["appId"] == 1), "expected the locked app to stay installed");
        ctx.ensure_not_killed(&before, 1)?;
        ctx.release_lock(&lock)?;
        ctx.wait_applied()?;
        let left: Vec<_> = ctx
            .profile
            .lock_files()
            .iter()
            .map(|f| ctx.lock_path(1, "main", f))
            .filter(|p| ctx.held(p))
            .collect();
        if ctx.profile.removal_leaves_no_lock() {
            ensure!(left.is_empty(), "expected no lock left after removal, found {left:?}");
        } else {
            ensure!(!left.is_empty(), "expected this version to leave its locks behind after removal (documented hazard)");
        }
        Ok(())
    }
}
