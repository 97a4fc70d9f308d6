//! O1-O4: overriding locks, permanently (config var) or once (force).

use anyhow::ensure;
use lockgates::{OverrideName, OverrideSource};

use super::{blocks_until_released, pending_behind_lock};
use crate::case::CaseResult;
use crate::ctx::Ctx;
use crate::outcome::Promise;
use lockcheck_macros::case;

/// Set or clear an override variable where the profile reads it.
pub(super) fn set_override(ctx: &mut Ctx, name: &OverrideName, value: Option<&str>) {
    match name.source {
        OverrideSource::Config => ctx.set_config(name.name, value),
        OverrideSource::AppEnv => ctx.set_env(1, "main", name.name, value),
    }
}

/// With the override set to `value`: a new release is applied and the user
/// lock deleted.
fn overridden(ctx: &mut Ctx, name: &OverrideName, value: &str) -> anyhow::Result<()> {
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    set_override(ctx, name, Some(value));
    ctx.bump(1);
    ctx.deploy()?;
    ctx.wait_applied()
        .map_err(|e| e.context(format!("{}={value} must override the lock", name.name)))?;
    ensure!(
        !ctx.held(&lock),
        "expected the override to delete the user's lock ({}={value})",
        name.name
    );
    set_override(ctx, name, None);
    ctx.deploy()?;
    ctx.wait_applied()
}

/// while the override config var is truthy, locks are ignored: existing user locks are deleted
/// and the update applied; after it is turned off, locks are respected again
#[case(
    id = "O1",
    title = "override config var",
    promise = |_| Promise::Pass
)]
fn o1_override_config_var(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let name = ctx.profile.override_names()[0];
    overridden(ctx, &name, "1")?;
    let lock = ctx.primary_path("main");
    ctx.user_lock(&lock)?;
    blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
}

/// RESIN_OVERRIDE_LOCK (app env var < 2.5.0, app config 2.5.0 - 6.x, device config from 7.0.0
/// except 9.2.7 - 9.6.3), RESIN_SUPERVISOR_OVERRIDE_LOCK (from 1.3.0), BALENA_ names from
/// 7.25.0 winning over their RESIN_ twins; when names disagree: before 9.6.4 either truthy
/// turns it on, from 9.6.4 a set legacy name decides
#[case(
    id = "O2",
    title = "override names",
    promise = |_| Promise::Pass
)]
fn o2_override_names(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let names = ctx.profile.override_names();
    for name in &names {
        overridden(ctx, name, "1")?;
    }
    // Every pair disagreeing both ways: the profile says who wins.
    for (i, a) in names.iter().enumerate() {
        for b in names.iter().skip(i + 1) {
            for (va, vb) in [("0", "1"), ("1", "0")] {
                let on = ctx.profile.override_active(|n| {
                    if n.name == a.name {
                        Some(va)
                    } else if n.name == b.name {
                        Some(vb)
                    } else {
                        None
                    }
                });
                set_override(ctx, a, Some(va));
                set_override(ctx, b, Some(vb));
                ctx.deploy()?;
                ctx.wait_applied()?;
                let what = format!("{}={va} with {}={vb}", a.name, b.name);
                if on {
                    let lock = ctx.primary_path("main");
                    ctx.user_lock(&lock)?;
                    ctx.bump(1);
                    ctx.deploy()?;
                    ctx.wait_applied()
                        .map_err(|e| e.context(format!("{what} must override the lock")))?;
                    ensure!(
                        !ctx.held(&lock),
                        "expected {what} to delete the user's lock"
                    );
                } else {
                    let lock = ctx.primary_path("main");
                    ctx.user_lock(&lock)?;
                    blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
                        .map_err(|e| e.context(format!("{what} must not override the lock")))?;
                }
                set_override(ctx, a, None);
                set_override(ctx, b, None);
                ctx.deploy()?;
                ctx.wait_applied()?;
            }
        }
    }
    Ok(())
}

/// the override is on for "1" always; "true" and "on" from 6.6.8; in any letter case from
/// 9.14.7
#[case(
    id = "O3",
    title = "truthy values",
    promise = |_| Promise::Pass
)]
fn o3_truthy_values(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let name = ctx.profile.override_names()[0];
    for value in ["1", "true", "on", "TRUE", "yes"] {
        if ctx.profile.override_truthy(value) {
            overridden(ctx, &name, value)?;
        } else {
            // Set first (an app env var restarts the service), then lock.
            set_override(ctx, &name, Some(value));
            ctx.deploy()?;
            ctx.wait_applied()?;
            let lock = ctx.primary_path("main");
            ctx.user_lock(&lock)?;
            blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
                .map_err(|e| e.context(format!("{value:?} is not truthy on this version")))?;
            set_override(ctx, &name, None);
            ctx.deploy()?;
            ctx.wait_applied()?;
        }
    }
    Ok(())
}

/// POST /v1/update {"force": true} (and from 7.21.0 a "force" in the local target state)
/// applies the pending update once, ignoring and deleting locks, without setting the config
/// var; the next update is blocked by a lock again
#[case(
    id = "O4",
    title = "one-time force",
    promise = |_| Promise::Pass
)]
fn o4_one_time_force(ctx: &mut Ctx) -> CaseResult {
    ctx.start_simple()?;
    let lock = pending_behind_lock(ctx)?;
    ensure!(
        ctx.update_now(true)? == 204,
        "a forced update (POST /v1/update force) was not accepted with 204"
    );
    ctx.wait_applied()?;
    ensure!(!ctx.held(&lock), "expected force to delete the user's lock");
    if let Some(config) = ctx.local_config()? {
        for name in ctx.profile.override_names() {
            ensure!(
                config.get(name.name).is_none(),
                "expected force not to set {}",
                name.name
            );
        }
    }
    ctx.user_lock(&lock)?;
    blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
        .map_err(|e| e.context("force must be one-time"))?;
    if !ctx.profile.local_target_force() {
        return Ok(());
    }
    // From 7.21.0 the local target state takes a one-time "force" too.
    ctx.user_lock(&lock)?;
    ctx.bump(1);
    ctx.deploy_with_force()?;
    ctx.wait_applied()
        .map_err(|e| e.context("a forced local target state must apply despite the lock"))?;
    ensure!(
        !ctx.held(&lock),
        "expected the forced local target state to delete the user's lock"
    );
    ctx.user_lock(&lock)?;
    blocks_until_released(ctx, &lock, |c| c.release_lock(&lock))
        .map_err(|e| e.context("the local target state's force must be one-time"))
}
