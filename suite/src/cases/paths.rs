//! P1-P5: where the lock lives, per profile.

use anyhow::{ensure, Context};
use lockgates::LockFile;

use super::blocks_until_released;
use super::tmp_lock;
use crate::case::CaseResult;
use crate::ctx::Ctx;
use crate::outcome::Promise;
use lockcheck_macros::case;

/// exactly the paths of SPEC section 2 block, per profile
#[case(
    id = "P1",
    title = "honoured paths",
    promise = |_| Promise::Pass
)]
fn p1_honoured_paths(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    for file in ctx.profile.lock_files() {
        let lock = ctx.lock_path(1, "main", &file);
        ctx.user_lock(&lock)?;
        blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
            .with_context(|| format!("lock at {}", file.service_path))?;
    }
    Ok(())
}

/// every other candidate path is ignored (e.g. /tmp/balena/updates.lock on 6.x, /data/resin-
/// updates.lock on OS 2.x)
#[case(
    id = "P2",
    title = "ignored paths",
    promise = |p| Promise::applies_if(!p.ignored_lock_files().is_empty(), Promise::Pass)
)]
fn p2_ignored_paths(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    for file in ctx.profile.ignored_lock_files() {
        let lock = ctx.lock_path(1, "main", &file);
        ctx.user_lock(&lock)?;
        ctx.bump(1);
        ctx.deploy()?;
        ctx.wait_applied().with_context(|| {
            format!("a lock at the ignored {} must not block", file.service_path)
        })?;
        ensure!(
            ctx.held(&lock),
            "expected the ignored lock at {} left alone",
            file.service_path
        );
        ctx.release_lock(&lock)?;
    }
    Ok(())
}

/// the /data lock survives reboots, so the supervisor clears it every time it starts: an app
/// that locked before then wrongly believes it is protected (issue #20)
#[case(
    id = "P3",
    title = "/data cleared at start",
    promise = |p| Promise::applies_if(p.clears_data_lock_at_start(), Promise::Hazard),
    needs = [Restart]
)]
fn p3_data_cleared_at_start(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = ctx.lock_path(1, "main", &LockFile::DATA);
    ctx.user_lock(&lock)?;
    ctx.restart_supervisor(false)?;
    ctx.wait_for("the supervisor to clear the /data lock at start", || {
        Ok((!ctx.held(&lock)).then_some(()))
    })
}

/// /tmp locks live on tmpfs: a device reboot clears them
#[case(
    id = "P4",
    title = "reboot clears /tmp",
    promise = |p| Promise::applies_if(tmp_lock(p).is_some(), Promise::Pass)
)]
fn p4_reboot_clears_tmp(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let file = tmp_lock(&ctx.profile).context("profile has no /tmp lock")?;
    let lock = ctx.lock_path(1, "main", &file);
    ctx.user_lock(&lock)?;
    let boot = ctx.boot_id()?;
    let status = ctx.post_force("/v1/reboot", true)?;
    ensure!(
        status == 202,
        "expected a forced reboot to answer 202, got {status}"
    );
    ctx.wait_for("the device to reboot", || {
        Ok((ctx.boot_id()? != boot).then_some(()))
    })?;
    ctx.wait_applied()?;
    ensure!(
        !ctx.held(&lock),
        "expected the reboot to clear {}",
        file.service_path
    );
    Ok(())
}

/// services get RESIN_APP_LOCK_PATH (>= 7.0.0) and BALENA_APP_LOCK_PATH (>= 7.22.0); in the
/// process runtime they name the host path
#[case(
    id = "P5",
    title = "lock env vars",
    promise = |_| Promise::Pass
)]
fn p5_lock_env_vars(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let start = ctx.wait_started(1, "main")?;
    let env = start
        .rest
        .get("env")
        .and_then(|e| e.as_object())
        .context("start record has no env")?;
    let promised = ctx.profile.lock_env_vars();
    for name in ["RESIN_APP_LOCK_PATH", "BALENA_APP_LOCK_PATH"] {
        let want = promised.iter().find(|(n, _)| *n == name);
        let got = env.get(name).and_then(|v| v.as_str());
        match (want, got) {
            (None, None) => {}
            (None, Some(v)) => anyhow::bail!("expected no {name} on this profile, saw {v}"),
            (Some(_), None) => anyhow::bail!("expected {name}, the service has none"),
            (Some((_, path)), Some(v)) => {
                let file = LockFile::ALL
                    .into_iter()
                    .find(|f| f.service_path == *path)
                    .unwrap();
                let host = ctx.lock_path(1, "main", &file);
                ensure!(
                    v == *path || std::path::Path::new(v) == host,
                    "expected {name}={path} (or host path {}), saw {v}",
                    host.display()
                );
            }
        }
    }
    Ok(())
}
