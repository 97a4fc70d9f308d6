//! L7-L9: locks across services, partial takes and concurrent operations.

use anyhow::{ensure, Context};
use serde_json::json;

use crate::case;
use crate::outcome::Promise;
use crate::release::Svc;

case! {
    id: "L7",
    title: "multicontainer",
    spec: "a lock in any one service blocks the whole release: no service of that app is killed or restarted; other apps are not affected",
    promise: |_| Promise::Pass,
    needs: [],
    fn l7_multicontainer(ctx) {
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
            Ok(ctx.containers()?.iter().any(|c| c["appId"] == 2 && c["commit"] == json!(commit2) && c["status"] == "Running").then_some(()))
        })?;
        ctx.wait_pending()?;
        ctx.ensure_not_killed(&before, 1)?;
        ensure!(ctx.held(&lock), "expected the user's lock to stay");
        ctx.release_lock(&lock)?;
        ctx.wait_applied()
    }
}

case! {
    id: "L8",
    title: "rollback",
    spec: "if taking the locks fails part-way, the supervisor releases every lock it took and never removes the user's lock",
    promise: |_| Promise::Pass,
    needs: [],
    fn l8_rollback(ctx) {
        ctx.set_app(1, &[("a", Svc::idle()), ("b", Svc::idle()), ("c", Svc::idle())]);
        ctx.deploy()?;
        ctx.wait_applied()?;
        // Locks in b and c: the take gets through a's locks, then fails at b.
        let files = ctx.profile.lock_files();
        let service_file = files.iter().find(|f| f.location == lockgates::LockLocation::ServiceDir).copied().unwrap_or(files[0]);
        let mut user: Vec<_> = ["b", "c"].iter().map(|s| ctx.lock_path(1, s, &service_file)).collect();
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
                    if is_user { "the user's lock, still there" } else { "free (released by the rollback)" },
                    if ctx.held(&path) { "held" } else { "gone" }
                );
            }
        }
        for path in &user {
            ctx.release_lock(path)?;
        }
        ctx.wait_applied()
    }
}

case! {
    id: "L9",
    title: "one operation per app",
    spec: "two concurrent lock-taking operations on the same app never interleave: the second waits its turn; from 16.7.8 an API caller waits at most 10 s and then gets 423 'Locks for app X are being held by another supervisor operation'",
    promise: |_| Promise::Pass,
    needs: [PauseHook],
    fn l9_one_operation_per_app(ctx) {
        ctx.start_simple()?;
        let api = ctx.api().clone();
        let first = std::thread::spawn(move || api.post("/v2/applications/1/restart", &json!({})));
        ctx.wait_paused()?;
        let api = ctx.api().clone();
        let second = std::thread::spawn(move || api.post("/v2/applications/1/restart", &json!({})));
        if ctx.profile.app_lock_wait_423() {
            let (status, body) = second.join().ok().context("second restart thread")??;
            ensure!(status == 423, "expected the second restart to get 423 while the first holds the app, got HTTP {status}: {body}");
            ensure!(body.to_string().contains("being held by another supervisor operation"), "expected the 16.7.8 message, got {body}");
            ctx.resume()?;
        } else {
            // The second waits its turn: it cannot have finished while the
            // first is paused holding the app. Nothing announces "still
            // waiting", so watch it for the settle window.
            std::thread::sleep(ctx.patience.settle);
            ensure!(!second.is_finished(), "expected the second restart to wait while the first holds the app");
            ctx.resume()?;
            ctx.wait_paused()?;
            ctx.resume()?;
            let (status, body) = second.join().ok().context("second restart thread")??;
            ensure!(status == 200, "expected the second restart to succeed after the first, got HTTP {status}: {body}");
        }
        let (status, body) = first.join().ok().context("first restart thread")??;
        ensure!(status == 200, "expected the first restart to succeed, got HTTP {status}: {body}");
        ctx.wait_applied()
    }
}
