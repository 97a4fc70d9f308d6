//! L1-L9: how locks are taken, what counts as one, locks across services,
//! partial takes and concurrent operations.

use anyhow::{ensure, Context};

use super::blocks_until_released;
use crate::case::CaseResult;
use crate::ctx::Ctx;
use crate::outcome::Promise;
use crate::release::Svc;
use crate::sut::EntryKind;
use lockcheck_macros::case;
use serde_json::json;

/// the supervisor takes every lock of every service of an app by exclusive create before
/// killing any of them; if any entry exists, nothing is killed and the update stays pending;
/// 7.0.0 - 16.1.x each step takes and releases the locks by itself, so a lock taken between two
/// steps leaves the release half-applied (hazard)
#[case(
    id = "L1",
    title = "exclusive",
    promise = |p| Promise::hazard_if(p.locks_per_step()),
    needs = [StepPauseHook]
)]
fn l1_exclusive(ctx: &mut Ctx) -> CaseResult {
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
    ctx.take_now(&lock)
        .context("expected the lock free between two steps")?;
    ctx.resume_step()?;
    let commit = ctx.state.apps[&1].commit.clone();
    ctx.wait_for(
        "service a at the new release while b's step is blocked",
        || Ok(ctx.runs_at(1, "a", &commit)?.then_some(())),
    )?;
    let b_killed = ctx.sigterms(1, "b")?
        > before
            .iter()
            .find(|((_, n), _)| n == "b")
            .map_or(0, |(_, c)| *c);
    ensure!(!b_killed, "expected b untouched behind its lock");
    ctx.wait_pending()
        .context("expected the release half-applied (documented hazard)")?;
    ctx.release_lock(&lock)?;
    ctx.wait_applied()
}

/// a lock made by plain touch blocks updates (existence is all the supervisor checks)
#[case(
    id = "L2",
    title = "touch counts",
    promise = |_| Promise::Pass
)]
fn l2_touch_counts(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.touch(&lock)?;
    blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
}

/// touch succeeds while the supervisor holds the lock, so a service using it can be killed
/// inside its critical section
#[case(
    id = "L3",
    title = "touch is unsafe",
    promise = |_| Promise::Hazard,
    needs = [PauseHook]
)]
fn l3_touch_is_unsafe(ctx: &mut Ctx) -> CaseResult {
    let (go_s, go) = ctx.signal_file(1, "main", "go");
    let (hold_s, hold) = ctx.signal_file(1, "main", "hold");
    let path = ctx.primary().service_path;
    ctx.set_app(
        1,
        &[(
            "main",
            Svc::fixture(&[
                "--method",
                "touch",
                "--lock",
                path,
                "--start-when",
                &go_s,
                "--hold-while",
                &hold_s,
            ]),
        )],
    );
    ctx.deploy()?;
    ctx.wait_applied()?;
    ctx.bump(1);
    ctx.deploy()?;
    // The supervisor holds the lock and is paused before killing.
    ctx.wait_paused()?;
    ctx.files().write(&hold, b"")?;
    ctx.files().write(&go, b"")?;
    ctx.wait_for(
        "the touch-locked service to enter its critical section",
        || {
            Ok(ctx
                .records(1, "main")?
                .iter()
                .any(|r| r.ev == "enter")
                .then_some(()))
        },
    )?;
    ctx.resume()?;
    ctx.wait_for("a SIGTERM inside the critical section", || {
        let records = ctx.records(1, "main")?;
        Ok(fixture_app::log::sigterm_in_critical(&records).then_some(()))
    })?;
    ctx.files().remove(&hold)?;
    Ok(())
}

/// supervisor-made locks are owned by uid 0 before 13.1.0 and by uid 65534 (nobody) from 13.1.0
#[case(
    id = "L4",
    title = "owner",
    promise = |_| Promise::Pass,
    needs = [PauseHook]
)]
fn l4_owner(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_paused()?;
    let want = ctx.profile.lock_owner_uid();
    for file in ctx.profile.lock_files() {
        let path = ctx.lock_path(1, "main", &file);
        let entry = ctx.entry(&path).with_context(|| {
            format!(
                "expected the supervisor's lock at {}, found nothing",
                path.display()
            )
        })?;
        ensure!(
            entry.kind == EntryKind::File,
            "expected a regular file at {}",
            path.display()
        );
        ensure!(
            entry.uid == want,
            "expected {} owned by uid {want}, saw uid {}",
            path.display(),
            entry.uid
        );
    }
    ctx.resume()?;
    ctx.wait_applied()
}

/// an empty directory at a lock path is a held lock; from 14.0.15 force can remove it (14.0.10
/// tried only on EPERM, Linux says EISDIR); 7.0.0 - 14.0.14 it stays and blocks even a forced
/// update; before 7.0.0 force skips the locks and the directory stays
#[case(
    id = "L5",
    title = "directories",
    promise = |_| Promise::Pass
)]
fn l5_directories(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    ctx.files().mkdir_all(&lock)?;
    let before = ctx.kill_snapshot()?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_pending()?;
    ctx.ensure_not_killed(&before, 1)?;
    ensure!(
        ctx.update_now(true)? == 204,
        "a forced update (POST /v1/update force) was not accepted with 204"
    );
    if ctx.profile.force_skips_locks() {
        ctx.wait_applied()?;
        ensure!(
            is_dir(ctx, &lock),
            "expected the directory to stay (force skips the locks on this version)"
        );
    } else if ctx.profile.directory_lock_removable() {
        ctx.wait_applied()?;
        ensure!(
            !ctx.held(&lock),
            "expected force to remove the directory lock"
        );
    } else {
        ctx.wait_pending()?;
        ctx.ensure_not_killed(&before, 1)?;
        ensure!(
            is_dir(ctx, &lock),
            "expected the directory lock to survive force on this version"
        );
        ctx.files().remove(&lock)?;
        ctx.wait_applied()?;
    }
    Ok(())
}

/// a symlink at a lock path is held (taking a lock never follows it) and its target is never
/// read, changed or deleted; force removes the link itself, except 16.2.0 - 16.2.8 where a
/// dangling link puts every take, even forced, in an error loop (hazard)
#[case(
    id = "L6",
    title = "symlinks",
    promise = |p| Promise::hazard_if(p.own_lock_scan_follows_links())
)]
fn l6_symlinks(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.primary_path("main");
    let dir = lock.parent().context("lock dir")?.to_path_buf();
    // Relative link targets beside the lock: they resolve to the same file
    // for the supervisor, the service and the suite, whatever each mounts.
    let dangling_name = "lockcheck-link-target";
    let dangling = dir.join(dangling_name);
    ctx.files().symlink(dangling_name, &lock)?;
    let before = ctx.kill_snapshot()?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_pending()
        .context("a dangling symlink at the lock path must block")?;
    ctx.ensure_not_killed(&before, 1)?;
    ensure!(
        !ctx.held(&dangling),
        "expected the link target never to be created, but {} exists",
        dangling.display()
    );
    // A link to a real file: held, and the file is left alone.
    // Swap the link atomically (rename over it): a moment without any
    // entry would let the supervisor take the lock and go on.
    let real_name = "lockcheck-real-file";
    let real = dir.join(real_name);
    ctx.files().write(&real, b"keep")?;
    let staged = lock.with_extension("staged");
    ctx.files().symlink(real_name, &staged)?;
    ctx.files().rename(&staged, &lock)?;
    ctx.wait_pending()
        .context("a symlink to a file at the lock path must block")?;
    ctx.ensure_not_killed(&before, 1)?;
    ctx.files().remove(&lock)?;
    ctx.wait_applied()?;
    ensure!(
        ctx.files().read(&real)?.as_deref() == Some(&b"keep"[..]),
        "expected the link target untouched"
    );
    // Force against a dangling link.
    ctx.files().symlink(dangling_name, &lock)?;
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_pending()?;
    ensure!(
        ctx.update_now(true)? == 204,
        "a forced update (POST /v1/update force) was not accepted with 204"
    );
    if ctx.profile.own_lock_scan_follows_links() {
        // Documented hazard: the scan stat()s the link and fails, forced or not.
        ctx.wait_pending().context(
            "expected a forced update to stay failed behind a dangling link (16.2.0 - 16.2.8)",
        )?;
        ctx.files().remove(&lock)?;
        ctx.wait_applied()?;
    } else {
        ctx.wait_applied()
            .context("expected force to remove the dangling link and apply")?;
    }
    ensure!(
        !ctx.held(&dangling),
        "expected the link target never to be created, but {} exists",
        dangling.display()
    );
    Ok(())
}

/// Whether a directory is at `path`.
fn is_dir(ctx: &Ctx, path: &std::path::Path) -> bool {
    ctx.entry(path).is_some_and(|e| e.kind == EntryKind::Dir)
}

/// a lock in any one service blocks the whole release: no service of that app is killed or
/// restarted; other apps are not affected
#[case(
    id = "L7",
    title = "multicontainer",
    promise = |_| Promise::Pass
)]
fn l7_multicontainer(ctx: &mut Ctx) -> CaseResult {
    ctx.set_app(1, &[("a", Svc::idle()), ("b", Svc::idle())]);
    ctx.set_app(2, &[("c", Svc::idle())]);
    ctx.deploy()?;
    ctx.wait_applied()?;
    let lock = ctx.lock_path(1, "b", &ctx.primary());
    ctx.user_lock(&lock)?;
    let before = ctx.kill_snapshot()?;
    ctx.bump(1);
    ctx.bump(2);
    ctx.deploy()?;
    let commit2 = ctx.state.apps[&2].commit.clone();
    ctx.wait_for("the unlocked app 2 to update", || {
        Ok(ctx
            .containers()?
            .iter()
            .any(|c| c.app_id == 2 && c.commit == commit2 && c.running)
            .then_some(()))
    })?;
    ctx.wait_pending()?;
    ctx.ensure_not_killed(&before, 1)?;
    ensure!(ctx.held(&lock), "expected the user's lock to stay");
    ctx.release_lock(&lock)?;
    ctx.wait_applied()
}

/// if taking the locks fails part-way, the supervisor releases every lock it took and never
/// removes the user's lock
#[case(
    id = "L8",
    title = "rollback",
    promise = |_| Promise::Pass
)]
fn l8_rollback(ctx: &mut Ctx) -> CaseResult {
    ctx.set_app(
        1,
        &[("a", Svc::idle()), ("b", Svc::idle()), ("c", Svc::idle())],
    );
    ctx.deploy()?;
    ctx.wait_applied()?;
    // Locks in b and c: the take gets through a's locks, then fails at b.
    let files = ctx.profile.lock_files();
    let service_file = files
        .iter()
        .find(|f| f.location == lockgates::LockLocation::ServiceDir)
        .copied()
        .unwrap_or(files[0]);
    let mut user: Vec<_> = ["b", "c"]
        .iter()
        .map(|s| ctx.lock_path(1, s, &service_file))
        .collect();
    user.dedup(); // a profile with only the app-wide /data lock
    for path in &user {
        ctx.user_lock(path)?;
    }
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_pending()?;
    for service in ["a", "b", "c"] {
        for file in &files {
            let path = ctx.lock_path(1, service, file);
            let is_user = user.contains(&path);
            ensure!(
                ctx.held(&path) == is_user,
                "after the failed take expected {} to be {}, but it is {}",
                path.display(),
                if is_user {
                    "the user's lock, still there"
                } else {
                    "free (released by the rollback)"
                },
                if ctx.held(&path) { "held" } else { "gone" }
            );
        }
    }
    for path in &user {
        ctx.release_lock(path)?;
    }
    ctx.wait_applied()
}

/// two concurrent lock-taking operations on the same app never interleave: the second waits its
/// turn; from 16.7.8 an API caller waits at most 10 s and then gets 423 'Locks for app X are
/// being held by another supervisor operation'
#[case(
    id = "L9",
    title = "one operation per app",
    promise = |_| Promise::Pass,
    needs = [PauseHook]
)]
fn l9_one_operation_per_app(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let api = ctx.api().clone();
    let first = std::thread::spawn(move || api.post("/v2/applications/1/restart", &json!({})));
    ctx.wait_paused()?;
    let api = ctx.api().clone();
    let second = std::thread::spawn(move || api.post("/v2/applications/1/restart", &json!({})));
    if ctx.profile.app_lock_wait_423() {
        let (status, body) = second.join().ok().context("second restart thread")??;
        ensure!(
            status == 423,
            "expected 423 for the second restart while the first holds the app: {status} {body}"
        );
        ensure!(
            body.to_string()
                .contains("being held by another supervisor operation"),
            "expected the 16.7.8 message, got {body}"
        );
        ctx.resume()?;
    } else {
        // The second waits its turn: it cannot have finished while the
        // first is paused holding the app. Nothing announces "still
        // waiting", so watch it for the settle window.
        std::thread::sleep(ctx.patience.settle);
        ensure!(
            !second.is_finished(),
            "expected the second restart to wait while the first holds the app"
        );
        ctx.resume()?;
        ctx.wait_paused()?;
        ctx.resume()?;
        let (status, body) = second.join().ok().context("second restart thread")??;
        ensure!(
            status == 200,
            "expected the second restart to succeed after the first, got HTTP {status}: {body}"
        );
    }
    let (status, body) = first.join().ok().context("first restart thread")??;
    ensure!(
        status == 200,
        "expected the first restart to succeed, got HTTP {status}: {body}"
    );
    ctx.wait_applied()
}
