//! L1-L6: how locks are taken and what counts as one.

use anyhow::{ensure, Context};
use std::os::unix::fs::MetadataExt;

use super::blocks_until_released;
use crate::case;
use crate::outcome::Promise;
use crate::release::Svc;

case! {
    id: "L1",
    title: "exclusive",
    spec: "the supervisor takes every lock of every service of an app by exclusive create before killing any of them; if any entry exists, nothing is killed and the update stays pending; 7.0.0 - 16.1.x each step takes and releases the locks by itself, so a lock taken between two steps leaves the release half-applied (hazard)",
    promise: |p| if p.locks_per_step() { Promise::Hazard } else { Promise::Pass },
    needs: [StepPauseHook],
    fn l1_exclusive(ctx) {
        ctx.set_app(1, &[("a", Svc::idle()), ("b", Svc::idle())]);
        ctx.deploy()?;
        ctx.wait_applied()?;
        // The lock is in the later service, so a supervisor that kills
        // service by service would kill `a` before finding it.
        let lock = ctx.lock_path(1, "b", &ctx.primary());
        ctx.user_lock(&lock)?;
        blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))?;
        if !ctx.profile.locks_per_step() {
            return Ok(());
        }
        // Per-step locking: after a's step released the locks, b's lock is
        // taken before b's step: a is replaced, b is not.
        let before = ctx.kill_snapshot()?;
        ctx.arm_step_pause()?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_step_paused()?;
        std::fs::create_dir_all(lock.parent().context("lock dir")?)?;
        updatelock::take(&lock, &updatelock::TakeOptions::default())
            .context("expected the lock free between two steps")
            .map(drop)?;
        ctx.resume_step()?;
        let commit = ctx.state.apps[&1].commit.clone();
        ctx.wait_for("service a at the new release while b's step is blocked", || {
            Ok(ctx.containers()?.iter().any(|c| c["serviceName"] == "a" && c["commit"] == serde_json::json!(commit) && c["status"] == "Running").then_some(()))
        })?;
        let b_killed = ctx.sigterms(1, "b")? > before.iter().find(|((_, n), _)| n == "b").map_or(0, |(_, c)| *c);
        ensure!(!b_killed, "expected b untouched behind its lock");
        ctx.wait_pending().context("expected the release half-applied (documented hazard)")?;
        ctx.release_lock(&lock)?;
        ctx.wait_applied()
    }
}

case! {
    id: "L2",
    title: "touch counts",
    spec: "a lock made by plain touch blocks updates (existence is all the supervisor checks)",
    promise: |_| Promise::Pass,
    needs: [],
    fn l2_touch_counts(ctx) {
        ctx.start_simple()?;
        let lock = ctx.primary_path("main");
        ctx.touch(&lock)?;
        blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
    }
}

case! {
    id: "L3",
    title: "touch is unsafe",
    spec: "touch succeeds while the supervisor holds the lock, so a service using it can be killed inside its critical section",
    promise: |_| Promise::Hazard,
    needs: [PauseHook],
    fn l3_touch_is_unsafe(ctx) {
        let go = ctx.work.join("go");
        let hold = ctx.work.join("hold");
        let path = ctx.primary().service_path;
        let (go_s, hold_s) = (go.display().to_string(), hold.display().to_string());
        ctx.set_app(1, &[("main", Svc::fixture(&["--method", "touch", "--lock", path, "--start-when", &go_s, "--hold-while", &hold_s]))]);
        ctx.deploy()?;
        ctx.wait_applied()?;
        ctx.bump(1);
        ctx.deploy()?;
        // The supervisor holds the lock and is paused before killing.
        ctx.wait_paused()?;
        std::fs::write(&hold, "")?;
        std::fs::write(&go, "")?;
        ctx.wait_for("the touch-locked service to enter its critical section", || {
            Ok(ctx.records(1, "main")?.iter().any(|r| r.ev == "enter").then_some(()))
        })?;
        ctx.resume()?;
        ctx.wait_for("a SIGTERM inside the critical section", || {
            let records = ctx.records(1, "main")?;
            Ok(fixture_app::log::sigterm_in_critical(&records).then_some(()))
        })?;
        std::fs::remove_file(&hold)?;
        Ok(())
    }
}

case! {
    id: "L4",
    title: "owner",
    spec: "supervisor-made locks are owned by uid 0 before 13.1.0 and by uid 65534 (nobody) from 13.1.0",
    promise: |_| Promise::Pass,
    needs: [PauseHook],
    fn l4_owner(ctx) {
        ctx.start_simple()?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_paused()?;
        let want = ctx.profile.lock_owner_uid();
        for file in ctx.profile.lock_files() {
            let path = ctx.lock_path(1, "main", &file);
            let meta = std::fs::symlink_metadata(&path)
                .with_context(|| format!("expected the supervisor's lock at {}, found nothing", path.display()))?;
            ensure!(meta.is_file(), "expected a regular file at {}", path.display());
            ensure!(meta.uid() == want, "expected {} owned by uid {want}, saw uid {}", path.display(), meta.uid());
        }
        ctx.resume()?;
        ctx.wait_applied()
    }
}

case! {
    id: "L5",
    title: "directories",
    spec: "an empty directory at a lock path is a held lock; from 14.0.15 force can remove it (14.0.10 tried only on EPERM, Linux says EISDIR); 7.0.0 - 14.0.14 it stays and blocks even a forced update; before 7.0.0 force skips the locks and the directory stays",
    promise: |_| Promise::Pass,
    needs: [],
    fn l5_directories(ctx) {
        ctx.start_simple()?;
        let lock = ctx.primary_path("main");
        std::fs::create_dir_all(&lock)?;
        let before = ctx.kill_snapshot()?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_pending()?;
        ctx.ensure_not_killed(&before, 1)?;
        ensure!(ctx.post_force("/v1/update", true)? == 204, "POST /v1/update force did not answer 204");
        if ctx.profile.force_skips_locks() {
            ctx.wait_applied()?;
            ensure!(lock.is_dir(), "expected the directory to stay (force skips the locks on this version)");
        } else if ctx.profile.directory_lock_removable() {
            ctx.wait_applied()?;
            ensure!(!ctx.held(&lock), "expected force to remove the directory lock");
        } else {
            ctx.wait_pending()?;
            ctx.ensure_not_killed(&before, 1)?;
            ensure!(lock.is_dir(), "expected the directory lock to survive force on this version");
            std::fs::remove_dir(&lock)?;
            ctx.wait_applied()?;
        }
        Ok(())
    }
}

case! {
    id: "L6",
    title: "symlinks",
    spec: "a symlink at a lock path is held (taking a lock never follows it) and its target is never read, changed or deleted; force removes the link itself, except 16.2.0 - 16.2.8 where a dangling link puts every take, even forced, in an error loop (hazard)",
    promise: |p| if p.own_lock_scan_follows_links() { Promise::Hazard } else { Promise::Pass },
    needs: [],
    fn l6_symlinks(ctx) {
        ctx.start_simple()?;
        let lock = ctx.primary_path("main");
        std::fs::create_dir_all(lock.parent().unwrap())?;
        let dangling = ctx.work.join("link-target");
        std::os::unix::fs::symlink(&dangling, &lock)?;
        let before = ctx.kill_snapshot()?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_pending().context("a dangling symlink at the lock path must block")?;
        ctx.ensure_not_killed(&before, 1)?;
        ensure!(!dangling.exists(), "expected the link target never to be created, but {} exists", dangling.display());
        // A link to a real file: held, and the file is left alone.
        // Swap the link atomically (rename over it): a moment without any
        // entry would let the supervisor take the lock and go on.
        let real = ctx.work.join("real-file");
        std::fs::write(&real, "keep")?;
        let staged = lock.with_extension("staged");
        std::os::unix::fs::symlink(&real, &staged)?;
        std::fs::rename(&staged, &lock)?;
        ctx.wait_pending().context("a symlink to a file at the lock path must block")?;
        ctx.ensure_not_killed(&before, 1)?;
        std::fs::remove_file(&lock)?;
        ctx.wait_applied()?;
        ensure!(std::fs::read_to_string(&real)? == "keep", "expected the link target untouched");
        // Force against a dangling link.
        std::os::unix::fs::symlink(&dangling, &lock)?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_pending()?;
        ensure!(ctx.post_force("/v1/update", true)? == 204, "POST /v1/update force did not answer 204");
        if ctx.profile.own_lock_scan_follows_links() {
            // Documented hazard: the scan stat()s the link and fails, forced or not.
            ctx.wait_pending().context("expected a forced update to stay failed behind a dangling link (16.2.0 - 16.2.8)")?;
            std::fs::remove_file(&lock)?;
            ctx.wait_applied()?;
        } else {
            ctx.wait_applied().context("expected force to remove the dangling link and apply")?;
        }
        ensure!(!dangling.exists(), "expected the link target never to be created, but {} exists", dangling.display());
        Ok(())
    }
}
